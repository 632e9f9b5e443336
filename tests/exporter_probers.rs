//! `netdiag exporter`'s probers against real servers on loopback (HTTP with redirects and checks, TCP dialogues
//! with STARTTLS, TLS with certificates made here, ICMP, the diagnose walk), through the library, and the module
//! loader against blackbox_exporter's own example files (tests/fixtures/exporter, sources named in each).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::http::{pki, serve, serve_tls, tls_config, Pki, Server};

use netdiag::exporter::config::{self, Module};
use netdiag::exporter::server::{finish, run_prober};
use netdiag::exporter::{Deadline, ProbeOut};

fn module(yaml: &str) -> Module {
    let c = config::parse(&format!("modules:\n  m:\n{yaml}"), None).expect("module loads");
    c.modules["m"].clone()
}

fn probe(m: &Module, target: &str) -> (bool, ProbeOut) {
    run_prober(m, target, None, Deadline::new(Duration::from_secs(5)))
}

fn failure(out: &ProbeOut) -> (String, String) {
    let f = out.failure.as_ref().expect("a failure");
    (f.layer.to_string(), f.explanation.code.clone())
}

/// An HTTP server on loopback: `answer(request)` gives the bytes to send; requests are kept.
fn web(max: usize, answer: impl Fn(&str) -> String + Send + 'static) -> Server {
    serve(max, move |_, s, req| {
        let _ = s.write_all(answer(req).as_bytes());
    })
}

fn ok(body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn http_success_sets_blackbox_metrics() {
    let w = web(1, |_| {
        ok(
            "hello world",
            "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
        )
    });
    let m = module("    prober: http\n");
    let (success, mut out) = probe(&m, &format!("127.0.0.1:{}/x", w.port));
    assert!(success, "{:?}", out.failure);
    let s = finish(&mut out, success, 0.1);
    assert_eq!(s.get("probe_success"), Some(1.0));
    assert_eq!(s.get("probe_http_status_code"), Some(200.0));
    assert_eq!(s.get("probe_http_content_length"), Some(11.0));
    assert_eq!(s.get("probe_http_uncompressed_body_length"), Some(11.0));
    assert_eq!(s.get("probe_http_version"), Some(1.1));
    assert_eq!(s.get("probe_http_ssl"), Some(0.0));
    assert_eq!(s.get("probe_ip_protocol"), Some(4.0));
    assert_eq!(
        s.get("probe_http_last_modified_timestamp_seconds"),
        Some(784_111_777.0)
    );
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        assert!(
            s.get_with("probe_http_duration_seconds", &[("phase", phase.into())])
                .is_some(),
            "{phase}"
        );
    }
    let req = w.request(0);
    assert!(req.starts_with("GET /x HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains(&format!("Host: 127.0.0.1:{}", w.port)),
        "{req}"
    );
}

#[test]
fn redirects_are_followed_unless_the_module_says_not() {
    let answer = |req: &str| {
        if req.starts_with("GET /old") || req.starts_with("POST /old") {
            "HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string()
        } else {
            ok("new", "")
        }
    };
    let w = web(3, answer);
    let (success, out) = probe(
        &module("    prober: http\n"),
        &format!("http://127.0.0.1:{}/old", w.port),
    );
    assert!(success, "{:?}", out.failure);
    assert_eq!(out.samples.get("probe_http_redirects"), Some(1.0));
    let (success, out) = probe(
        &module("    prober: http\n    http:\n      no_follow_redirects: true\n"),
        &format!("http://127.0.0.1:{}/old", w.port),
    );
    assert!(!success);
    assert_eq!(failure(&out), ("http".into(), "HTTP 302".into()));
    assert_eq!(out.samples.get("probe_http_status_code"), Some(302.0));
    assert_eq!(out.samples.get("probe_http_redirects"), Some(0.0));
}

#[test]
fn post_body_headers_and_basic_auth_reach_the_server() {
    let w = web(1, |_| ok("ok", ""));
    let m = module(
        "    prober: http\n    http:\n      method: POST\n      body: '{\"a\":1}'\n      headers:\n        Content-Type: application/json\n      basic_auth:\n        username: u\n        password: p\n",
    );
    let (success, out) = probe(&m, &format!("http://127.0.0.1:{}/api", w.port));
    assert!(success, "{:?}", out.failure);
    let req = w.request(0);
    assert!(req.starts_with("POST /api HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("Content-Type: application/json\r\n"), "{req}");
    assert!(req.contains("Content-Length: 7\r\n"), "{req}");
    assert!(req.contains("Authorization: Basic dTpw\r\n"), "{req}");
    assert!(req.ends_with("\r\n\r\n{\"a\":1}"), "{req}");
}

#[test]
fn hostname_sets_the_host_header() {
    let w = web(1, |_| ok("ok", ""));
    let m = module("    prober: http\n");
    let (success, _) = run_prober(
        &m,
        &format!("http://127.0.0.1:{}/", w.port),
        Some("vhost.test"),
        Deadline::new(Duration::from_secs(5)),
    );
    assert!(success);
    let req = w.request(0);
    assert!(req.contains("Host: vhost.test\r\n"), "{req}");
    assert_eq!(req.matches("Host:").count(), 1, "{req}");
}

#[test]
fn status_version_and_regex_checks_fail_with_their_codes() {
    let w = web(8, |req| {
        if req.starts_with("GET /missing") {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        } else {
            ok(
                "Could not connect to database",
                "Set-Cookie: a=b\r\nServer: test\r\n",
            )
        }
    });
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", w.port);
    let (s, out) = probe(&module("    prober: http\n"), &url("/missing"));
    assert!(!s);
    assert_eq!(failure(&out), ("http".into(), "HTTP 404".into()));
    let (s, _) = probe(
        &module("    prober: http\n    http:\n      valid_status_codes: [404]\n"),
        &url("/missing"),
    );
    assert!(s, "404 is accepted when listed");
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      valid_status_codes: [404]\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out), ("http".into(), "HTTP 200".into()));
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      fail_if_body_matches_regexp: ['Could not connect']\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out), ("http".into(), "body-matches".into()));
    assert_eq!(out.samples.get("probe_failed_due_to_regex"), Some(1.0));
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      fail_if_header_matches:\n        - header: Set-Cookie\n          regexp: '.*'\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out).1, "header-matches");
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      fail_if_header_not_matches:\n        - header: X-Missing\n          regexp: '.*'\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out).1, "header-missing");
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      valid_http_versions: ['HTTP/1.0']\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out).1, "http-version");
    let (s, out) = probe(
        &module("    prober: http\n    http:\n      fail_if_not_ssl: true\n"),
        &url("/"),
    );
    assert!(!s);
    assert_eq!(failure(&out), ("tls".into(), "tls-missing".into()));
}

