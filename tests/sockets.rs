//! `netdiag sockets`: real sockets opened by the test, listed through netlink and /proc/net, filtered, owned.
//!
//! Most tests run inside a network namespace of their own, so the socket table holds exactly the test's sockets
//! and the expected rows are exact. Network rule: loopback only, inside namespaces the tests create.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{netdiag, run, NetNs};
use serde_json::Value;

/// A row as (proto, state, local, peer), addresses as `ip:port`.
type Key = (String, String, String, String);

/// Runs a command that must exit 0 and print JSON; returns the JSON.
fn json(mut c: Command) -> Value {
    let o = c.output().expect("run netdiag");
    let (code, out, err) = common::decode(o);
    assert_eq!(code, 0, "exit {code}\nstdout: {out}\nstderr: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
}

/// `netdiag --json sockets ARGS` inside a namespace.
fn ns_json(ns: &NetNs, args: &[&str]) -> Value {
    let mut c = ns.netdiag();
    c.arg("--json").arg("sockets").args(args);
    json(c)
}

fn rows(v: &Value) -> Vec<Value> {
    v["sockets"].as_array().expect("sockets array").clone()
}

/// (proto, state, local, peer) of each row, addresses as `ip:port`.
fn keys(v: &Value) -> BTreeSet<Key> {
    rows(v)
        .iter()
        .map(|r| {
            let ep = |e: &Value| format!("{}:{}", e["address"].as_str().unwrap_or("?"), e["port"]);
            (
                r["protocol"].as_str().unwrap_or("?").to_string(),
                r["state"].as_str().unwrap_or("?").to_string(),
                ep(&r["local"]),
                ep(&r["peer"]),
            )
        })
        .collect()
}

fn key(proto: &str, state: &str, local: SocketAddr, peer: Option<SocketAddr>) -> Key {
    let ep = |a: SocketAddr| format!("{}:{}", a.ip(), a.port());
    let peer = match (peer, local) {
        (Some(p), _) => ep(p),
        (None, SocketAddr::V4(_)) => "0.0.0.0:0".to_string(),
        (None, SocketAddr::V6(_)) => ":::0".to_string(),
    };
    (proto.into(), state.into(), ep(local), peer)
}

/// Sockets the test holds in its namespace: TCP v4 and v6 listeners each with one connection (both ends),
/// two unconnected UDP sockets (v4, v6) and one connected UDP socket.
struct Held {
    l4: TcpListener,
    c4: TcpStream,
    a4: TcpStream,
    l6: TcpListener,
    c6: TcpStream,
    a6: TcpStream,
    u4: UdpSocket,
    u6: UdpSocket,
    uc: UdpSocket,
}

impl Held {
    fn open(ns: &NetNs) -> Held {
        ns.enter(|| {
            let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
            let c4 = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
            let (a4, _) = l4.accept().unwrap();
            let l6 = TcpListener::bind("[::1]:0").unwrap();
            let c6 = TcpStream::connect(l6.local_addr().unwrap()).unwrap();
            let (a6, _) = l6.accept().unwrap();
            let u4 = UdpSocket::bind("127.0.0.1:0").unwrap();
            let u6 = UdpSocket::bind("[::1]:0").unwrap();
            let uc = UdpSocket::bind("127.0.0.1:0").unwrap();
            uc.connect(u4.local_addr().unwrap()).unwrap();
            Held {
                l4,
                c4,
                a4,
                l6,
                c6,
                a6,
                u4,
                u6,
                uc,
            }
        })
    }

    fn la(s: &impl Local) -> SocketAddr {
        s.local()
    }

    fn tcp_keys(&self) -> Vec<Key> {
        let l4 = Self::la(&self.l4);
        let l6 = Self::la(&self.l6);
        vec![
            key("tcp", "listen", l4, None),
            key("tcp", "established", Self::la(&self.c4), Some(l4)),
            key(
                "tcp",
                "established",
                Self::la(&self.a4),
                Some(Self::la(&self.c4)),
            ),
            key("tcp", "listen", l6, None),
            key("tcp", "established", Self::la(&self.c6), Some(l6)),
            key(
                "tcp",
                "established",
                Self::la(&self.a6),
                Some(Self::la(&self.c6)),
            ),
        ]
    }

    fn udp_keys(&self) -> Vec<Key> {
        vec![
            key("udp", "unconn", Self::la(&self.u4), None),
            key("udp", "unconn", Self::la(&self.u6), None),
            key(
                "udp",
                "established",
                Self::la(&self.uc),
                Some(Self::la(&self.u4)),
            ),
        ]
    }
}

trait Local {
    fn local(&self) -> SocketAddr;
}
impl Local for TcpListener {
    fn local(&self) -> SocketAddr {
        self.local_addr().unwrap()
    }
}
impl Local for TcpStream {
    fn local(&self) -> SocketAddr {
        self.local_addr().unwrap()
    }
}
impl Local for UdpSocket {
    fn local(&self) -> SocketAddr {
        self.local_addr().unwrap()
    }
}

fn set<I: IntoIterator<Item = Key>>(i: I) -> BTreeSet<Key> {
    i.into_iter().collect()
}

#[test]
fn own_tcp_and_udp_sockets_appear_with_state_addresses_and_pid() {
    if !common::can_netns("own_sockets") {
        return;
    }
    let ns = NetNs::new("sko");
    let h = Held::open(&ns);
    let v = ns_json(&ns, &["-p"]);
    assert_eq!(v["source"], "netlink");
    assert_eq!(v["processes"], true);
    let want = set(h.tcp_keys().into_iter().chain(h.udp_keys()));
    assert_eq!(keys(&v), want);
    let me = std::process::id();
    for r in rows(&v) {
        let owners = r["owners"].as_array().expect("owners with -p");
        assert!(
            owners.iter().any(|o| o["pid"] == me),
            "row not owned by the test (pid {me}): {r}"
        );
        assert!(r["inode"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["uid"], 0, "{r}");
    }
    // The default view (no -p) has no owner columns.
    let v = ns_json(&ns, &[]);
    assert_eq!(keys(&v), want);
    assert!(rows(&v).iter().all(|r| r.get("owners").is_none()));
}

#[test]
fn each_filter_returns_exactly_the_expected_rows() {
    if !common::can_netns("filters") {
        return;
    }
    let ns = NetNs::new("skf");
    let h = Held::open(&ns);
    let t = h.tcp_keys();
    let u = h.udp_keys();
    let p4 = h.l4.local_addr().unwrap().port().to_string();
    let p6 = h.l6.local_addr().unwrap().port().to_string();
    let pu = h.u4.local_addr().unwrap().port().to_string();
    let me = std::process::id().to_string();
    let cases: Vec<(Vec<&str>, Vec<&Key>)> = vec![
        (vec!["-t"], t.iter().collect()),
        (vec!["-u"], u.iter().collect()),
        (vec!["-tu", "-a"], t.iter().chain(&u).collect()),
        (vec!["-l"], vec![&t[0], &t[3], &u[0], &u[1]]),
        (vec!["-tl"], vec![&t[0], &t[3]]),
        (vec!["-ul"], vec![&u[0], &u[1]]),
        (
            vec!["--state", "established"],
            vec![&t[1], &t[2], &t[4], &t[5], &u[2]],
        ),
        (
            vec!["-t", "--state", "established"],
            vec![&t[1], &t[2], &t[4], &t[5]],
        ),
        (
            vec!["--state", "listen,unconn"],
            vec![&t[0], &t[3], &u[0], &u[1]],
        ),
        (vec!["--state", "time-wait"], vec![]),
        (vec!["--port", &p4], vec![&t[0], &t[1], &t[2]]),
        (vec!["--port", &p4, "--port", &p6], t.iter().collect()),
        (vec!["--port", &pu], vec![&u[0], &u[2]]),
        (vec!["--port", &p4, "-6"], vec![]),
        (vec!["--port", &p4, "-l"], vec![&t[0]]),
        (vec!["-6"], vec![&t[3], &t[4], &t[5], &u[1]]),
        (vec!["-4", "-u"], vec![&u[0], &u[2]]),
        (vec!["-4", "-t", "-l"], vec![&t[0]]),
        (vec!["--pid", &me, "-t"], t.iter().collect()),
        (vec!["--pid", "1"], vec![]),
    ];
    for (args, want) in cases {
        let v = ns_json(&ns, &args);
        assert_eq!(
            keys(&v),
            want.into_iter().cloned().collect::<BTreeSet<_>>(),
            "netdiag sockets {args:?}"
        );
        if args.contains(&"--pid") {
            assert_eq!(v["processes"], true, "--pid shows owners");
        }
    }
    drop(h);
}

#[test]
fn rows_are_sorted_by_protocol_then_local_port() {
    if !common::can_netns("sorted") {
        return;
    }
    let ns = NetNs::new("sks");
    let _h = Held::open(&ns);
    let _more = ns.enter(|| {
        (0..5)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect::<Vec<_>>()
    });
    let v = ns_json(&ns, &[]);
    let order: Vec<(String, u64)> = rows(&v)
        .iter()
        .map(|r| {
            (
                r["protocol"].as_str().unwrap().to_string(),
                r["local"]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.len(), 14);
}

#[test]
fn proc_fallback_lists_the_same_sockets_as_netlink() {
    if !common::can_netns("proc_fallback") {
        return;
    }
    let ns = NetNs::new("skp");
    let h = Held::open(&ns);
    let nl = ns_json(&ns, &["-p"]);
    let pr = ns_json(&ns, &["-p", "--source", "proc"]);
    assert_eq!(pr["source"], "proc");
    assert_eq!(keys(&pr), keys(&nl));
    let inodes = |v: &Value| -> BTreeSet<u64> {
        rows(v)
            .iter()
            .map(|r| r["inode"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(inodes(&pr), inodes(&nl));
    // The environment variable selects it too, and filters apply the same way.
    let mut c = ns.netdiag();
    c.env("NETDIAG_SOCKETS_SOURCE", "proc")
        .args(["--json", "sockets", "-tl"]);
    let v = json(c);
    assert_eq!(v["source"], "proc");
    assert_eq!(
        keys(&v),
        set([h.tcp_keys()[0].clone(), h.tcp_keys()[3].clone()])
    );
}

#[test]
fn counts_agree_with_ss_for_fixed_sockets() {
    if !common::can_netns("ss_counts") {
        return;
    }
    let have_ss = Command::new("ss").arg("-V").output().is_ok();
    if !have_ss {
        eprintln!("skipping ss_counts: ss (iproute2) is not installed");
        return;
    }
    let ns = NetNs::new("skc");
    let _h = Held::open(&ns);
    let _fixed = ns.enter(|| {
        let mut v: Vec<TcpListener> = (0..40)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        v.extend((0..20).map(|_| TcpListener::bind("[::1]:0").unwrap()));
        let u: Vec<UdpSocket> = (0..15)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        (v, u)
    });
    let count =
        |cmd: &str| -> usize { ns.sh(cmd).lines().filter(|l| !l.trim().is_empty()).count() };
    for (args, ss) in [
        (vec!["-t", "-l"], "ss -tlnH"),
        (vec!["-t"], "ss -tanH"),
        (vec!["-u", "-a"], "ss -uanH"),
        (vec!["-t", "-6"], "ss -tan6H"),
        (vec!["-l", "-4"], "ss -tuln4H"),
    ] {
        let v = ns_json(&ns, &args);
        assert_eq!(
            rows(&v).len(),
            count(ss),
            "netdiag sockets {args:?} vs {ss}"
        );
    }
    assert_eq!(rows(&ns_json(&ns, &["-t", "-l"])).len(), 62);
}

#[test]
fn time_wait_sockets_are_listed_without_owner() {
    if !common::can_netns("time_wait") {
        return;
    }
    let ns = NetNs::new("skt");
    let (l, client_port) = ns.enter(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let port = c.local_addr().unwrap().port();
        let (a, _) = l.accept().unwrap();
        drop(c); // the active closer ends in TIME_WAIT once the peer closes too
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        (l, port)
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = ns_json(&ns, &["-t", "--state", "time-wait", "-p"]);
        let r = rows(&v);
        if r.len() == 1 {
            assert_eq!(r[0]["local"]["port"], client_port);
            assert_eq!(r[0]["inode"], 0);
            assert_eq!(r[0]["owners"], serde_json::json!([]));
            break;
        }
        assert!(Instant::now() < deadline, "no TIME_WAIT row: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(l);
}

#[test]
fn unix_sockets_show_path_state_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nd-sockets-test.sock");
    let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let dpath = dir.path().join("nd-sockets-test.dgram");
    let _d = std::os::unix::net::UnixDatagram::bind(&dpath).unwrap();
    let mut c = netdiag();
    c.args(["--json", "sockets", "-x", "-p"]);
    let v = json(c);
    let find = |p: &std::path::Path| {
        rows(&v)
            .into_iter()
            .find(|r| r["local"]["path"].as_str() == p.to_str())
            .unwrap_or_else(|| panic!("{} not listed", p.display()))
    };
    let r = find(&path);
    assert_eq!(r["protocol"], "unix-stream");
    assert_eq!(r["state"], "listen");
    assert!(r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["pid"] == std::process::id()));
    let r = find(&dpath);
    assert_eq!(r["protocol"], "unix-dgram");
    assert_eq!(r["state"], "unconn");
    // Only UNIX rows with --unix alone; listening filter keeps the listener.
    assert!(rows(&v)
        .iter()
        .all(|r| r["protocol"].as_str().unwrap().starts_with("unix-")));
    let mut c = netdiag();
    c.args(["--json", "sockets", "-x", "-l"]);
    let v = json(c);
    assert!(rows(&v)
        .iter()
        .any(|r| r["local"]["path"].as_str() == path.to_str()));
    assert!(rows(&v)
        .iter()
        .all(|r| r["local"]["path"].as_str() != dpath.to_str() || r["state"] == "unconn"));
}

#[test]
fn summary_counts_per_protocol_and_state() {
    if !common::can_netns("summary") {
        return;
    }
    let ns = NetNs::new("skm");
    let _h = Held::open(&ns);
    // A protocol flag makes the summary count rows per state (no flag: the kernel's counters).
    let v = ns_json(&ns, &["--summary", "-tu"]);
    assert_eq!(v["total"], 9);
    assert_eq!(v["source"], "netlink");
    let p = v["protocols"].as_array().unwrap();
    assert_eq!(p[0]["protocol"], "tcp");
    assert_eq!(
        (
            p[0]["total"].as_u64(),
            p[0]["ipv4"].as_u64(),
            p[0]["ipv6"].as_u64()
        ),
        (Some(6), Some(3), Some(3))
    );
    assert_eq!(
        p[0]["states"][0],
        serde_json::json!({"state": "established", "count": 4})
    );
    assert_eq!(
        p[0]["states"][1],
        serde_json::json!({"state": "listen", "count": 2})
    );
    assert_eq!(p[1]["protocol"], "udp");
    assert_eq!(p[1]["total"], 3);
    let o = ns
        .netdiag()
        .args(["sockets", "--summary", "-tu"])
        .output()
        .unwrap();
    let (code, text, _) = common::decode(o);
    assert_eq!(code, 0);
    assert!(text.starts_with("Total: 9 sockets\n"), "{text}");
    assert!(text.contains("tcp    established      4"), "{text}");
}

/// The numbers of one `ss -s` line: `TCP:   6 (estab 4, closed 0, orphaned 0, timewait 0)` or `UDP\t  3  2  1`.
fn ss_numbers(text: &str, prefix: &str) -> Vec<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in ss -s: {text}"));
    line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

#[test]
fn short_summary_reads_kernel_counters_like_ss() {
    if !common::can_netns("short_summary") || !common::need_tool("short_summary", "ss", "iproute2")
    {
        return;
    }
    let ns = NetNs::new("sks");
    // Known sockets in a fresh namespace: 2 TCP listeners and 2 connections (4 established ends) over IPv4 and
    // IPv6, 3 UDP sockets (2 IPv4, 1 IPv6), and one extra IPv4 listener.
    let _h = Held::open(&ns);
    let _extra = ns.listen("127.0.0.1:0");
    let v = ns_json(&ns, &["-s"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["source"], "counters");
    assert_eq!(v["tcp"]["established"], 4, "{v}");
    assert_eq!(v["tcp"]["time_wait"], 0, "{v}");
    let proto = |name: &str| {
        v["protocols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["protocol"] == name)
            .unwrap_or_else(|| panic!("no {name} in {v}"))
            .clone()
    };
    let tcp = proto("tcp");
    assert_eq!(
        (tcp["ipv4"].as_u64(), tcp["ipv6"].as_u64()),
        (Some(4), Some(3)),
        "{v}"
    );
    let udp = proto("udp");
    assert_eq!(
        (udp["ipv4"].as_u64(), udp["ipv6"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    // The same counters as ss -s in the same namespace (the TCP line's totals come from kernel-wide counters that
    // other processes move, so compare its per-namespace parts: estab and timewait).
    let ss = ns.sh("ss -s");
    let line = ss_numbers(&ss, "TCP:");
    assert_eq!(line[1], 4, "{ss}");
    assert_eq!(line[4], 0, "{ss}");
    for (row, name) in [
        ("RAW", "raw"),
        ("UDP", "udp"),
        ("TCP\t", "tcp"),
        ("INET", "inet"),
        ("FRAG", "frag"),
    ] {
        let n = ss_numbers(&ss, row);
        let p = proto(name);
        assert_eq!(
            vec![
                p["total"].as_u64().unwrap(),
                p["ipv4"].as_u64().unwrap(),
                p["ipv6"].as_u64().unwrap()
            ],
            n[..3].to_vec(),
            "{name}: {v} vs {ss}"
        );
    }
    let o = ns.netdiag().args(["sockets", "-s"]).output().unwrap();
    let (code, text, _) = common::decode(o);
    assert_eq!(code, 0);
    assert!(
        text.contains("TCP:   ") && text.contains("(estab 4, closed "),
        "{text}"
    );
    let o = ns
        .netdiag()
        .args(["--format", "csv", "sockets", "-s"])
        .output()
        .unwrap();
    let (code, text, _) = common::decode(o);
    assert_eq!(code, 0);
    assert!(text.contains("tcp,7,4,3\n"), "{text}");
}

#[test]
fn table_text_shows_addresses_services_and_owner() {
    if !common::can_netns("table_text") {
        return;
    }
    let ns = NetNs::new("skx");
    let h = Held::open(&ns);
    let ssh = ns.listen("127.0.0.1:22");
    let o = ns.netdiag().args(["sockets", "-tlp"]).output().unwrap();
    let (code, text, err) = common::decode(o);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("PROTO  STATE   RECV-Q  SEND-Q  LOCAL"),
        "{text}"
    );
    // -p adds exactly the owner columns, last: the whole header, in order.
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "UID", "INODE", "PID", "PROGRAM"],
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
    let p4 = h.l4.local_addr().unwrap().port();
    let p6 = h.l6.local_addr().unwrap().port();
    assert!(
        lines[1].contains("127.0.0.1:22 ") && lines[1].contains("listen"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{p4} ")), "{text}");
    assert!(text.contains(&format!("[::1]:{p6} ")), "{text}");
    assert!(
        text.contains(&format!(" {} ", std::process::id())),
        "{text}"
    );
    let o = ns
        .netdiag()
        .args(["sockets", "-tl", "--services", "--port", "22"])
        .output()
        .unwrap();
    let (code, text, _) = common::decode(o);
    assert_eq!(code, 0);
    assert!(text.contains("127.0.0.1:ssh"), "{text}");
    // 127.0.0.1 is `localhost` in /etc/hosts (the namespace shares it): --resolve shows the name, not the number.
    let o = ns
        .netdiag()
        .args(["sockets", "-tl", "--resolve", "--port", "22"])
        .output()
        .unwrap();
    let (code, text, err) = common::decode(o);
    assert_eq!(code, 0, "{err}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(" localhost:22 "), "{text}");
    assert!(!text.contains("127.0.0.1:22"), "{text}");
    // Without --resolve the same socket is shown numerically.
    let o = ns
        .netdiag()
        .args(["sockets", "-tl", "--port", "22"])
        .output()
        .unwrap();
    let (code, text, err) = common::decode(o);
    assert_eq!(code, 0, "{err}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(" 127.0.0.1:22 "), "{text}");
    assert!(!text.contains("localhost"), "{text}");
    drop(ssh);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (args, needle) in [
        (vec!["sockets", "--state", "bogus"], "invalid state 'bogus'"),
        (vec!["sockets", "--port", "70000"], "70000"),
        (vec!["sockets", "--port", "1-2-3"], "invalid port"),
        (vec!["sockets", "--pid", "abc"], "abc"),
        (
            vec!["sockets", "--source", "nope"],
            "invalid socket source 'nope'",
        ),
        (vec!["sockets", "-4", "-6"], "cannot be used"),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("netdiag: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = netdiag()
        .args(["sockets", "-x", "-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Issue 8: `sockets -p` while processes holding sockets start and exit still prints its table and exits 0.
#[test]
fn owners_walk_survives_processes_that_come_and_go() {
    use std::os::fd::AsRawFd;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let fd = l.as_raw_fd();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut kids: Vec<std::process::Child> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut spawned = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && Instant::now() < deadline
                && spawned < 20_000
            {
                let mut c = Command::new("sleep");
                c.arg(if spawned.is_multiple_of(2) {
                    "0.01"
                } else {
                    "0.2"
                });
                // SAFETY: dup2 is async-signal-safe; the child gets the listener as fd 3 (without CLOEXEC).
                unsafe {
                    c.pre_exec(move || {
                        if libc::dup2(fd, 3) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                if let Ok(k) = c.stdout(Stdio::null()).spawn() {
                    kids.push(k);
                    spawned += 1;
                }
                // Kill some early, reap the ones that finished.
                if spawned.is_multiple_of(3) {
                    if let Some(k) = kids.first_mut() {
                        let _ = k.kill();
                    }
                }
                kids.retain_mut(|k| !matches!(k.try_wait(), Ok(Some(_))));
                while kids.len() > 24 {
                    let mut k = kids.remove(0);
                    let _ = k.kill();
                    let _ = k.wait();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            for mut k in kids {
                let _ = k.kill();
                let _ = k.wait();
            }
            spawned
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let me = std::process::id();
    for i in 0..16 {
        let p = port.to_string();
        let args: Vec<&str> = if i % 2 == 0 {
            vec!["--json", "sockets", "-tp", "--port", &p]
        } else {
            vec!["--json", "sockets", "-p"]
        };
        let mut c = netdiag();
        c.args(&args);
        let v = json(c);
        let ours = rows(&v)
            .into_iter()
            .find(|r| r["local"]["port"] == port && r["protocol"] == "tcp")
            .unwrap_or_else(|| panic!("listener {port} missing in run {i}"));
        assert!(
            ours["owners"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["pid"] == me),
            "run {i}: {ours}"
        );
        // The text table prints too.
        let o = netdiag()
            .args(["sockets", "-tp", "--port", &p])
            .output()
            .unwrap();
        let (code, text, err) = common::decode(o);
        assert_eq!(code, 0, "run {i}: {err}");
        assert!(
            text.starts_with("PROTO") && text.contains(&format!("127.0.0.1:{port}")),
            "{text}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let spawned = churn.join().unwrap();
    assert!(
        spawned > 10,
        "the churn thread only spawned {spawned} processes"
    );
    drop(l);
}

/// Issue 17 item 13: a dual-stack wildcard listener (IPV6_V6ONLY off) and an IPv6-only one are both bound to
/// `::`; ss writes the first `*:PORT` and the second `[::]:PORT`, and so must the table, with `v6only` in the
/// JSON. Checked against `ss -tulnH` in the same namespace.
#[test]
fn dual_stack_and_v6only_wildcards_are_told_apart_as_ss_does() {
    if !common::can_netns("v6only") {
        return;
    }
    use socket2::{Domain, Protocol, Socket, Type};
    let ns = NetNs::new("sk6");
    let socks = ns.enter(|| {
        let mk = |ty: Type, proto: Protocol, v6only: bool| {
            let s = Socket::new(Domain::IPV6, ty, Some(proto)).unwrap();
            s.set_only_v6(v6only).unwrap();
            s.bind(&"[::]:0".parse::<SocketAddr>().unwrap().into())
                .unwrap();
            if ty == Type::STREAM {
                s.listen(16).unwrap();
            }
            s
        };
        vec![
            mk(Type::STREAM, Protocol::TCP, false),
            mk(Type::STREAM, Protocol::TCP, true),
            mk(Type::DGRAM, Protocol::UDP, false),
            mk(Type::DGRAM, Protocol::UDP, true),
        ]
    });
    let port = |i: usize| -> u16 { socks[i].local_addr().unwrap().as_socket().unwrap().port() };
    // ss's answer: protocol, local, peer.
    let ss: BTreeSet<(String, String, String)> = ns
        .sh("ss -tulnH")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].to_string(), f[4].to_string(), f[5].to_string()))
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("tcp", format!("*:{}", port(0)), "*:*"),
        ("tcp", format!("[::]:{}", port(1)), "[::]:*"),
        ("udp", format!("*:{}", port(2)), "*:*"),
        ("udp", format!("[::]:{}", port(3)), "[::]:*"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b, c.to_string()))
    .collect();
    assert_eq!(ss, want, "ss -tulnH");
    // netdiag's table, piped: PROTO STATE RECV-Q SEND-Q LOCAL PEER ...
    let (code, out, err) = common::decode(
        ns.netdiag()
            .args(["sockets", "-tul"])
            .output()
            .expect("run"),
    );
    assert_eq!(code, 0, "{err}");
    let table: BTreeSet<(String, String, String)> = out
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].to_string(), f[4].to_string(), f[5].to_string()))
        })
        .collect();
    assert_eq!(table, ss, "netdiag sockets -tul vs ss -tulnH:\n{out}");
    // The JSON keeps the address `::` and says which is which.
    let v = ns_json(&ns, &["-tul"]);
    for (i, v6only) in [(0, false), (1, true), (2, false), (3, true)] {
        let row = rows(&v)
            .into_iter()
            .find(|r| r["local"]["port"] == port(i))
            .unwrap_or_else(|| panic!("port {} missing: {v}", port(i)));
        assert_eq!(row["local"]["address"], "::", "{row}");
        assert_eq!(row["v6only"], v6only, "{row}");
    }
    // IPv4 sockets carry no v6only; /proc/net cannot say, so the fallback leaves it out.
    let _v4 = ns.listen("127.0.0.1:0");
    let v = ns_json(&ns, &["-tl"]);
    assert!(rows(&v)
        .iter()
        .any(|r| r["local"]["address"] == "127.0.0.1" && r.get("v6only").is_none()));
    let pr = ns_json(&ns, &["-tl", "--source", "proc"]);
    assert!(rows(&pr).iter().all(|r| r.get("v6only").is_none()), "{pr}");
}

/// The value after `key` (e.g. `cwnd:`) in ss output, up to the next space.
fn ss_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)? + key.len();
    text[at..].split_whitespace().next()
}

#[test]
fn tcp_info_and_timers_agree_with_ss() {
    if !common::can_netns("tcp_info") {
        return;
    }
    if Command::new("ss").arg("-V").output().is_err() {
        eprintln!("skipping tcp_info: ss (iproute2) is not installed");
        return;
    }
    let ns = NetNs::new("ski");
    let (_l, _c, _a, port, tw_port) = ns.enter(|| {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on an open socket with a c_int option value.
        let rc = unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_KEEPALIVE,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let (mut a, _) = l.accept().unwrap();
        c.write_all(&[7u8; 5000]).unwrap();
        let mut buf = [0u8; 5000];
        a.read_exact(&mut buf).unwrap();
        a.write_all(b"back").unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).unwrap();
        // A TIME_WAIT socket for the timewait timer.
        let t = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let tw_port = t.local_addr().unwrap().port();
        let (ta, _) = l.accept().unwrap();
        drop(t);
        std::thread::sleep(Duration::from_millis(50));
        drop(ta);
        std::thread::sleep(Duration::from_millis(200)); // let the last ACKs land
        let port = c.local_addr().unwrap().port();
        (l, c, a, port, tw_port)
    });
    let find = |v: &Value, p: u16| -> Value {
        rows(v)
            .into_iter()
            .find(|r| r["local"]["port"] == p)
            .unwrap_or_else(|| panic!("no row for port {p}: {v}"))
    };

    // -i: the client's tcp_info against ss -tin for the same socket.
    let v = ns_json(&ns, &["-t", "-i"]);
    let info = find(&v, port)["tcp_info"].clone();
    let ss = ns.sh(&format!("ss -tinH sport = :{port}"));
    let cwnd: u64 = ss_field(&ss, "cwnd:").unwrap().parse().unwrap();
    assert_eq!(info["cwnd"], cwnd, "netdiag {info} vs ss {ss}");
    let ss_rtt: f64 = ss_field(&ss, "rtt:")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    let rtt = info["rtt_ms"].as_f64().unwrap();
    assert!((rtt - ss_rtt).abs() < 50.0, "rtt {rtt} vs ss {ss_rtt}");
    assert!(info["rto_ms"].as_f64().unwrap() >= 200.0, "{info}");
    assert!(info["bytes_acked"].as_u64().unwrap() >= 5000, "{info}");
    assert!(info["bytes_received"].as_u64().unwrap() >= 4, "{info}");
    for k in [
        "rttvar_ms",
        "retransmits",
        "total_retrans",
        "delivery_rate_bps",
    ] {
        assert!(info.get(k).is_some(), "{k} missing: {info}");
    }
    assert!(find(&v, port).get("timer").is_none(), "timer without -o");

    // -o: timer kinds against ss -tno.
    let v = ns_json(&ns, &["-t", "-o"]);
    for (p, kind) in [(port, "keepalive"), (tw_port, "timewait")] {
        let row = find(&v, p);
        let ss = ns.sh(&format!("ss -tanoH sport = :{p}"));
        let ss_kind = ss_field(&ss, "timer:(")
            .and_then(|t| t.split(',').next())
            .unwrap_or_else(|| panic!("no timer in ss: {ss}"));
        assert_eq!(ss_kind, kind, "{ss}");
        assert_eq!(row["timer"]["kind"], kind, "{row} vs ss {ss}");
        assert!(row["timer"]["expires_ms"].as_u64().is_some(), "{row}");
        assert!(row.get("tcp_info").is_none(), "tcp_info without -i");
    }

    // The table carries both columns.
    let (code, out, err) = ns.run(&["sockets", "-t", "-i", "-o"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("TIMER") && out.contains("TCP-INFO"), "{out}");
    assert!(out.contains("keepalive,") && out.contains("cwnd:"), "{out}");
}
