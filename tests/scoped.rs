//! IPv6 scoped addresses (`fe80::b:2%eth0`, `[fe80::b:2%eth0]:22`, `%3`, URL `%25eth0`): ping, probe,
//! http-get and diagnose reach a listener on the peer's link-local address over a veth pair between two
//! namespaces the test creates (skipped without root). The link-local addresses are added with `nodad`, so
//! they are usable at once.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{can_netns, run, VethPair};

const PEER: &str = "fe80::b:2";

/// A veth pair with link-local addresses on both ends and an HTTP listener in `b` on every address.
fn pair(tag: &str) -> (VethPair, TcpListener, u16) {
    let v = VethPair::new(tag);
    v.a.sh(&format!("ip -6 addr add fe80::a:1/64 dev {} nodad", v.a_if));
    v.b.sh(&format!("ip -6 addr add {PEER}/64 dev {} nodad", v.b_if));
    let l = v.b.listen("[::]:0");
    let port = l.local_addr().unwrap().port();
    (v, l, port)
}

/// Answers each connection with a small HTTP response, for as long as the listener lives (bounded count).
fn serve_http(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming().take(32) {
            let Ok(mut s) = s else { break };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nscoped",
            );
        }
    });
}

#[test]
fn scoped_link_local_addresses_work_in_ping_probe_http_get_and_diagnose() {
    if !can_netns("scoped_link_local_addresses_work_in_ping_probe_http_get_and_diagnose") {
        return;
    }
    let (v, l, port) = pair("scop");
    serve_http(l);
    let ifname = v.a_if.clone();
    let index =
        v.a.sh(&format!("cat /sys/class/net/{ifname}/ifindex"))
            .trim()
            .to_string();

    for host in [format!("{PEER}%{ifname}"), format!("{PEER}%{index}")] {
        let (code, out, err) = v.a.run(&["ping", &host, "-c", "1", "-W", "5"]);
        assert_eq!(code, 0, "ping {host}: {out}{err}");
        assert!(out.contains(PEER), "ping {host}: {out}");
    }

    let bracketed = format!("[{PEER}%{ifname}]:{port}");
    let (code, out, err) = v.a.run(&["probe", &bracketed, "-t", "5"]);
    assert_eq!(code, 0, "probe {bracketed}: {out}{err}");
    assert!(out.contains("open"), "probe {bracketed}: {out}");
    let (code, out, err) = v.a.run(&[
        "probe",
        &format!("{PEER}%{index}"),
        "-p",
        &port.to_string(),
        "-t",
        "5",
    ]);
    assert_eq!(code, 0, "probe with a numeric scope: {out}{err}");
    assert!(out.contains("open"), "{out}");

    // RFC 6874 writes the scope `%25eth0` in a URL; curl also takes `%eth0`.
    for url in [
        format!("http://[{PEER}%25{ifname}]:{port}/"),
        format!("http://[{PEER}%{ifname}]:{port}/"),
    ] {
        let (code, out, err) = v.a.run(&["http-get", &url, "--timeout", "5"]);
        assert_eq!(code, 0, "http-get {url}: {out}{err}");
        assert!(out.contains("200"), "http-get {url}: {out}");
    }

    let (code, out, err) = v.a.run(&["diagnose", &bracketed, "--timeout", "5"]);
    assert_eq!(code, 0, "diagnose {bracketed}: {out}{err}");
    assert!(
        out.contains("works end to end"),
        "diagnose {bracketed}: {out}"
    );
    let (code, out, err) =
        v.a.run(&["--json", "diagnose", &bracketed, "--timeout", "5"]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&err);
    let connect = common::step(&doc, "connect");
    assert_eq!(connect["status"], "ok", "diagnose connect ({code}): {out}");
}

#[test]
fn an_unknown_interface_is_one_line_and_exit_2() {
    for args in [
        &["ping", "fe80::1%nosuchif0", "-c", "1"][..],
        &["probe", "[fe80::1%nosuchif0]:22"][..],
        &["http-get", "http://[fe80::1%25nosuchif0]:80/"][..],
        &["diagnose", "[fe80::1%nosuchif0]:22"][..],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("unknown interface 'nosuchif0'"),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}