#[test]
fn connect_and_target_failures_are_explained() {
    let port = common::closed_port();
    let (s, out) = probe(
        &module("    prober: http\n"),
        &format!("http://127.0.0.1:{port}/"),
    );
    assert!(!s);
    assert_eq!(failure(&out), ("connect".into(), "ECONNREFUSED".into()));
    let (s, out) = probe(&module("    prober: tcp\n"), &format!("127.0.0.1:{port}"));
    assert!(!s);
    assert_eq!(failure(&out), ("connect".into(), "ECONNREFUSED".into()));
    let (s, out) = probe(&module("    prober: tcp\n"), "127.0.0.1");
    assert!(!s);
    assert_eq!(failure(&out), ("target".into(), "bad-target".into()));
    let (s, out) = probe(&module("    prober: http\n"), "ftp://127.0.0.1/");
    assert!(!s);
    assert_eq!(failure(&out), ("target".into(), "bad-target".into()));
}

#[test]
fn tcp_connect_hangs_up_in_order() {
    // blackbox closes a tcp_connect probe's connection with a FIN, so the target reads the end of the stream.
    // A linger-0 close (an RST) would spare the exporter a TIME_WAIT port per probe, which only matters when one
    // target is probed thousands of times a second (bench/exporter.sh), but would show every target a reset.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (s, out) = probe(&module("    prober: tcp\n"), &format!("127.0.0.1:{port}"));
    assert!(s, "{:?} {:?}", out.failure, out.log);
    // The handshake completed before the probe returned, so the connection waits in the accept queue.
    l.set_nonblocking(true).unwrap();
    let mut conn = None;
    for _ in 0..500 {
        match l.accept() {
            Ok((c, _)) => {
                conn = Some(c);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("accepting the probe's connection: {e}"),
        }
    }
    let mut conn = conn.expect("the probe's connection reaches the accept queue");
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 64];
    match conn.read(&mut b) {
        Ok(0) => {}
        other => panic!("the target should read the end of the stream (a FIN), got {other:?}"),
    }
}

