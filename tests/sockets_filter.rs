//! `netdiag sockets FILTER`: ss's filter expressions, checked against `ss` itself.
//!
//! The test makes a network namespace of its own (so nobody else's sockets are in the table), opens TCP
//! listeners and connections (IPv4, IPv6, dual-stack with an IPv4-mapped peer, TIME-WAIT, CLOSE-WAIT and
//! FIN-WAIT-2) and UDP sockets on known ports there, then for each expression compares the rows netdiag lists
//! with the rows `ss -H` lists for the same words in the same namespace: the sets must be equal. Needs root (for
//! the namespace) and ss (iproute2); skips without them. Network rule: loopback only, inside that namespace.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::{run, NetNs};
use serde_json::Value;

/// (protocol when ss printed one, state when ss printed one, local, peer); addresses as `ip:port`.
type Key = (Option<String>, Option<String>, String, String);

/// Everything the test holds open in the namespace (dropped at the end).
#[allow(dead_code)]
struct Held {
    tcp: Vec<TcpListener>,
    streams: Vec<TcpStream>,
    udp: Vec<UdpSocket>,
    bound: socket2::Socket,
    /// Ports the expressions name: the IPv4 listener on 127.0.0.1, the one on 127.0.0.2, the IPv6 one on ::1,
    /// the dual-stack one on ::.
    p4: u16,
    pb: u16,
    p6: u16,
    pd: u16,
}

fn open(ns: &NetNs) -> Held {
    ns.enter(|| {
        let l = |a: &str| TcpListener::bind(a).unwrap_or_else(|e| panic!("bind {a}: {e}"));
        let port = |l: &TcpListener| l.local_addr().unwrap().port();
        let l22 = l("127.0.0.1:22");
        let l4 = l("127.0.0.1:0");
        let lb = l("127.0.0.2:0");
        let lc = l("127.1.0.1:0");
        let l6 = l("[::1]:0");
        let l443 = l("[::1]:443");
        // std binds [::] with IPV6_V6ONLY off (the Linux default): a dual-stack listener.
        let ld = l("[::]:0");
        let (p4, pb, p6, pd) = (port(&l4), port(&lb), port(&l6), port(&ld));
        let mut streams = Vec::new();
        for (listener, to) in [
            (&l22, "127.0.0.1:22".to_string()),
            (&l4, format!("127.0.0.1:{p4}")),
            (&lb, format!("127.0.0.2:{pb}")),
            (&l6, format!("[::1]:{p6}")),
            (&l443, "[::1]:443".to_string()),
            (&ld, format!("127.0.0.1:{pd}")), // accepted as [::ffff:127.0.0.1]
        ] {
            let c = TcpStream::connect(&to).unwrap_or_else(|e| panic!("connect {to}: {e}"));
            let (a, _) = listener.accept().unwrap();
            streams.push(c);
            streams.push(a);
        }
        // TIME-WAIT on the client: it closes first, the server reads the end and closes.
        {
            let c = TcpStream::connect(("127.0.0.1", p4)).unwrap();
            let (mut a, _) = l4.accept().unwrap();
            drop(c);
            a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 16];
            let _ = a.read(&mut buf);
        }
        // FIN-WAIT-2 (client) and CLOSE-WAIT (server): the client shuts down its sending side only.
        let c = TcpStream::connect(("127.0.0.1", p4)).unwrap();
        let (a, _) = l4.accept().unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        streams.push(c);
        streams.push(a);
        let u = |a: &str| UdpSocket::bind(a).unwrap_or_else(|e| panic!("bind udp {a}: {e}"));
        let u53 = u("127.0.0.1:53");
        let u4 = u("127.0.0.1:0");
        let u6 = u("[::1]:0");
        let uc = u("127.0.0.1:0");
        uc.connect(u4.local_addr().unwrap()).unwrap();
        // A UDP socket bound to the loopback device (SO_BINDTODEVICE), for `dev lo`.
        let bound =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        bound.bind_device(Some(b"lo")).unwrap();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        bound.bind(&addr.into()).unwrap();
        Held {
            tcp: vec![l22, l4, lb, lc, l6, l443, ld],
            streams,
            udp: vec![u53, u4, u6, uc],
            bound,
            p4,
            pb,
            p6,
            pd,
        }
    })
}

