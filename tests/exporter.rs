//! `netdiag exporter` as a server: blackbox_exporter's HTTP interface (400s in its words, debug output, the
//! scrape-timeout header, /metrics, reload by POST and SIGHUP, the 503 cap) through the real binary on
//! loopback, and a real Prometheus (Debian's `prometheus`) scraping it every second inside a namespace of the
//! test's own whose resolver is the test's DNS responder, queried through its HTTP API.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running `netdiag exporter`; its stderr lines are collected. Killed (by pid) on drop.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Exporter {
    fn start(cmd: Command) -> Exporter {
        let mut cmd = cmd;
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start netdiag exporter");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.split("address=").nth(1) {
                    let _ = tx.send(a.trim().to_string());
                }
                l.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("exporter did not start: {:?}", lines.lock().unwrap()));
        Exporter {
            child,
            addr: addr.parse().unwrap(),
            lines,
        }
    }

    fn on_loopback(config: Option<&std::path::Path>, extra: &[&str]) -> Exporter {
        let mut c = common::netdiag();
        c.args(["exporter", "--listen", "127.0.0.1:0"]);
        if let Some(p) = config {
            c.arg("--config").arg(p);
        }
        c.args(extra);
        Exporter::start(c)
    }

    /// On loopback with a blackbox.yml of `text` (in the directory returned with it) and more arguments.
    fn with_config(text: &str, extra: &[&str]) -> (Exporter, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let e = Exporter::on_loopback(Some(&write_config(&dir, text)), extra);
        (e, dir)
    }

    fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, &[])
    }

    /// The log lines holding `word`, once there are at least `n` (the reader thread may lag the response).
    fn wait_log(&self, word: &str, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let l = self.log_lines(word);
            if l.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return l;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_lines(&self, word: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(word))
            .cloned()
            .collect()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request (Connection: close); returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    try_http(addr, method, path, headers).expect("connect")
}

/// [`http`], or None when nothing listens yet.
fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