/// A line-based server: says `greeting`, then answers each line through `reply`.
fn talker(greeting: &'static str, reply: fn(&str) -> Option<String>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..4 {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(greeting.as_bytes());
            let mut buf = Vec::new();
            let mut b = [0u8; 512];
            while let Ok(n) = s.read(&mut b) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&b[..n]);
                while let Some(i) = buf.iter().position(|&c| c == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    if let Some(r) = reply(&line) {
                        let _ = s.write_all(r.as_bytes());
                    }
                }
            }
        }
    });
    port
}

#[test]
fn tcp_query_response_expands_captures() {
    // An IRC server's welcome dance, as in blackbox's irc_banner module.
    let port = talker("NOTICE hello\r\n", |line| {
        if line.starts_with("USER") {
            Some("PING :c0ffee\r\n".into())
        } else if line == "PONG c0ffee" {
            Some(":server 001 prober :Welcome\r\n".into())
        } else {
            None
        }
    });
    let m = module(
        "    prober: tcp\n    tcp:\n      query_response:\n      - send: \"NICK prober\"\n      - send: \"USER prober prober prober :prober\"\n      - expect: \"PING :([^ ]+)\"\n        send: \"PONG ${1}\"\n      - expect: \"^:[^ ]+ 001\"\n",
    );
    let (s, out) = probe(&m, &format!("127.0.0.1:{port}"));
    assert!(s, "{:?} {:?}", out.failure, out.log);
    assert_eq!(out.samples.get("probe_failed_due_to_regex"), Some(0.0));
    // A server that greets with something else and hangs up: the expect has no line left to match.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = l.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"220 mail.test ESMTP\r\n");
        }
    });
    let m =
        module("    prober: tcp\n    tcp:\n      query_response:\n      - expect: \"^SSH-2.0-\"\n");
    let (s, out) = probe(&m, &format!("127.0.0.1:{other}"));
    assert!(!s);
    assert_eq!(failure(&out), ("talk".into(), "unexpected-reply".into()));
    assert_eq!(out.samples.get("probe_failed_due_to_regex"), Some(1.0));
}

// ---- TLS ----

fn cert(expired: bool) -> Pki {
    cert_for(&["localhost", "127.0.0.1"], expired)
}

/// A certificate valid from 2020 to 2021 (`expired`) or to 2100, issued by a CA of the test's own.
fn cert_for(names: &[&str], expired: bool) -> Pki {
    let until = if expired { 2021 } else { 2100 };
    pki(
        names,
        "exporter test",
        Some("exporter test CA"),
        Some((2020, until)),
    )
}

/// An SMTP-like server: `220` greeting, `STARTTLS` → `220 go ahead` then TLS, where `EHLO` gets `250-AUTH`.
fn starttls_server(p: &Pki) -> u16 {
    let config = tls_config(p, &[]);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(b"220 mail.test ESMTP ready\r\n");
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while s.read(&mut b).is_ok_and(|n| n == 1) && b[0] != b'\n' {
                line.push(b[0]);
            }
            if !String::from_utf8_lossy(&line).starts_with("STARTTLS") {
                continue;
            }
            let _ = s.write_all(b"220 go ahead\r\n");
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut got = Vec::new();
            while tls.read(&mut b).is_ok_and(|n| n == 1) && b[0] != b'\n' {
                got.push(b[0]);
            }
            if got.starts_with(b"EHLO") {
                let _ = tls.write_all(b"250-mail.test\r\n250-AUTH PLAIN\r\n");
                let _ = tls.flush();
            }
        }
    });
    port
}

