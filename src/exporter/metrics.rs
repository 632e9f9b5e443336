//! Metrics: the samples a probe produces, the exporter's own counters and the process metrics, exposed through
//! prometheus-client in the format the scraper asks for: OpenMetrics, or the classic text format 0.0.4
//! (prometheus-client's `prometheus_text` encoder), chosen from the `Accept` header as Prometheus' Go client
//! does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// A label set: (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

/// One metric family as a probe produced it.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub series: Vec<(Labels, f64)>,
}

/// Gauge or counter (a counter's samples carry the `_total` suffix on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// The samples of one probe (or of one /metrics scrape), in the order they were set.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub families: Vec<Family>,
}

impl Samples {
    /// Sets an unlabelled gauge (replacing an earlier value).
    pub fn gauge(&mut self, name: &'static str, help: &'static str, v: f64) {
        self.set(name, help, Kind::Gauge, Vec::new(), v);
    }

    /// Sets one labelled series of a gauge family (replacing the series with the same labels).
    pub fn gauge_with(&mut self, name: &'static str, help: &'static str, labels: Labels, v: f64) {
        self.set(name, help, Kind::Gauge, labels, v);
    }

    /// Sets one series of a counter family (`name` without `_total`).
    pub fn counter_with(&mut self, name: &'static str, help: &'static str, labels: Labels, v: f64) {
        self.set(name, help, Kind::Counter, labels, v);
    }

    fn set(&mut self, name: &'static str, help: &'static str, kind: Kind, labels: Labels, v: f64) {
        let fam = match self.families.iter_mut().position(|f| f.name == name) {
            Some(i) => &mut self.families[i],
            None => {
                self.families.push(Family {
                    name,
                    help,
                    kind,
                    series: Vec::new(),
                });
                self.families.last_mut().expect("just pushed")
            }
        };
        match fam.series.iter_mut().find(|(l, _)| *l == labels) {
            Some(s) => s.1 = v,
            None => fam.series.push((labels, v)),
        }
    }

    /// Adds `d` to one labelled gauge series (creating it at 0).
    pub fn add_with(&mut self, name: &'static str, help: &'static str, labels: Labels, d: f64) {
        let now = self.get_with(name, &labels).unwrap_or(0.0);
        self.set(name, help, Kind::Gauge, labels, now + d);
    }

    /// The value of an unlabelled series.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.get_with(name, &[])
    }

    /// The value of the series with exactly these labels.
    pub fn get_with(&self, name: &str, labels: &[(&'static str, String)]) -> Option<f64> {
        self.families
            .iter()
            .find(|f| f.name == name)?
            .series
            .iter()
            .find(|(l, _)| l.as_slice() == labels)
            .map(|s| s.1)
    }

    /// Appends another set's families.
    pub fn extend(&mut self, other: Samples) {
        self.families.extend(other.families);
    }
}

impl Collector for Samples {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = match f.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
            };
            let mut fam = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (labels, v) in &f.series {
                let enc = fam.encode_family(labels)?;
                match f.kind {
                    Kind::Gauge => ConstGauge::new(*v).encode(enc)?,
                    Kind::Counter => ConstCounter::new(*v).encode(enc)?,
                }
            }
        }
        Ok(())
    }
}

/// The two exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// Picks the format from an `Accept` header: OpenMetrics when it is accepted with a quality at least that of
/// `text/plain` (Prometheus asks for it first), the classic text format otherwise (curl, browsers, old
/// scrapers).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut om = 0.0f32;
    let mut text = 0.0f32;
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("").to_ascii_lowercase();
        let q = params
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => om = om.max(q),
            "text/plain" | "*/*" | "text/*" => text = text.max(q),
            _ => {}
        }
    }
    if om > 0.0 && om >= text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Encodes samples in the given format.
pub fn encode(samples: Samples, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(samples));
    encode_registry(&registry, format)
}

/// Encodes a registry in the given format.
pub fn encode_registry(registry: &Registry, format: Format) -> String {
    let mut out = String::with_capacity(2048);
    let r = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry),
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, registry),
    };
    if r.is_err() {
        out.push_str("# encoding failed\n");
    }
    out
}

/// A float held in an atomic, for counters and gauges the server updates from many tasks.
#[derive(Debug, Default)]
pub struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
}

/// The exporter's own metrics, served on /metrics: blackbox_exporter's names where a dashboard or alert may use
/// them, netdiag's for the rest.
#[derive(Debug, Default)]
pub struct Own {
    pub reload_ok: AtomicF64,
    pub reload_time: AtomicF64,
    pub unknown_module: AtomicU64,
    pub rejected: AtomicU64,
    pub bad_requests: AtomicU64,
    pub in_flight: AtomicU64,
    /// (module, prober, success) → count.
    pub probes: Mutex<Vec<(String, &'static str, bool, u64)>>,
}

impl Own {
    /// Counts one finished probe.
    pub fn probe_done(&self, module: &str, prober: &'static str, ok: bool) {
        let Ok(mut p) = self.probes.lock() else {
            return;
        };
        match p
            .iter_mut()
            .find(|(m, pr, s, _)| m == module && *pr == prober && *s == ok)
        {
            Some(e) => e.3 += 1,
            None => p.push((module.to_string(), prober, ok, 1)),
        }
    }

