//! Ping as text: iputils' lines for one host (a line per reply, then the statistics) and fping's table for many.

use std::net::IpAddr;

use super::model::{HostResult, IcmpErrorReport, Method, PingReport, ReplyRecord};
use crate::exit::Outcome;
use crate::explain::Verdict;
use crate::render::{Column, Line, Report, Table, Tone, View};

/// TCP ping's ports as a sentence: `80, then 443`.
pub(crate) fn ports_text(ports: &[u16]) -> String {
    let v: Vec<String> = ports.iter().map(u16::to_string).collect();
    v.join(", then ")
}

/// Loss as ping prints it: `0`, `25`, `66.667`.
pub fn fmt_percent(p: f64) -> String {
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn fmt_rtt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// The iputils-style header line for one host: `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.`
pub fn header_line(
    host: &str,
    addr: IpAddr,
    size: usize,
    method: Method,
    tcp_ports: &[u16],
) -> String {
    match method {
        Method::Tcp => format!(
            "PING {host} ({addr}) TCP connect to port {}",
            ports_text(tcp_ports)
        ),
        Method::Icmp if addr.is_ipv6() => format!("PING {host} ({addr}) {size} data bytes"),
        Method::Icmp => format!("PING {host} ({addr}) {size}({}) bytes of data.", size + 28),
    }
}

/// The iputils-style line for one reply: `64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms`.
pub fn reply_line(address: IpAddr, r: &ReplyRecord) -> String {
    let t = r.rtt.as_secs_f64() * 1000.0;
    let time = if t < 1.0 {
        format!("{t:.3}")
    } else if t < 10.0 {
        format!("{t:.2}")
    } else {
        format!("{t:.1}")
    };
    let dup = if r.duplicate { " (DUP!)" } else { "" };
    match r.tcp_port {
        Some(port) => {
            let how = if r.refused == Some(true) {
                "refused"
            } else {
                "connected"
            };
            format!(
                "tcp {how} from {address}:{port}: seq={} time={time} ms{dup}",
                r.seq
            )
        }
        None => {
            let ttl = r.ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            format!(
                "{} bytes from {address}: icmp_seq={}{ttl} time={time} ms{dup}",
                r.bytes, r.seq
            )
        }
    }
}

/// The line for an ICMP error: `From 10.0.0.1 icmp_seq=1 Destination Host Unreachable`.
pub fn error_line(e: &IcmpErrorReport) -> String {
    format!(
        "From {} icmp_seq={} {}",
        e.from,
        e.seq,
        e.message.ping_words()
    )
}

impl Report for PingReport {
    fn outcome(&self) -> Outcome {
        Outcome::of(self.interrupted, self.all_alive())
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new();
        if let [h] = self.hosts.as_slice() {
            self.single_view(h, &mut v);
            v.table(self.hosts_table().data_only());
            return v;
        }
        v.table(self.hosts_table().omit_when_empty());
        let down_tone = if self.unreachable > 0 {
            Tone::Bad
        } else {
            Tone::Plain
        };
        let mut counts = Line::toned(format!("{} alive", self.alive), Tone::Good)
            .then(", ", Tone::Plain)
            .then(format!("{} unreachable", self.unreachable), down_tone);
        if self.unfinished > 0 {
            counts = counts.then(format!(", {} interrupted", self.unfinished), Tone::Warn);
        }
        v.line(counts.then(
            format!(
                " ({} hosts, {}, {})",
                self.hosts.len(),
                self.method_label(),
                crate::duration::fmt_ms(self.elapsed)
            ),
            Tone::Plain,
        ));
        if self.interrupted {
            v.line("interrupted: results so far");
        }
        v
    }
}

impl PingReport {
    /// One row per host (with `-q`, only the hosts that did not answer), as fping's summary.
    fn hosts_table(&self) -> Table {
        let mut t = Table::new([
            Column::left("HOST"),
            Column::left("ADDRESS"),
            Column::left("STATUS"),
            Column::right("SENT"),
            Column::right("RECV"),
            Column::right("LOSS"),
            Column::right("MIN ms"),
            Column::right("AVG ms"),
            Column::right("MAX ms"),
            Column::right("MDEV ms"),
            Column::text("DETAIL"),
        ]);
        let shown = self
            .hosts
            .iter()
            .filter(|h| !(self.failures_only && h.alive()));
        for h in shown {
            let r = h.rtt;
            let detail = match (&h.explanation, h.duplicates) {
                (Some(e), _) => e.cause.clone(),
                (None, d) if d > 0 => format!("+{d} duplicates"),
                _ => String::new(),
            };
            t.cell(&h.host)
                .cell(h.address.map_or_else(|| "-".into(), |a| a.to_string()))
                .cell_toned(h.status.as_str(), Tone::of(h.status))
                .num(h.sent)
                .num(h.received)
                .cell(if h.sent == 0 {
                    "-".to_string()
                } else {
                    format!("{}%", fmt_percent(h.loss_percent))
                })
                .cell(fmt_rtt(r.map(|r| r.min_ms)))
                .cell(fmt_rtt(r.map(|r| r.avg_ms)))
                .cell(fmt_rtt(r.map(|r| r.max_ms)))
                .cell(fmt_rtt(r.map(|r| r.mdev_ms)))
                .cell_toned(detail, Tone::Dim);
        }
        t
    }

    /// iputils' statistics for one host.
    fn single_view(&self, h: &HostResult, v: &mut View) {
        let Some(addr) = h.address else {
            // Never pinged: the name did not resolve.
            let (why, code) = h
                .explanation
                .as_ref()
                .map(|e| (e.sentence(), e.code.clone()))
                .unwrap_or_default();
            v.line(format!("{}: {}: {why} ({code})", h.host, h.status));
            return;
        };
        v.blank().line(format!(
            "--- {addr} ping statistics ({}) ---",
            self.method_label()
        ));
        let mut line = format!("{} packets transmitted, {} received", h.sent, h.received);
        if h.duplicates > 0 {
            line.push_str(&format!(", +{} duplicates", h.duplicates));
        }
        if h.errors > 0 {
            line.push_str(&format!(", +{} errors", h.errors));
        }
        if h.unfinished > 0 {
            line.push_str(&format!(", +{} unfinished", h.unfinished));
        }
        line.push_str(&format!(
            ", {}% packet loss, time {}ms",
            fmt_percent(h.loss_percent),
            self.elapsed.as_millis()
        ));
        v.line(line);
        if let Some(r) = &h.rtt {
            v.line(format!(
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                r.min_ms, r.avg_ms, r.max_ms, r.mdev_ms
            ));
        }
        match &h.explanation {
            Some(e) if h.status == Verdict::Interrupted => {
                v.line(format!("{}: {}", h.status, e.cause));
            }
            Some(e) => {
                v.line(format!("{}: {} ({})", h.status, e.sentence(), e.code));
            }
            None => {}
        }
        if self.interrupted {
            v.line("interrupted: statistics so far");
        }
    }
}