#[test]
fn starttls_dialogue_and_tls_metrics() {
    let p = cert(false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &p.ca_pem).unwrap();
    let port = starttls_server(&p);
    let yaml = "modules:\n  smtp:\n    prober: tcp\n    tcp:\n      query_response:\n        - expect: \"^220 ([^ ]+) ESMTP (.+)$\"\n        - send: \"STARTTLS\\r\"\n        - expect: \"^220\"\n        - starttls: true\n        - send: \"EHLO prober\\r\"\n        - expect: \"^250-AUTH\"\n      tls_config:\n        ca_file: ca.pem\n        server_name: localhost\n";
    std::fs::write(dir.path().join("bb.yml"), yaml).unwrap();
    let c = config::load(&dir.path().join("bb.yml")).expect("loads, ca_file relative to the file");
    let (s, out) = probe(&c.modules["smtp"], &format!("127.0.0.1:{port}"));
    assert!(s, "{:?} {:?}", out.failure, out.log);
    assert_eq!(
        out.samples.get("probe_ssl_earliest_cert_expiry"),
        Some(4_102_444_800.0),
        "the leaf expires 2100-01-01"
    );
    assert!(out
        .samples
        .get_with("probe_tls_version_info", &[("version", "TLS 1.3".into())])
        .is_some());
}

#[test]
fn expired_certificate_is_layer_tls_code_cert_expired() {
    let p = cert(true);
    // Serves the certificate and nothing more (the client refuses it).
    let port = serve_tls(tls_config(&p, &[]), 2, |_, _, _| {}).port;
    let ca = p.ca_file();
    let m = module(&format!(
        "    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        ca_file: {}\n        server_name: localhost\n",
        ca.arg()
    ));
    let (s, out) = probe(&m, &format!("127.0.0.1:{port}"));
    assert!(!s);
    assert_eq!(failure(&out), ("tls".into(), "cert-expired".into()));
    let m = module(&format!(
        "    prober: http\n    http:\n      tls_config:\n        ca_file: {}\n",
        ca.arg()
    ));
    let (s, out) = probe(&m, &format!("https://localhost:{port}/"));
    assert!(!s);
    assert_eq!(failure(&out), ("tls".into(), "cert-expired".into()));
}

/// An HTTPS server answering 200 to `max` connections.
fn https_server(p: &Pki, max: usize) -> u16 {
    serve_tls(tls_config(p, &[]), max, |_, tls, _| {
        let _ =
            tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    })
    .port
}

#[test]
fn hostname_is_the_tls_name_of_an_https_probe() {
    // The certificate is for vhost.test only: the probe of https://127.0.0.1 passes verification only when
    // hostname=vhost.test is both the Host header and the name checked.
    let p = cert_for(&["vhost.test"], false);
    let port = https_server(&p, 3);
    let ca = p.ca_file();
    let m = module(&format!(
        "    prober: http\n    http:\n      tls_config:\n        ca_file: {}\n",
        ca.arg()
    ));
    let target = format!("https://127.0.0.1:{port}/");
    let (s, out) = run_prober(
        &m,
        &target,
        Some("vhost.test"),
        Deadline::new(Duration::from_secs(5)),
    );
    assert!(s, "{:?}", out.failure);
    assert_eq!(out.samples.get("probe_http_ssl"), Some(1.0));
    let info = out
        .samples
        .families
        .iter()
        .find(|f| f.name == "probe_ssl_last_chain_info")
        .expect("chain info");
    let labels = &info.series[0].0;
    assert!(
        labels
            .iter()
            .any(|(k, v)| *k == "subjectalternative" && v == "vhost.test"),
        "{labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|(k, v)| *k == "fingerprint_sha256" && v.len() == 64),
        "{labels:?}"
    );
    let (s, out) = probe(&m, &target);
    assert!(!s);
    assert_eq!(failure(&out), ("tls".into(), "cert-name-mismatch".into()));
}