/// ss's address as netdiag's JSON writes it: `[::1]:443` → `::1:443`, `*:80` → `:::80`, `0.0.0.0:*` →
/// `0.0.0.0:0`.
fn ss_addr(s: &str) -> String {
    let (a, p) = s
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("ss address {s}"));
    let a = a.trim_start_matches('[').trim_end_matches(']');
    // A socket bound to a device is written `127.0.0.1%lo:PORT`.
    let a = a.split('%').next().unwrap_or(a);
    let a = if a == "*" { "::" } else { a };
    let p = if p == "*" { "0" } else { p };
    format!("{a}:{p}")
}

fn ss_state(s: &str) -> String {
    match s {
        "ESTAB" => "established".to_string(),
        "UNCONN" => "unconn".to_string(),
        other => other.to_ascii_lowercase(),
    }
}

/// The rows of `ss -H`, and whether its lines had a Netid and a State column (ss leaves State out when one
/// state is asked for, Netid when one protocol is).
fn ss_rows(out: &str) -> (BTreeSet<Key>, bool, bool) {
    let mut rows = BTreeSet::new();
    let (mut netid, mut state) = (false, false);
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let n = f.len();
        assert!((4..=6).contains(&n), "unexpected ss line: {line}");
        netid = n == 6 || (n == 5 && matches!(f[0], "tcp" | "udp"));
        state = n == 6 || (n == 5 && !netid);
        rows.insert((
            netid.then(|| f[0].to_string()),
            state.then(|| ss_state(f[if netid { 1 } else { 0 }])),
            ss_addr(f[n - 2]),
            ss_addr(f[n - 1]),
        ));
    }
    (rows, netid, state)
}

fn netdiag_rows(v: &Value, netid: bool, state: bool) -> BTreeSet<Key> {
    let ep = |e: &Value| format!("{}:{}", e["address"].as_str().unwrap_or("?"), e["port"]);
    v["sockets"]
        .as_array()
        .expect("sockets array")
        .iter()
        .map(|r| {
            (
                netid.then(|| r["protocol"].as_str().unwrap_or("?").to_string()),
                state.then(|| r["state"].as_str().unwrap_or("?").to_string()),
                ep(&r["local"]),
                ep(&r["peer"]),
            )
        })
        .collect()
}

fn netdiag_json(ns: &NetNs, flags: &[&str], words: &[String], env: Option<(&str, &str)>) -> Value {
    let mut c = ns.netdiag();
    c.arg("--json").arg("sockets").args(flags).args(words);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let (code, out, err) = common::decode(c.output().expect("run netdiag"));
    assert_eq!(
        code, 0,
        "netdiag sockets {flags:?} {words:?}: exit {code}\n{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"));
    // The expression goes to the kernel as inet_diag bytecode: a program it refused would fall back to /proc
    // with a note, which must not happen.
    if env.is_none() && v.get("source").is_some() {
        assert_eq!(v["source"], "netlink", "{flags:?} {words:?}: {v}");
        assert!(
            v["notes"].as_array().is_some_and(|n| n.is_empty()),
            "{flags:?} {words:?}: {v}"
        );
    }
    v
}

fn ss(ns: &NetNs, flags: &[&str], words: &[String]) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.name, "ss", "-H"])
        .args(flags)
        .args(words)
        .output()
        .expect("run ss");
    let (code, out, err) = common::decode(o);
    assert_eq!(code, 0, "ss {flags:?} {words:?}: exit {code}\n{err}");
    out
}