/// The value of the first sample line starting with `prefix` (name and labels as printed).
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// An HTTP server answering 200 to everything, `max` connections, keep nothing.
fn web(max: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..max {
            let Ok((mut s, _)) = l.accept() else { return };
            thread::spawn(move || {
                let mut b = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.read(&mut b);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    port
}

/// A server that accepts and never answers (held connections are dropped when the test ends).
fn silent() -> (u16, Arc<Mutex<Vec<TcpStream>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    thread::spawn(move || {
        for _ in 0..50 {
            let Ok((s, _)) = l.accept() else { return };
            h.lock().unwrap().push(s);
        }
    });
    (port, held)
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("blackbox.yml");
    std::fs::write(&p, text).unwrap();
    p
}

const MODULES: &str = "modules:
  http_2xx:
    prober: http
    timeout: 5s
  tcp_connect:
    prober: tcp
    timeout: 5s
  vhost:
    prober: http
    http:
      headers:
        Host: configured.test
  slow:
    prober: tcp
    tcp:
      query_response:
        - expect: never
  capped:
    prober: tcp
    timeout: 1s
    tcp:
      query_response:
        - expect: never
";

#[test]
fn probe_answers_like_blackbox() {
    let (e, _dir) = Exporter::with_config(MODULES, &[]);
    let port = web(10);
    let closed = common::closed_port();

    // Module defaults to http_2xx; the classic text format unless OpenMetrics is asked for.
    let (code, body) = e.get(&format!("/probe?target=127.0.0.1:{port}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(value(&body, "probe_success "), Some(1.0), "{body}");
    assert_eq!(value(&body, "probe_http_status_code "), Some(200.0));
    assert!(!body.contains("# EOF"));
    let (_, om) = http(
        e.addr,
        "GET",
        &format!("/probe?module=tcp_connect&target=127.0.0.1:{closed}"),
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(value(&om, "probe_success "), Some(0.0));
    assert_eq!(
        value(
            &om,
            "probe_failure_info{layer=\"connect\",code=\"ECONNREFUSED\"} "
        ),
        Some(1.0),
        "{om}"
    );
    let failed = e.wait_log("msg=\"Probe failed\"", 1);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("module=tcp_connect") && failed[0].contains("code=ECONNREFUSED"));

    // 400s in blackbox's words, each with one log line.
    assert_eq!(
        e.get("/probe?module=tcp_connect"),
        (400, "Target parameter is missing\n".into())
    );
    assert_eq!(
        e.get("/probe?target=x&module=nope"),
        (400, "Unknown module \"nope\"\n".into())
    );
    let (code, body) = e.get("/probe?module=tcp_connect&target=127.0.0.1:80%0d%0aX-Evil:%201");
    assert_eq!(code, 400);
    assert!(body.contains("control character"), "{body}");
    let (code, body) = e.get("/probe?target=%zz");
    assert_eq!(code, 400);
    assert!(body.contains("invalid URL escape"), "{body}");
    let (code, body) = e.get(&format!(
        "/probe?module=vhost&target=127.0.0.1:{port}&hostname=other.test"
    ));
    assert_eq!(code, 400);
    assert!(body.contains("host header defined both in module configuration (configured.test) and with URL-parameter 'hostname' (other.test)"), "{body}");
    let long = "a".repeat(3000);
    assert_eq!(
        e.get(&format!("/probe?module=tcp_connect&target={long}")).0,
        400
    );
    assert_eq!(e.wait_log("msg=\"Bad probe request\"", 6).len(), 6);
    assert!(e
        .log_lines("msg=\"Bad probe request\"")
        .iter()
        .all(|l| !l.contains("X-Evil: 1\n")));

    // debug=true: the log, the metrics, the module.
    let (code, body) = e.get(&format!(
        "/probe?module=tcp_connect&target=127.0.0.1:{closed}&debug=true"
    ));
    assert_eq!(code, 200);
    for part in [
        "Logs for the probe:",
        "Metrics that would have been returned:",
        "Module configuration:",
        "prober: tcp",
        "ECONNREFUSED",
    ] {
        assert!(body.contains(part), "{part}: {body}");
    }

    // /metrics, /-/healthy, 404.
    let (code, m) = e.get("/metrics");
    assert_eq!(code, 200);
    assert_eq!(
        value(&m, "blackbox_module_unknown_total "),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(&m, "blackbox_exporter_config_last_reload_successful "),
        Some(1.0)
    );
    assert_eq!(value(&m, "netdiag_exporter_bad_requests_total "), Some(6.0));
    assert!(value(&m, "process_resident_memory_bytes ").unwrap() > 0.0);
    assert!(value(&m, "process_cpu_seconds_total ").is_some());
    assert_eq!(
        value(&m, "netdiag_exporter_probes_total{module=\"tcp_connect\",prober=\"tcp\",result=\"failure\"} "),
        Some(2.0),
        "{m}"
    );
    assert_eq!(e.get("/-/healthy"), (200, "Healthy\n".into()));
    assert_eq!(e.get("/nothing").0, 404);
}

#[test]
fn probe_timeout_is_the_scrape_timeout_less_the_offset_capped_by_the_module() {
    let (e, _dir) = Exporter::with_config(MODULES, &["--timeout-offset", "0.5"]);
    let (port, _held) = silent();
    let seconds = |module: &str, scrape: &str| {
        let (code, body) = http(
            e.addr,
            "GET",
            &format!("/probe?module={module}&target=127.0.0.1:{port}"),
            &[("X-Prometheus-Scrape-Timeout-Seconds", scrape)],
        );
        assert_eq!(code, 200, "{body}");
        assert_eq!(value(&body, "probe_success "), Some(0.0));
        assert!(body.contains("code=\"timeout\""), "{body}");
        value(&body, "probe_duration_seconds ").unwrap()
    };
    // 2 s scrape timeout, 0.5 s offset: 1.5 s; a module timeout of 1 s caps a 10 s scrape timeout (upper bounds
    // are generous for a loaded machine, and far below the 9.5 s the header alone would allow).
    let t = seconds("slow", "2");
    assert!((1.4..3.0).contains(&t), "{t}");
    let t = seconds("capped", "10");
    assert!((0.9..2.5).contains(&t), "{t}");
    let (code, body) = http(
        e.addr,
        "GET",
        &format!("/probe?module=slow&target=127.0.0.1:{port}"),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "soon")],
    );
    assert_eq!(code, 500);
    assert!(
        body.starts_with("Failed to parse timeout from Prometheus header"),
        "{body}"
    );
}

#[test]
fn reload_by_post_and_by_sighup_and_a_bad_file_keeps_the_old_modules() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, "modules:\n  one:\n    prober: tcp\n");
    let e = Exporter::on_loopback(Some(&path), &[]);
    let target = format!("127.0.0.1:{}", e.addr.port());
    assert_eq!(e.get(&format!("/probe?module=two&target={target}")).0, 400);
    assert_eq!(
        e.get("/-/reload"),
        (405, "This endpoint requires a POST request.\n".into())
    );

    std::fs::write(&path, "modules:\n  two:\n    prober: tcp\n").unwrap();
    assert_eq!(http(e.addr, "POST", "/-/reload", &[]).0, 200);
    let (code, body) = e.get(&format!("/probe?module=two&target={target}"));
    assert_eq!(
        (code, value(&body, "probe_success ")),
        (200, Some(1.0)),
        "{body}"
    );

    std::fs::write(
        &path,
        "modules:\n  three:\n    prober: tcp\n    tcp:\n      proxy_url: x\n",
    )
    .unwrap();
    let (code, body) = http(e.addr, "POST", "/-/reload", &[]);
    assert_eq!(code, 500);
    assert!(
        body.starts_with("failed to reload config:") && body.contains("proxy_url"),
        "{body}"
    );
    assert_eq!(
        e.get(&format!("/probe?module=two&target={target}")).0,
        200,
        "old modules kept"
    );
    let (_, m) = e.get("/metrics");
    assert_eq!(
        value(&m, "blackbox_exporter_config_last_reload_successful "),
        Some(0.0)
    );

    std::fs::write(&path, "modules:\n  four:\n    prober: tcp\n").unwrap();
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(e.child.id() as i32, libc::SIGHUP) };
    let start = Instant::now();
    while e.get(&format!("/probe?module=four&target={target}")).0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "SIGHUP did not reload"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(e.get(&format!("/probe?module=two&target={target}")).0, 400);
}