#[test]
fn icmp_echo_to_loopback() {
    let m =
        module("    prober: icmp\n    icmp:\n      preferred_ip_protocol: ip4\n      ttl: 64\n");
    let (s, out) = probe(&m, "127.0.0.1");
    if !s
        && out
            .failure
            .as_ref()
            .is_some_and(|f| f.explanation.code == "EPERM")
    {
        eprintln!("skipping icmp_echo_to_loopback: this process may not send ICMP (needs root, CAP_NET_RAW or ping_group_range)");
        return;
    }
    assert!(s, "{:?}", out.failure);
    assert!(out
        .samples
        .get_with("probe_icmp_duration_seconds", &[("phase", "rtt".into())])
        .is_some_and(|v| v > 0.0));
    assert_eq!(out.samples.get("probe_icmp_reply_hop_limit"), Some(64.0));
}

#[test]
fn diagnose_prober_exports_each_step() {
    let w = web(2, |_| ok("fine", ""));
    let m = module("    prober: diagnose\n");
    let (s, out) = probe(&m, &format!("http://127.0.0.1:{}/", w.port));
    assert!(s, "{:?}", out.failure);
    for step in ["resolve", "connect", "talk"] {
        assert_eq!(
            out.samples
                .get_with("probe_step_success", &[("step", step.into())]),
            Some(1.0),
            "{step}"
        );
        assert!(out
            .samples
            .get_with("probe_step_duration_seconds", &[("step", step.into())])
            .is_some());
    }
    let port = common::closed_port();
    let (s, out) = probe(&m, &format!("127.0.0.1:{port}"));
    assert!(!s);
    assert_eq!(failure(&out), ("connect".into(), "ECONNREFUSED".into()));
    assert_eq!(
        out.samples
            .get_with("probe_step_success", &[("step", "connect".into())]),
        Some(0.0)
    );
    assert_eq!(
        out.samples
            .get_with("probe_step_success", &[("step", "resolve".into())]),
        Some(1.0)
    );
}

/// The diagnose prober where a firewall on the way drops the port (needs root: a chain of namespaces, client —
/// r1 — r2 — r3 — server, with r2 dropping tcp 443): the connect fails at the connect layer and the path step's
/// trace is exported as the last hop that answered, r2 at hop 2, with its address.
#[test]
fn diagnose_prober_exports_the_last_hop_that_answered() {
    let test = "diagnose_prober_exports_the_last_hop_that_answered";
    if !common::can_nft(test) {
        return;
    }
    let c = common::Chain::new("expa");
    c.nft(1, "forward", "tcp dport 443 drop");
    let _l = c.server.listen("0.0.0.0:443");
    let r2 = c.expected(false)[1].clone();
    let target = format!("{}:443", c.server(false));
    let m = module("    prober: diagnose\n");
    let (s, out) = c
        .client
        .enter(move || run_prober(&m, &target, None, Deadline::new(Duration::from_secs(12))));
    assert!(!s);
    assert_eq!(failure(&out).0, "connect");
    assert_eq!(
        out.samples
            .get_with("probe_path_last_hop", &[("address", r2.clone())]),
        Some(2.0),
        "{:?}",
        out.failure
    );
    assert_eq!(
        out.samples
            .get_with("probe_step_success", &[("step", "connect".into())]),
        Some(0.0)
    );
}

// ---- the loader against blackbox_exporter's own files ----