    /// The exporter's and the process's metrics now.
    pub fn samples(&self, cap: usize) -> Samples {
        let mut s = Samples::default();
        s.gauge_with(
            "netdiag_exporter_build_info",
            "netdiag exporter's version; the value is always 1",
            vec![("version", env!("CARGO_PKG_VERSION").to_string())],
            1.0,
        );
        s.gauge(
            "blackbox_exporter_config_last_reload_successful",
            "Blackbox exporter config loaded successfully",
            self.reload_ok.get(),
        );
        s.gauge(
            "blackbox_exporter_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload",
            self.reload_time.get(),
        );
        s.counter_with(
            "blackbox_module_unknown",
            "Count of unknown modules requested by probes",
            Vec::new(),
            self.unknown_module.load(Ordering::Relaxed) as f64,
        );
        s.counter_with(
            "netdiag_exporter_probes_rejected",
            "Probes refused with 503 because the concurrent-probe limit was reached",
            Vec::new(),
            self.rejected.load(Ordering::Relaxed) as f64,
        );
        s.counter_with(
            "netdiag_exporter_bad_requests",
            "Requests refused with 400 (missing or hostile target, unknown module, bad query string)",
            Vec::new(),
            self.bad_requests.load(Ordering::Relaxed) as f64,
        );
        s.gauge(
            "netdiag_exporter_probes_in_flight",
            "Probes running now",
            self.in_flight.load(Ordering::Relaxed) as f64,
        );
        s.gauge(
            "netdiag_exporter_probes_limit",
            "The most probes run at once (--max-concurrent)",
            cap as f64,
        );
        if let Ok(p) = self.probes.lock() {
            for (module, prober, ok, n) in p.iter() {
                s.counter_with(
                    "netdiag_exporter_probes",
                    "Probes run, by module, prober and result",
                    vec![
                        ("module", module.clone()),
                        ("prober", prober.to_string()),
                        (
                            "result",
                            if *ok { "success" } else { "failure" }.to_string(),
                        ),
                    ],
                    *n as f64,
                );
            }
        }
        process(&mut s);
        s
    }
}

/// The standard process metrics (as Prometheus' client libraries export them), read from /proc/self.
fn process(s: &mut Samples) {
    let (ticks, page) = crate::net::process::clock_ticks_and_page_size();
    let (ticks, page) = (ticks as f64, page as f64);
    if let Some(st) = read_stat() {
        s.counter_with(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            Vec::new(),
            (st.utime + st.stime) / ticks,
        );
        s.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            st.vsize,
        );
        s.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            st.rss * page,
        );
        if let Some(boot) = boot_time() {
            s.gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                boot + st.start / ticks,
            );
        }
    }
    if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
        s.gauge(
            "process_open_fds",
            "Number of open file descriptors",
            d.count() as f64,
        );
    }
    if let Ok(n) = crate::net::process::nofile_limit() {
        s.gauge(
            "process_max_fds",
            "Maximum number of open file descriptors",
            n as f64,
        );
    }
}

struct Stat {
    utime: f64,
    stime: f64,
    start: f64,
    vsize: f64,
    rss: f64,
}

/// Fields of /proc/self/stat after the command name (which may hold spaces and parentheses).
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // The fields after the name start at field 3 (state); utime is field 14, so index 11 here.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(Stat {
        utime: num(11)?,
        stime: num(12)?,
        start: num(19)?,
        vsize: num(20)?,
        rss: num(21)?,
    })
}

fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_from_one_set() {
        let mut s = Samples::default();
        s.gauge(
            "probe_success",
            "Displays whether or not the probe was a success",
            1.0,
        );
        s.gauge_with(
            "probe_http_duration_seconds",
            "Duration of http request by phase, summed over all redirects",
            vec![("phase", "connect".into())],
            0.25,
        );
        s.add_with(
            "probe_http_duration_seconds",
            "",
            vec![("phase", "connect".into())],
            0.25,
        );
        s.counter_with("blackbox_module_unknown", "Count", Vec::new(), 3.0);
        let om = encode(s.clone(), Format::OpenMetrics);
        assert!(
            om.contains("# TYPE probe_success gauge\nprobe_success 1"),
            "{om}"
        );
        assert!(
            om.contains("probe_http_duration_seconds{phase=\"connect\"} 0.5"),
            "{om}"
        );
        assert!(
            om.contains("# TYPE blackbox_module_unknown counter\nblackbox_module_unknown_total 3")
        );
        assert!(om.ends_with("# EOF\n"));
        let text = encode(s, Format::Text);
        assert!(
            text.contains("# TYPE blackbox_module_unknown_total counter"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn prometheus_gets_openmetrics_and_curl_gets_text() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(
            negotiate(Some(
                "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"
            )),
            Format::Text
        );
    }

    #[test]
    fn process_metrics_are_read() {
        let s = Own::default().samples(10);
        assert!(s.get("process_resident_memory_bytes").unwrap() > 0.0);
        assert!(s.get("process_open_fds").unwrap() >= 3.0);
        assert!(s.get("process_start_time_seconds").unwrap() > 1.0e9);
    }
}