/// Starts `n` probes of a silent server (each runs until its 4 s timeout) and waits until all are in flight.
fn slow_probes(e: &Exporter, port: u16, n: usize) -> Vec<thread::JoinHandle<(u16, String)>> {
    let addr = e.addr;
    let handles = (0..n)
        .map(|_| {
            thread::spawn(move || {
                http(
                    addr,
                    "GET",
                    &format!("/probe?module=slow&target=127.0.0.1:{port}"),
                    &[("X-Prometheus-Scrape-Timeout-Seconds", "4.5")],
                )
            })
        })
        .collect();
    let start = Instant::now();
    loop {
        let (_, m) = e.get("/metrics");
        if value(&m, "netdiag_exporter_probes_in_flight ") == Some(n as f64) {
            return handles;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{m}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cap_on_concurrent_probes_gives_503_and_slow_probes_do_not_block_fast_ones() {
    let (e, _dir) = Exporter::with_config(MODULES, &["--max-concurrent", "2"]);
    let (port, _held) = silent();
    let slow = slow_probes(&e, port, 2);
    let (code, body) = e.get(&format!(
        "/probe?module=tcp_connect&target=127.0.0.1:{port}"
    ));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("--max-concurrent"), "{body}");
    for h in slow {
        let (code, body) = h.join().unwrap();
        assert_eq!((code, value(&body, "probe_success ")), (200, Some(0.0)));
    }
    let (_, m) = e.get("/metrics");
    assert_eq!(
        value(&m, "netdiag_exporter_probes_rejected_total "),
        Some(1.0)
    );

    // With room, a fast probe is answered while slow ones are still running.
    let (e, _dir) = Exporter::with_config(MODULES, &[]);
    let slow = slow_probes(&e, port, 4);
    let (code, body) = e.get(&format!("/probe?module=tcp_connect&target={}", e.addr));
    assert_eq!((code, value(&body, "probe_success ")), (200, Some(1.0)));
    assert_eq!(
        value(&e.get("/metrics").1, "netdiag_exporter_probes_in_flight "),
        Some(4.0),
        "the slow probes were still running when the fast one was answered"
    );
    for h in slow {
        assert_eq!(h.join().unwrap().0, 200);
    }
}

/// A process started inside a namespace, killed by pid on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port inside the namespace (bound and released there).
fn free_port(ns: &common::NetNs) -> u16 {
    ns.enter(|| {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
}

/// Prometheus' instant query, run from inside the namespace; the JSON result (null while Prometheus is not
/// listening yet).
fn query(ns: &common::NetNs, port: u16, q: &str) -> serde_json::Value {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let path = format!("/api/v1/query?query={enc}");
    let Some((code, body)) =
        ns.enter(move || try_http(SocketAddr::from(([127, 0, 0, 1], port)), "GET", &path, &[]))
    else {
        return serde_json::Value::Null;
    };
    if code == 503 {
        return serde_json::Value::Null; // starting up
    }
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// (instance, labels, value) of each series in a query result.
fn series(v: &serde_json::Value) -> Vec<(String, serde_json::Value, f64)> {
    v["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["metric"]["instance"].as_str().unwrap_or("").to_string(),
                        s["metric"].clone(),
                        s["value"][1]
                            .as_str()
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_probes_and_sees_why_they_failed() {
    if !common::can_netns("prometheus_scrapes_probes_and_sees_why_they_failed")
        || !common::need_tool(
            "prometheus_scrapes_probes_and_sees_why_they_failed",
            "prometheus",
            "prometheus",
        )
    {
        return;
    }
    let dns = common::DnsNs::new("prom", &[("web.test", "127.0.0.1")]);
    let ns = &dns.ns;
    let live = ns.listen("127.0.0.1:0");
    let live_port = live.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..2000 {
            let Ok((mut s, _)) = live.accept() else {
                return;
            };
            let mut b = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read(&mut b);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let closed_port = free_port(ns);
    let exporter_port = free_port(ns);
    let prom_port = free_port(ns);
    let dir = tempfile::tempdir().unwrap();
    let mut c = ns.netdiag();
    c.args([
        "exporter",
        "--listen",
        &format!("127.0.0.1:{exporter_port}"),
    ]);
    let _exporter = Exporter::start(c);
    let live_url = format!("http://web.test:{live_port}/");
    let closed_url = format!("http://127.0.0.1:{closed_port}/");
    let nowhere = "http://nothing.test/".to_string();
    // A blackbox job: the targets become the probe's `target` parameter, scraped through the exporter.
    let job = |name: &str, module: &str, targets: &str, more: &str| {
        format!(
            "  - job_name: {name}
    metrics_path: /probe
    params:
      module: [{module}]
    static_configs:
      - targets: [{targets}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{exporter_port}
{more}"
        )
    };
    let scrape = format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
{}{}",
        job(
            "blackbox_http",
            "http_2xx",
            &format!("'{live_url}', '{closed_url}', '{nowhere}'"),
            "      - target_label: site\n        replacement: test-site\n"
        ),
        job("diagnose", "diagnose", &format!("'{live_url}'"), "")
    );
    std::fs::write(dir.path().join("prometheus.yml"), scrape).unwrap();
    let mut p = Command::new("ip");
    p.args(["netns", "exec", &ns.name, "prometheus"])
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _prom = Proc(p.spawn().expect("start prometheus"));

    // Wait (bounded) until Prometheus has scraped every target and stored both metrics.
    let start = Instant::now();
    let (success, info) = loop {
        let s = series(&query(
            ns,
            prom_port,
            "probe_success{job=\"blackbox_http\"}",
        ));
        let i = series(&query(ns, prom_port, "probe_failure_info"));
        let steps = series(&query(
            ns,
            prom_port,
            "probe_step_success{job=\"diagnose\"}",
        ));
        if s.len() == 3 && i.len() == 2 && steps.len() == 4 {
            break (s, i);
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Prometheus saw {s:?} and {i:?}"
        );
        thread::sleep(Duration::from_millis(500));
    };
    let of = |inst: &str| success.iter().find(|s| s.0 == inst).map(|s| s.2);
    assert_eq!(of(&live_url), Some(1.0), "{success:?}");
    assert_eq!(of(&closed_url), Some(0.0), "{success:?}");
    assert_eq!(of(&nowhere), Some(0.0), "{success:?}");
    assert!(success.iter().all(|s| s.1["site"] == "test-site"));
    let why = |inst: &str| {
        info.iter().find(|s| s.0 == inst).map(|s| {
            (
                s.1["layer"].as_str().unwrap_or("").to_string(),
                s.1["code"].as_str().unwrap_or("").to_string(),
                s.2,
            )
        })
    };
    assert_eq!(
        why(&closed_url),
        Some(("connect".into(), "ECONNREFUSED".into(), 1.0)),
        "{info:?}"
    );
    assert_eq!(
        why(&nowhere),
        Some(("resolve".into(), "EAI_NONAME".into(), 1.0)),
        "{info:?}"
    );
    assert_eq!(why(&live_url), None, "a live target has no failure info");
    // The diagnose prober's steps, as Prometheus stored them.
    let steps = series(&query(
        ns,
        prom_port,
        "probe_step_success{job=\"diagnose\"}",
    ));
    let step = |name: &str| steps.iter().find(|s| s.1["step"] == name).map(|s| s.2);
    assert_eq!(step("resolve"), Some(1.0), "{steps:?}");
    assert_eq!(step("connect"), Some(1.0), "{steps:?}");
    assert_eq!(step("talk"), Some(1.0), "{steps:?}");
    assert!(step("reach").is_some(), "{steps:?}");
}

#[test]
fn blackbox_and_netdiag_emit_the_same_metric_names_types_and_labels() {
    let test = "blackbox_and_netdiag_emit_the_same_metric_names_types_and_labels";
    if !common::can_netns(test)
        || !common::need_tool(
            test,
            "prometheus-blackbox-exporter",
            "prometheus-blackbox-exporter",
        )
        || !common::need_tool(test, "openssl", "openssl")
    {
        return;
    }
    let o = Command::new("python3")
        .arg("scripts/exporter-compat.py")
        .arg(env!("CARGO_BIN_EXE_netdiag"))
        .output()
        .expect("run scripts/exporter-compat.py");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("unexpected differences: 0"), "{out}");
    // Every case ran and both exporters agreed on success.
    assert!(
        out.lines().filter(|l| l.contains("|")).count() >= 17,
        "{out}"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    if !std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        eprintln!("skipping the_systemd_unit_verifies: systemd-analyze is not installed");
        return;
    }
    let unit = std::fs::read_to_string("contrib/netdiag-exporter.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/netdiag exporter --config"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netdiag-exporter.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/netdiag", env!("CARGO_BIN_EXE_netdiag")),
    )
    .unwrap();
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn hostile_targets_get_200_or_400_and_the_server_stays_up() {
    let test = "hostile_targets_get_200_or_400_and_the_server_stays_up";
    if !common::can_netns(test) {
        return;
    }
    // Names resolve only through the namespace's own responder (NXDOMAIN for all of them).
    let dns = common::DnsNs::new("hexp", &[]);
    let ns = &dns.ns;
    let port = free_port(ns);
    let mut c = ns.netdiag();
    c.args(["exporter", "--listen", &format!("127.0.0.1:{port}")]);
    let e = Exporter::start(c);
    let long = "a".repeat(100_000);
    let targets = [
        "",
        "%00",
        "%ff%fe",
        "a%0d%0aSet-Cookie:%20x",
        "%1b%5b31m",
        "[",
        "[::1",
        "http://[::1",
        ":::::",
        "999.999.999.999:99999",
        "127.0.0.1:0",
        "127.0.0.1:-1",
        "http://",
        "https://:443/",
        "ftp://127.0.0.1/",
        "b%C3%BCcher.test",
        "xn--bcher-kva.test:80",
        "%25",
        "a+b",
        "..",
        "/etc/passwd",
        "http://127.0.0.1:1/%2e%2e",
        "nothing.test",
        &long,
    ];
    let mut seen = Vec::new();
    for module in ["http_2xx", "tcp_connect", "icmp", "diagnose", "ssh_banner"] {
        for t in targets {
            let path = format!("/probe?module={module}&target={t}");
            let r = ns.enter(move || {
                try_http(
                    SocketAddr::from(([127, 0, 0, 1], port)),
                    "GET",
                    &path,
                    &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
                )
            });
            let (code, body) = r.expect("the exporter answers");
            let shown: String = t.chars().take(40).collect();
            assert!(
                code == 200 || code == 400 || code == 414 || code == 431,
                "{module} {shown}: {code} {body}"
            );
            if code == 200 {
                assert!(body.contains("probe_success "), "{module} {shown}: {body}");
            }
            seen.push(code);
        }
    }
    assert!(seen.contains(&400) && seen.contains(&200));
    let r = ns.enter(move || {
        try_http(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "GET",
            "/-/healthy",
            &[],
        )
    });
    assert_eq!(r, Some((200, "Healthy\n".to_string())));
    assert!(e.log_lines("panicked").is_empty() && e.log_lines("internal error").is_empty());
    // No log line was split by a hostile target.
    assert!(e.lines.lock().unwrap().iter().all(|l| l.starts_with("ts=")));
}

/// The ```yaml blocks of the README's exporter section, in order.
fn readme_yaml_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("## exporter")
        .expect("README has an exporter section");
    let end = readme[start..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + e);
    readme[start..end]
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn the_readme_scrape_config_and_alert_rules_pass_promtool() {
    let test = "the_readme_scrape_config_and_alert_rules_pass_promtool";
    if !common::need_tool(test, "promtool", "prometheus") {
        return;
    }
    let blocks = readme_yaml_blocks();
    assert_eq!(blocks.len(), 2, "a scrape config and alert rules");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&config, &blocks[0]).unwrap();
    std::fs::write(&rules, &blocks[1]).unwrap();
    for args in [["check", "config"], ["check", "rules"]] {
        let file = if args[1] == "config" { &config } else { &rules };
        let o = Command::new("promtool")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The rule fires with the cause in its labels when a probe fails for long enough.
    let unit = format!(
        "rule_files: [{}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'probe_success{{instance=\"http://127.0.0.1:8080/health\",site=\"paris\"}}'
        values: '0x5'
      - series: 'probe_failure_info{{instance=\"http://127.0.0.1:8080/health\",site=\"paris\",layer=\"connect\",code=\"ECONNREFUSED\"}}'
        values: '1x5'
    alert_rule_test:
      - eval_time: 4m
        alertname: ProbeFailingWithCause
        exp_alerts:
          - exp_labels:
              instance: http://127.0.0.1:8080/health
              site: paris
              layer: connect
              code: ECONNREFUSED
            exp_annotations:
              summary: 'http://127.0.0.1:8080/health from paris: connect failed (ECONNREFUSED)'
",
        rules.display()
    );
    let unit_file = dir.path().join("unit.yml");
    std::fs::write(&unit_file, unit).unwrap();
    let o = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&unit_file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