/// The file's modules, each as its own one-module file.
fn split_modules(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line == "modules:" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 2 && line.trim_end().ends_with(':') {
            out.push((line.trim().trim_end_matches(':').to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out.into_iter()
        .map(|(name, body)| (name.clone(), format!("modules:\n  {name}:\n{body}")))
        .collect()
}

/// Loads each module of a fixture alone: `expected` lists the modules that fail and a word their error must
/// name; every other module must load.
fn check_fixture(file: &str, expected: &[(&str, &str)]) {
    let text = std::fs::read_to_string(format!("tests/fixtures/exporter/{file}")).unwrap();
    let modules = split_modules(&text);
    assert!(modules.len() >= 10, "{file}: {} modules", modules.len());
    let mut loaded = 0;
    for (name, yaml) in &modules {
        let r = config::parse(yaml, None);
        match expected.iter().find(|(n, _)| n == name) {
            Some((_, field)) => {
                let e = r.expect_err(name);
                assert!(
                    e.contains(field),
                    "{file} {name}: the error names {field}: {e}"
                );
                assert!(!e.contains('\n'), "{e}");
            }
            None => {
                r.unwrap_or_else(|e| panic!("{file} {name} loads: {e}"));
                loaded += 1;
            }
        }
    }
    assert_eq!(loaded + expected.len(), modules.len(), "{file}");
}

#[test]
fn blackbox_example_configs_load_or_name_the_unsupported_field() {
    check_fixture(
        "blackbox-example-upstream.yml",
        &[
            ("http_with_proxy", "'proxy_url' is not supported"),
            (
                "http_with_proxy_and_headers",
                "'proxy_url' is not supported",
            ),
            (
                "http_post_body_file",
                "http.body_file: cannot read /files/body.txt",
            ),
            (
                "http_json_cel_match",
                "'fail_if_body_json_not_matches_cel' is not supported",
            ),
            (
                "http_2xx_oauth_client_credentials",
                "'oauth2' is not supported",
            ),
            ("http_custom_ca_example", "http.tls_config.ca_file"),
            ("http_gzip", "'compression' is not supported"),
            (
                "http_gzip_with_accept_encoding",
                "'compression' is not supported",
            ),
            ("rabbitmq", "tcp.tls_config.ca_file"),
            ("rabbitmq_insecure", "tcp.tls_config.ca_file"),
            ("icmp_example", "'source_ip_address' is not supported"),
        ],
    );
    check_fixture(
        "blackbox-example-0.23.yml",
        &[
            ("http_with_proxy", "'proxy_url' is not supported"),
            ("http_custom_ca_example", "http.tls_config.ca_file"),
            ("http_gzip", "'compression' is not supported"),
            (
                "http_gzip_with_accept_encoding",
                "'compression' is not supported",
            ),
            ("icmp_example", "'source_ip_address' is not supported"),
        ],
    );
    check_fixture(
        "blackbox-debian.yml",
        &[
            ("grpc", "unknown variant `grpc`"),
            ("grpc_plain", "grpc is not supported"),
        ],
    );
}

#[test]
fn check_config_names_the_first_unsupported_field_and_exits_2() {
    let (code, out, err) = common::run(&[
        "exporter",
        "--check-config",
        "--config",
        "tests/fixtures/exporter/blackbox-example-0.23.yml",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("'proxy_url' is not supported") && err.contains("line 36"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ok.yml");
    std::fs::write(
        &f,
        "modules:\n  tcp_connect:\n    prober: tcp\n  web:\n    prober: http\n",
    )
    .unwrap();
    let (code, out, err) = common::run(&[
        "exporter",
        "--check-config",
        "--config",
        f.to_str().unwrap(),
    ]);
    assert_eq!((code, out.trim()), (0, "config OK: 2 modules"), "{err}");
}

#[test]
fn dont_fragment_makes_an_echo_larger_than_the_path_mtu_fail() {
    if !common::can_netns("dont_fragment_makes_an_echo_larger_than_the_path_mtu_fail") {
        return;
    }
    let pair = common::VethPair::new("dfmt");
    // A 1280-byte link between the two namespaces: a 1400-byte echo must be fragmented to pass.
    pair.a
        .sh("for l in $(ls /sys/class/net | grep -v lo); do ip link set $l mtu 1280; done");
    pair.b
        .sh("for l in $(ls /sys/class/net | grep -v lo); do ip link set $l mtu 1280; done");
    let target = pair.b_ip.clone();
    let plain = module(
        "    prober: icmp\n    icmp:\n      preferred_ip_protocol: ip4\n      payload_size: 1400\n",
    );
    let df = module(
        "    prober: icmp\n    icmp:\n      preferred_ip_protocol: ip4\n      payload_size: 1400\n      dont_fragment: true\n",
    );
    let t = target.clone();
    let (ok_plain, out_plain) = pair.a.enter(move || probe(&plain, &t));
    assert!(ok_plain, "fragmented echo passes: {:?}", out_plain.failure);
    let (ok_df, out_df) = pair.a.enter(move || probe(&df, &target));
    assert!(
        !ok_df,
        "with the DF bit the echo cannot pass the 1280-byte link"
    );
    assert_eq!(failure(&out_df), ("reach".into(), "EMSGSIZE".into()));
}

/// A DNS server on loopback (UDP and TCP on the same port) answering from `records` (NXDOMAIN otherwise).
fn dns_server(records: &[(&str, &str)]) -> u16 {
    let records: Vec<(String, std::net::IpAddr)> = records
        .iter()
        .map(|(n, a)| (n.to_string(), a.parse().unwrap()))
        .collect();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let r = records.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        for _ in 0..100 {
            let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                return;
            };
            if let Some(reply) = common::dns_reply(&buf[..n], &r) {
                let _ = udp.send_to(&reply, peer);
            }
        }
    });
    thread::spawn(move || {
        for _ in 0..20 {
            let Ok((mut s, _)) = tcp.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if s.read_exact(&mut q).is_err() {
                continue;
            }
            if let Some(reply) = common::dns_reply(&q, &records) {
                let mut out = (reply.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&reply);
                let _ = s.write_all(&out);
            }
        }
    });
    port
}

#[test]
fn dns_prober_checks_rcodes_and_records() {
    let port = dns_server(&[("web.test", "127.0.0.1")]);
    let target = format!("127.0.0.1:{port}");
    let m = module(
        "    prober: dns\n    dns:\n      query_name: web.test\n      query_type: A\n      validate_answer_rrs:\n        fail_if_not_matches_regexp: ['web\\.test\\.\\t60\\tIN\\tA\\t127\\.0\\.0\\.1']\n",
    );
    let (s, out) = probe(&m, &target);
    assert!(s, "{:?} {:?}", out.failure, out.log);
    assert_eq!(out.samples.get("probe_dns_answer_rrs"), Some(1.0));
    assert_eq!(out.samples.get("probe_dns_query_succeeded"), Some(1.0));
    assert!(out
        .samples
        .get_with("probe_dns_duration_seconds", &[("phase", "request".into())])
        .is_some_and(|v| v > 0.0));
    let tcp = module("    prober: dns\n    dns:\n      query_name: web.test\n      query_type: A\n      transport_protocol: tcp\n");
    let (s, out) = probe(&tcp, &target);
    assert!(s, "{:?}", out.failure);
    assert!(out
        .samples
        .get_with("probe_dns_duration_seconds", &[("phase", "connect".into())])
        .is_some_and(|v| v > 0.0));
    let (s, out) = probe(
        &module("    prober: dns\n    dns:\n      query_name: nothing.test\n      query_type: A\n"),
        &target,
    );
    assert!(!s);
    assert_eq!(failure(&out), ("dns".into(), "NXDOMAIN".into()));
    assert_eq!(out.samples.get("probe_dns_query_succeeded"), Some(1.0));
    let (s, _) = probe(
        &module("    prober: dns\n    dns:\n      query_name: nothing.test\n      query_type: A\n      valid_rcodes: [NXDOMAIN]\n"),
        &target,
    );
    assert!(s, "NXDOMAIN is accepted when listed");
    let (s, out) = probe(
        &module("    prober: dns\n    dns:\n      query_name: web.test\n      query_type: A\n      validate_answer_rrs:\n        fail_if_matches_regexp: ['.*127.0.0.1']\n"),
        &target,
    );
    assert!(!s);
    assert_eq!(failure(&out), ("dns".into(), "answer-matches".into()));
    let (s, out) = probe(
        &module("    prober: dns\n    dns:\n      query_name: web.test\n      query_type: A\n      validate_authority_rrs:\n        fail_if_none_matches_regexp: ['.*']\n"),
        &target,
    );
    assert!(!s, "an empty authority section has no match");
    assert_eq!(
        failure(&out),
        ("dns".into(), "authority-not-matches".into())
    );
    let closed = common::closed_port();
    let (s, out) = probe(
        &module("    prober: dns\n    timeout: 2s\n    dns:\n      query_name: web.test\n      query_type: A\n"),
        &format!("127.0.0.1:{closed}"),
    );
    assert!(!s);
    assert_eq!(failure(&out).0, "dns");
    assert_eq!(out.samples.get("probe_dns_query_succeeded"), Some(0.0));
}