/// Runs one expression through both tools; returns a description of the difference, if any, and the row count.
fn compare(ns: &NetNs, flags: &[&str], words: &[String]) -> (Option<String>, usize) {
    let (want, netid, state) = ss_rows(&ss(ns, flags, words));
    let v = netdiag_json(ns, flags, words, None);
    let got = netdiag_rows(&v, netid, state);
    let n = got.len();
    if got == want {
        return (None, n);
    }
    let only_nd: Vec<_> = got.difference(&want).collect();
    let only_ss: Vec<_> = want.difference(&got).collect();
    (
        Some(format!(
            "{flags:?} {words:?}:\n  only netdiag: {only_nd:?}\n  only ss:      {only_ss:?}"
        )),
        n,
    )
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

fn have_ss() -> bool {
    Command::new("ss").arg("-V").output().is_ok()
}

#[test]
fn filter_expressions_list_the_same_sockets_as_ss() {
    if !common::can_netns("filter_vs_ss") {
        return;
    }
    if !have_ss() {
        eprintln!("skipping filter_vs_ss: ss (iproute2) is not installed");
        return;
    }
    let ns = NetNs::new("skf");
    let h = open(&ns);
    let (p4, pb, p6, pd) = (h.p4, h.pb, h.p6, h.pd);
    // (flags, expression words, least number of rows the expression must match; 0 = must be empty).
    let cases: Vec<(&[&str], String, usize)> = vec![
        // sport / dport with each operator spelling.
        (&["-tan"], format!("sport = :{p4}"), 3),
        (&["-tan"], format!("sport == {p4}"), 3),
        (&["-tan"], format!("sport eq :{p4}"), 3),
        (&["-tan"], format!("sport :{p4}"), 3),
        (&["-tan"], format!("sport != :{p4}"), 10),
        (&["-tan"], format!("sport ne :{p4}"), 10),
        (&["-tan"], format!("sport neq :{p4}"), 10),
        (&["-tan"], "sport < :1024".into(), 4),
        (&["-tan"], "sport lt :443".into(), 2),
        (&["-tan"], "sport > :443".into(), 10),
        (&["-tan"], "sport gt :22".into(), 10),
        (&["-tan"], "sport <= :443".into(), 4),
        (&["-tan"], "sport le :22".into(), 2),
        (&["-tan"], "sport leq :22".into(), 2),
        (&["-tan"], "sport >= :443".into(), 10),
        (&["-tan"], "sport ge :443".into(), 10),
        (&["-tan"], "sport geq :1024".into(), 10),
        (&["-tan"], format!("dport = :{p4}"), 3),
        (&["-tan"], "dport = :0".into(), 7),
        (&["-tan"], format!("dport != :{p6}"), 10),
        (&["-tan"], "dport < :1024".into(), 9),
        (&["-tan"], "dport > :1024".into(), 10),
        (&["-tan"], format!("dport >= {pd}"), 1),
        (&["-tan"], format!("dport <= {pd}"), 7),
        // Named ports (IANA names, as ss reads /etc/services).
        (&["-tan"], "sport = :ssh".into(), 2),
        (&["-tan"], "dport = :ssh".into(), 1),
        (&["-tan"], "sport = :https or dport = :https".into(), 3),
        (&["-uan"], "sport = :domain".into(), 1),
        // src / dst: addresses, prefixes, ports, IPv6, wildcards, IPv4-mapped.
        (&["-tan"], "src 127.0.0.1".into(), 6),
        (&["-tan"], "src 127.0.0.0/8".into(), 10),
        (&["-tan"], "src 127.0.0.0/24".into(), 9),
        (&["-tan"], "src 127.0.0.0/255.255.255.0".into(), 9),
        (&["-tan"], "src 127.0.0.2".into(), 2),
        (&["-tan"], format!("dst 127.0.0.2:{pb}"), 1),
        (&["-tan"], "dst 127.0.0.1".into(), 6),
        (&["-tan"], "dst = 127.0.0.0/8".into(), 6),
        (&["-tan"], "src 127.0.0.1:22".into(), 2),
        (&["-tan"], format!("src 127.0.0.0/8:{p4}"), 3),
        (&["-tan"], "src [::1]".into(), 6),
        (&["-tan"], "src [::1]:443".into(), 2),
        (&["-tan"], "src ::1:443".into(), 2),
        (&["-tan"], "dst [::1]:443".into(), 1),
        (&["-tan"], format!("dst [::1]:{p6}"), 1),
        (&["-tan"], "src [::1/128]".into(), 6),
        (&["-tan"], "src ::/0".into(), 8),
        (&["-tan"], "src [::]".into(), 1),
        (&["-tan"], "src [::ffff:127.0.0.1]".into(), 1),
        (&["-tan"], format!("src [::ffff:127.0.0.0/104]:{pd}"), 1),
        (&["-tan"], "src *:22".into(), 2),
        (&["-tan"], "src :22".into(), 2),
        (&["-tan"], "dst *".into(), 20),
        (&["-tan"], "src 10.0.0.0/8".into(), 0),
        (&["-tan"], "dst 127.0.0.0/8 and not sport = :22".into(), 4),
        // not / and / or / parentheses, and ss's precedence: and/or equal, left to right.
        (
            &["-tan"],
            "sport = :22 or sport = :443 and dport = :0".into(),
            2,
        ),
        (
            &["-tan"],
            "sport = :22 or ( sport = :443 and dport = :0 )".into(),
            3,
        ),
        (&["-tan"], "not sport = :22 or sport = :443".into(), 10),
        (&["-tan"], "not sport = :22 and not sport = :443".into(), 10),
        (&["-tan"], "not ( sport = :22 or sport = :443 )".into(), 10),
        (
            &["-tan"],
            "! ( sport = :22 || dport = :22 ) && src 127.0.0.1".into(),
            3,
        ),
        (
            &["-tan"],
            "( sport = :22 | dport = :22 ) & src 127.0.0.1".into(),
            3,
        ),
        (&["-tan"], "src 127.0.0.1 sport = :22".into(), 2),
        (&["-tan"], "not not sport = :22".into(), 2),
        (&["-tan"], "( ( sport = :22 ) )".into(), 2),
        // One shell word holding the whole expression, as ss reads it.
        (&["-tn"], "( dport = :443 or dport = :22 )".into(), 2),
        // state / exclude, ss's names and groups.
        (&["-tan"], "state established".into(), 12),
        (&["-tan"], "state listening".into(), 7),
        (&["-tan"], "state time-wait".into(), 1),
        (&["-tan"], "state close-wait state fin-wait-2".into(), 2),
        (&["-tan"], "state connected".into(), 15),
        (&["-tan"], "state synchronized".into(), 15),
        (&["-tan"], "state bucket".into(), 1),
        (&["-tan"], "state big".into(), 15),
        (&["-tan"], "state all".into(), 20),
        (&["-tan"], "exclude listening".into(), 15),
        (&["-tan"], "exclude established exclude listening".into(), 3),
        (&["-tan"], "state established ( sport = :ssh )".into(), 1),
        (&["-tan"], format!("state connected dport = :{p4}"), 3),
        (&["-tln"], "state established".into(), 12),
        (&["-tln"], "src 127.0.0.0/8".into(), 4),
        // UDP, both protocols, families.
        (&["-uan"], "src 127.0.0.1".into(), 4),
        (&["-uan"], "src [::1]".into(), 1),
        (&["-uan"], "state connected".into(), 1),
        (&["-uan"], "exclude closed".into(), 1),
        (&["-uan"], "state closed".into(), 4),
        (&["-tuan"], "sport < :1024".into(), 5),
        (&["-tuan"], "src 127.0.0.1 and not dport = :0".into(), 5),
        (&["-tan4"], "src 127.0.0.0/8".into(), 9),
        (&["-tan6"], "src [::ffff:127.0.0.0/104]".into(), 1),
        (&["-tan6"], "src ::/0".into(), 8),
        // dev and autobound.
        (&["-uan"], "dev lo".into(), 1),
        (&["-uan"], "dev = lo".into(), 1),
        (&["-uan"], "dev != lo".into(), 4),
        (&["-tan"], "not dev lo".into(), 20),
        (&["-tan"], "autobound".into(), 10),
        (&["-tan"], "not autobound".into(), 2),
        (&["-uan"], "not autobound".into(), 1),
        (&["-uan"], "autobound".into(), 3),
    ];
    let mut failures = Vec::new();
    for (flags, expr, least) in &cases {
        let w = if expr.starts_with("( dport = :443 or") {
            vec![expr.clone()]
        } else {
            words(expr)
        };
        let (diff, n) = compare(&ns, flags, &w);
        if let Some(d) = diff {
            failures.push(d);
        } else if (*least == 0 && n != 0) || n < *least {
            failures.push(format!(
                "{flags:?} {expr}: {n} rows, expected {}",
                if *least == 0 {
                    "none".to_string()
                } else {
                    format!("at least {least}")
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} expressions differ from ss:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    drop(h);
}

#[test]
fn attached_parentheses_proc_source_and_summary_agree() {
    if !common::can_netns("filter_forms") {
        return;
    }
    let ns = NetNs::new("skg");
    let h = open(&ns);
    let rows = |flags: &[&str], w: &[&str], env| {
        let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        netdiag_rows(&netdiag_json(&ns, flags, &w, env), true, true)
    };
    let spaced = rows(
        &["-ta"],
        &["(", "sport", "=", ":22", ")", "or", "sport", "=", ":443"],
        None,
    );
    assert_eq!(spaced.len(), 4, "{spaced:?}");
    // Parentheses touching their neighbours (ss refuses these; netdiag reads them the same).
    assert_eq!(
        rows(
            &["-ta"],
            &["(sport", "=", ":22)", "or", "sport", "=", ":443"],
            None
        ),
        spaced
    );
    assert_eq!(
        rows(&["-ta"], &["(sport = :22) or (sport = :443)"], None),
        spaced
    );
    // A bare IPv6 address (ss wants brackets) is taken whole.
    assert_eq!(
        rows(&["-ta"], &["src", "::1", "and", "sport", "=", ":443"], None).len(),
        2
    );
    // /proc/net rows are filtered the same way.
    let p4 = h.p4.to_string();
    let expr = [
        "src",
        "127.0.0.0/8",
        "and",
        "(",
        "sport",
        "=",
        &p4,
        "or",
        "dport",
        "=",
        &p4,
        ")",
    ];
    let nl = rows(&["-ta"], &expr, None);
    assert_eq!(nl.len(), 6, "{nl:?}");
    assert_eq!(
        rows(&["-ta"], &expr, Some(("NETDIAG_SOCKETS_SOURCE", "proc"))),
        nl
    );
    // --summary counts what the filter lists.
    let w: Vec<String> = expr.iter().map(|s| s.to_string()).collect();
    let s = netdiag_json(&ns, &["-s", "-t"], &w, None);
    assert_eq!(s["total"], 6, "{s}");
    // Filters combine with the other flags.
    assert_eq!(rows(&["-tl"], &expr, None).len(), 1);
    assert_eq!(
        rows(&["-ta", "--port", "22"], &["sport", "=", ":22"], None).len(),
        2
    );
    drop(h);
}

#[test]
fn bad_filters_are_one_line_and_exit_2() {
    for (w, needle) in [
        ("sport = :22 foo", "unexpected 'foo' at word 4"),
        ("frobnicate", "expected sport, dport, src, dst"),
        ("( sport = :22", "not closed"),
        ("sport = :22 )", "unmatched ')'"),
        ("sport", "needs a value"),
        ("sport = :nosuchsvc", "not a port number or a service name"),
        ("dport > 99999", "out of range"),
        ("src 10.0.0.0/40", "not an address or prefix"),
        ("dst no.such.name", "host names are not looked up"),
        ("sport = :22 or", "needs a condition after it"),
        ("or sport = :22", "needs a condition before it"),
        ("state nosuch", "unknown state 'nosuch'"),
        ("state", "needs a state name"),
        (
            "sport = :22 state listening",
            "must come before the expression",
        ),
        ("sport = :22 , sport = :80", "unexpected ','"),
        ("src [::1:22", "without ']'"),
        ("fwmark = 0x1", "not supported"),
        ("dev = nosuchif0", "no interface 'nosuchif0'"),
        ("src 127.0.0.1 -6", "-6 lists IPv6 sockets only"),
    ] {
        let mut args = vec!["sockets", "-t"];
        if w.contains("-6") {
            args.push("-6");
        }
        args.extend(w.split(' ').filter(|x| *x != "-6"));
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{w}: {err}");
        assert!(out.is_empty(), "{w}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{w}: {err}");
        assert!(
            err.starts_with("netdiag: error: invalid filter"),
            "{w}: {err}"
        );
        assert!(err.contains(needle), "{w}: {err}");
        assert!(!err.contains("panicked"), "{w}: {err}");
    }
}
