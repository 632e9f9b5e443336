//! Every report laid out for an 80- and a 200-column terminal (`NETDIAG_WIDTH`, the width override a terminal
//! would give): no line is wider than the terminal, and every address, port and state that the piped output
//! shows appears whole. Real listeners on loopback; sockets, ping and probe failures inside namespaces the
//! tests create (skipped without root).

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};

use common::http::serve_on;
use common::{can_netns, can_nft, decode, netdiag, NetNs, VethPair};

const STATES: &[&str] = &[
    "open",
    "closed",
    "filtered",
    "unreachable",
    "lost",
    "listen",
    "established",
    "time-wait",
    "ok",
    "failed",
];

/// Addresses (`10.0.0.1`, `[::1]:80`, `127.0.0.1:22/tcp`) and state words among a text's words.
fn atoms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let w = raw
            .trim_end_matches([',', ';', ')'])
            .trim_start_matches('(');
        let bare = w.split('/').next().unwrap_or(w);
        let is_addr = bare.parse::<IpAddr>().is_ok()
            || bare.parse::<SocketAddr>().is_ok()
            || bare
                .trim_end_matches(":*")
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok();
        if is_addr || STATES.contains(&w) {
            out.push(w.to_string());
        }
    }
    out
}

/// Runs `cmd` piped and at 80 and 200 columns, and checks the laid-out output against the piped one.
fn check(what: &str, mut cmd: impl FnMut() -> std::process::Command) {
    let (_, piped, _) = decode(cmd().output().expect("run"));
    assert!(!piped.is_empty(), "{what}: no output");
    let wanted = atoms(&piped);
    for width in [80usize, 200] {
        let (_, text, _) = decode(
            cmd()
                .env("NETDIAG_WIDTH", width.to_string())
                .output()
                .expect("run"),
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= width,
                "{what} at {width} columns: a line of {} columns:\n{line}\n---\n{text}",
                line.chars().count()
            );
        }
        let words: Vec<&str> = text
            .split_whitespace()
            .map(|w| w.trim_end_matches([',', ';', ')']).trim_start_matches('('))
            .collect();
        for a in &wanted {
            assert!(
                words.contains(&a.as_str()),
                "{what} at {width} columns: '{a}' is split or missing:\n{text}\n--- piped:\n{piped}"
            );
        }
    }
}

fn http_server(l: TcpListener, n: usize) {
    serve_on(l, n, |_, s, _| {
        let long = "x".repeat(150);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Long: a rather long header value that wraps {long}\r\nConnection: close\r\n\r\nhi\n"
        );
    });
}

#[test]
fn loopback_reports_fit_80_and_200_columns() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    http_server(l, 40);
    let closed = common::closed_port();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "lookup",
            vec!["lookup".into(), "localhost".into(), "127.0.0.1".into()],
        ),
        ("lookup machine", vec!["lookup".into()]),
        ("port", vec!["port".into(), "1-40".into()]),
        (
            "port search",
            vec!["port".into(), "--search".into(), "mail".into()],
        ),
        (
            "probe",
            vec![
                "probe".into(),
                "127.0.0.1".into(),
                "-p".into(),
                format!("{port},{closed}"),
            ],
        ),
        (
            "probe scan --all",
            vec![
                "probe".into(),
                "127.0.0.1".into(),
                "-p".into(),
                format!("{}-{}", port.saturating_sub(3), port),
                "--all".into(),
            ],
        ),
        (
            "http-get",
            vec!["http-get".into(), format!("http://127.0.0.1:{port}/")],
        ),
        (
            "http-get closed",
            vec!["http-get".into(), format!("http://127.0.0.1:{closed}/")],
        ),
        (
            "diagnose",
            vec!["diagnose".into(), format!("http://127.0.0.1:{port}/")],
        ),
        (
            "diagnose closed",
            vec!["diagnose".into(), format!("127.0.0.1:{closed}")],
        ),
        (
            "ping tcp",
            vec![
                "ping".into(),
                "--tcp".into(),
                "--tcp-port".into(),
                port.to_string(),
                "-c".into(),
                "1".into(),
                "127.0.0.1".into(),
                "127.0.0.2".into(),
            ],
        ),
    ];
    let mut cases = cases;
    if common::is_root() {
        cases.push(("trace", vec!["trace".into(), "127.0.0.1".into()]));
    }
    for (what, args) in &cases {
        check(what, || {
            let mut c = netdiag();
            c.args(args);
            c
        });
    }
}

#[test]
fn sockets_with_long_addresses_fit_80_and_200_columns() {
    if !can_netns("sockets_with_long_addresses_fit_80_and_200_columns") {
        return;
    }
    let ns = NetNs::new("wsock");
    // A dual-stack listener and a connection from IPv4: the local address is [::ffff:127.0.0.1]:PORT.
    let l = ns.listen("[::]:0");
    let port = l.local_addr().unwrap().port();
    let _conns: Vec<TcpStream> = (0..3)
        .map(|_| ns.enter(move || TcpStream::connect(("127.0.0.1", port)).unwrap()))
        .collect();
    let _l4 = ns.listen("127.0.0.1:0");
    for args in [
        &["sockets", "-tanp"][..],
        &["sockets", "-tan"],
        &["sockets"],
    ] {
        check(&args.join(" "), || {
            let mut c = ns.netdiag();
            c.args(args);
            c
        });
    }
}

#[test]
fn failing_hosts_and_ports_fit_80_and_200_columns() {
    if !can_nft("failing_hosts_and_ports_fit_80_and_200_columns") {
        return;
    }
    let v = VethPair::new("wfail");
    v.b.nft_input("icmp type echo-request drop ; tcp dport 9 drop");
    let missing = v.b_ip.replace(".0.2", ".0.77");
    let b = v.b_ip.clone();
    check("ping sweep", || {
        let mut c = v.a.netdiag();
        c.args(["ping", "-c", "1", "-W", "0.5", &b, &missing, "127.0.0.1"]);
        c
    });
    check("probe filtered", || {
        let mut c = v.a.netdiag();
        c.args(["probe", &b, "-p", "9,10", "-t", "0.5"]);
        c
    });
    check("probe scan", || {
        let mut c = v.a.netdiag();
        c.args(["probe", &b, "-p", "8-10", "-t", "0.5", "--all"]);
        c
    });
}
