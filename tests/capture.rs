//! `netdiag capture` against tcpdump: filters, pcap files both ways, live kernel filtering, Ctrl-C counts, and
//! the conversation verdicts for real conversations in namespaces the tests create (needs root; skips without).
//!
//! Network rule: all traffic is between two namespaces joined by a veth pair (tests/common::VethPair).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{need_tool, netdiag, VethPair};

/// The veth end inside a namespace.
fn veth(ns: &common::NetNs) -> String {
    let out = ns.sh("ip -o link show type veth");
    let name = out.split(':').nth(1).expect("a veth link").trim();
    name.split('@').next().unwrap().to_string()
}

/// A capture process that has said it is listening; its stderr lines keep coming on `lines`.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `cmd` and waits (up to 30 s) for its "listening on" line.
    fn start(mut cmd: Command) -> Running {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn capture");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains("listening on") => break,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = child.kill();
                    panic!("capture did not start: {seen:?}");
                }
            }
        }
        Running { child, lines: rx }
    }

    /// Ctrl-C, then the exit code, stdout and the rest of stderr.
    fn interrupt(mut self) -> (i32, String, String) {
        self.interrupt_inner()
    }

    fn interrupt_inner(&mut self) -> (i32, String, String) {
        // Let the last packets reach the ring's next block.
        thread::sleep(Duration::from_millis(300));
        // SAFETY: sending SIGINT to our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .expect("stdout once")
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            err.push_str(&l);
            err.push('\n');
        }
        (status.code().unwrap_or(-1), out, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed test must not leave a capture running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn in_ns(ns: &common::NetNs, prog: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.name, prog]);
    c
}

fn netdiag_in(ns: &common::NetNs) -> Command {
    let mut c = in_ns(ns, env!("CARGO_BIN_EXE_netdiag"));
    c.env("NO_COLOR", "1");
    c
}

/// Mixed traffic from a to b: TCP over IPv4 and IPv6 with data, a refused connection, UDP to several ports
/// (with answers on 53), pings both ways of both families. ARP and neighbour discovery come with it.
fn traffic(p: &VethPair) {
    let l = p.b.listen("[::]:8080");
    let srv = thread::spawn(move || {
        for _ in 0..2 {
            if let Ok((mut s, _)) = l.accept() {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"ok");
            }
        }
    });
    let u =
        p.b.enter(|| UdpSocket::bind("[::]:53").expect("bind udp 53"));
    u.set_read_timeout(Some(Duration::from_millis(500))).ok();
    let echo = thread::spawn(move || {
        let mut buf = [0u8; 1500];
        for _ in 0..4 {
            if let Ok((n, from)) = u.recv_from(&mut buf) {
                let _ = u.send_to(&buf[..n], from);
            }
        }
    });
    let (b4, b6): (IpAddr, IpAddr) = (p.b_ip.parse().unwrap(), p.b_ip6.parse().unwrap());
    p.a.enter(move || {
        for b in [b4, b6] {
            let mut s = TcpStream::connect_timeout(&(b, 8080).into(), Duration::from_secs(5))
                .expect("connect 8080");
            s.write_all(&[b'x'; 300]).unwrap();
            s.shutdown(Shutdown::Write).ok();
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
        }
        let _ = TcpStream::connect_timeout(&(b4, 81).into(), Duration::from_secs(5));
        let u = UdpSocket::bind("[::]:0").unwrap();
        u.set_read_timeout(Some(Duration::from_millis(500))).ok();
        for (b, port) in [
            (b4, 53),
            (b6, 53),
            (b4, 5000),
            (b4, 5001),
            (b4, 5003),
            (b4, 5004),
            (b6, 5002),
        ] {
            let _ = u.send_to(b"query", (b, port));
            if port == 53 {
                let mut buf = [0u8; 64];
                let _ = u.recv_from(&mut buf);
            }
        }
    });
    p.a.sh(&format!(
        "ping -c 2 -i 0.2 -W 1 {} >/dev/null; ping -6 -c 2 -i 0.2 -W 1 {} >/dev/null",
        p.b_ip, p.b_ip6
    ));
    p.b.sh(&format!("ping -c 1 -W 1 {} >/dev/null", p.a_ip));
    srv.join().unwrap();
    echo.join().unwrap();
}

/// tcpdump's capture of the traffic in namespace a: on the veth end (Ethernet), and on `any` as Linux cooked v2
/// and v1.
fn reference_pcaps(p: &VethPair, dir: &std::path::Path) -> (String, String, String) {
    let va = veth(&p.a);
    let eth = dir.join("eth.pcap").display().to_string();
    let any = dir.join("any.pcap").display().to_string();
    let sll = dir.join("sll.pcap").display().to_string();
    let mut t1 = in_ns(&p.a, "tcpdump");
    t1.args(["-i", &va, "--immediate-mode", "-U", "-w", &eth]);
    let mut t2 = in_ns(&p.a, "tcpdump");
    t2.args(["-i", "any", "--immediate-mode", "-U", "-w", &any]);
    let mut t3 = in_ns(&p.a, "tcpdump");
    t3.args([
        "-i",
        "any",
        "-y",
        "LINUX_SLL",
        "--immediate-mode",
        "-U",
        "-w",
        &sll,
    ]);
    let (r1, r2, r3) = (Running::start(t1), Running::start(t2), Running::start(t3));
    traffic(p);
    r1.interrupt();
    r2.interrupt();
    r3.interrupt();
    (eth, any, sll)
}

/// The time stamps (epoch, microseconds) of the packets tcpdump shows for a filter, sorted.
fn tcpdump_stamps(file: &str, expr: &str) -> Vec<String> {
    let o = Command::new("tcpdump")
        .args(["-tt", "-nn", "-r", file])
        .arg(expr)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tcpdump {expr}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn netdiag_stamps(file: &str, expr: &str) -> Vec<String> {
    let o = netdiag()
        .args(["capture", "-n", "--time", "epoch", "-r", file])
        .arg(expr)
        .output()
        .unwrap();
    let (code, out, err) = common::decode(o);
    assert_eq!(code, 0, "netdiag capture -r {file} '{expr}': {err}");
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    v.sort();
    v
}

/// The expressions checked against tcpdump: every primitive and their combinations. `A`, `B`, `A6`, `B6`
/// and `NET`/`NET6` stand for the namespaces' addresses and networks.
const FILTERS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "arp",
    "ip",
    "ip6",
    "host B",
    "src host A",
    "dst host B",
    "host B6",
    "src host A6",
    "dst host A6",
    "ip host B",
    "ip6 host B6",
    "arp host B",
    "src or dst host A",
    "src and dst host A",
    "net NET",
    "src net NET",
    "dst net NET6",
    "net 10",
    "ip net NET",
    "ip6 net NET6",
    "port 8080",
    "src port 8080",
    "dst port 8080",
    "tcp port 8080",
    "udp port 53",
    "port 53",
    "tcp dst port 81",
    "udp src port 53",
    "portrange 5000-5002",
    "udp portrange 5001-5003",
    "tcp portrange 8000-8100",
    "dst portrange 5002-5004",
    "port 8080 or 53",
    "tcp port 8080 or 81",
    "not host A and B",
    "tcp and port 8080",
    "not tcp",
    "not (tcp or udp)",
    "tcp or udp and not ip6",
    "icmp or icmp6 or arp",
    "host B and not port 8080",
    "!tcp && !udp",
    "(port 53 or port 8080) and ip6",
    "ip and not icmp",
    "ip6 and udp",
    "dst port 53 and src net NET",
    "udp and (dst portrange 5000-5001 or dst port 5004)",
    "src host B6 or dst host B",
    "not ip6 host B6 and not arp",
];

fn expand(f: &str, p: &VethPair) -> String {
    let net = p.a_ip.rsplit_once('.').unwrap().0.to_string() + ".0/24";
    let net6 = p.a_ip6.trim_end_matches("::1").to_string() + "::/64";
    f.split_whitespace()
        .map(|w| {
            let (pre, core, post) = split_parens(w);
            let core = match core {
                "A" => p.a_ip.clone(),
                "B" => p.b_ip.clone(),
                "A6" => p.a_ip6.clone(),
                "B6" => p.b_ip6.clone(),
                "NET" => net.clone(),
                "NET6" => net6.clone(),
                x => x.to_string(),
            };
            format!("{pre}{core}{post}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_parens(w: &str) -> (&str, &str, &str) {
    let start = w.len() - w.trim_start_matches(['(', '!']).len();
    let end = w.trim_end_matches(')').len();
    (&w[..start], &w[start..end.max(start)], &w[end.max(start)..])
}

#[test]
fn every_filter_selects_the_packets_tcpdump_selects() {
    if !common::can_netns("every_filter_selects_the_packets_tcpdump_selects")
        || !need_tool(
            "every_filter_selects_the_packets_tcpdump_selects",
            "tcpdump",
            "tcpdump",
        )
    {
        return;
    }
    let p = VethPair::new("cflt");
    let dir = tempfile::tempdir().unwrap();
    let (eth, any, sll) = reference_pcaps(&p, dir.path());
    let all = tcpdump_stamps(&eth, "");
    assert!(
        all.len() >= 30,
        "too little traffic captured: {}",
        all.len()
    );
    for f in FILTERS {
        let expr = expand(f, &p);
        for file in [&eth, &any, &sll] {
            let want = tcpdump_stamps(file, &expr);
            let got = netdiag_stamps(file, &expr);
            assert_eq!(
                got,
                want,
                "filter '{expr}' on {file}: netdiag {} packets, tcpdump {}",
                got.len(),
                want.len()
            );
        }
    }
    // The filters are not vacuous: each primitive selects some packets and not all.
    for f in [
        "tcp",
        "udp",
        "icmp",
        "icmp6",
        "arp",
        "ip6",
        "host B6",
        "net NET",
        "port 8080",
        "portrange 5000-5002",
        "tcp dst port 81",
    ] {
        let n = tcpdump_stamps(&eth, &expand(f, &p)).len();
        assert!(n > 0 && n < all.len(), "'{f}' selects {n} of {}", all.len());
    }
}

#[test]
fn malformed_filters_exit_2_with_one_line_naming_the_column() {
    for (f, col) in [
        ("tcp port 80 an udp", 13),
        ("host", 5),
        ("port 99999", 6),
        ("(tcp or udp", 12),
        ("tcp)", 4),
        ("net 10.0.0.1/8", 5),
        ("tcp[13] & 2 != 0", 1),
        ("udp and and", 9),
        ("bogus", 1),
        ("ip6 host 10.0.0.1", 10),
        ("portrange 5-x", 11),
    ] {
        let (code, out, err) = common::run(&["capture", "-r", "/nonexistent.pcap", f]);
        assert_eq!(code, 2, "{f}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{f}: {err}");
        assert!(err.contains(&format!("column {col}")), "{f}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn pcap_files_round_trip_with_tcpdump_and_the_kernel_filter_matches_tcpdump() {
    if !common::can_netns("pcap_round_trip") || !need_tool("pcap_round_trip", "tcpdump", "tcpdump")
    {
        return;
    }
    let p = VethPair::new("cpcp");
    let va = veth(&p.a);
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    let (all, mine, mine_f, mine_any) = (
        path("all.pcap"),
        path("mine.pcap"),
        path("mine-f.pcap"),
        path("mine-any.pcap"),
    );
    let filter = "tcp port 8080 or icmp or (udp and dst portrange 5000-5002)";
    let mut t = in_ns(&p.a, "tcpdump");
    t.args(["-i", &va, "--immediate-mode", "-U", "-w", &all]);
    let mut n1 = netdiag_in(&p.a);
    n1.args(["capture", "-i", &va, "-w", &mine]);
    let mut n2 = netdiag_in(&p.a);
    n2.args(["capture", "-i", &va, "--promisc", "-w", &mine_f, filter]);
    let mut n3 = netdiag_in(&p.a);
    n3.args(["capture", "-i", "any", "-w", &mine_any, "-c", "5", "icmp6"]);
    let running = [
        Running::start(t),
        Running::start(n1),
        Running::start(n2),
        Running::start(n3),
    ];
    traffic(&p);
    let mut results = running.map(Running::interrupt).into_iter();
    let (_, _, terr) = results.next().unwrap();
    let (code, _, err) = results.next().unwrap();
    assert_eq!(code, 130, "{err}");
    let captured: usize = err
        .lines()
        .find_map(|l| l.strip_suffix(" packets captured"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in: {err}"));
    assert!(
        err.contains("packets received by filter") && err.contains("packets dropped by kernel"),
        "{err}"
    );
    // netdiag's file, read by tcpdump: the count netdiag reported.
    let lines = |args: &[&str]| -> Vec<String> {
        let o = Command::new("tcpdump").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(lines(&["-nn", "-r", &mine]).len(), captured);
    // The same file as pcapng (editcap from Wireshark writes it): the same packets and time stamps.
    if need_tool("pcapng", "editcap", "wireshark-common") {
        let ng = path("mine.pcapng");
        common::sh(&format!("editcap -F pcapng {mine} {ng}"));
        let stamps = |f: &str| netdiag_stamps(f, "");
        assert_eq!(stamps(&ng), stamps(&mine));
        assert_eq!(stamps(&ng), tcpdump_stamps(&mine, ""));
    }
    // Per packet and per conversation, as JSON and CSV.
    let (code, out, err) = common::run(&[
        "--json",
        "capture",
        "-r",
        &mine,
        "--conversations",
        "--print",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true);
    let pkts = v["packets"].as_array().unwrap();
    assert_eq!(pkts.len(), captured);
    assert_eq!(v["counts"]["matched"], captured);
    let syn = pkts
        .iter()
        .find(|x| x["tcp"]["flags"] == "SYN" && x["dst"]["port"] == 8080)
        .expect("the SYN to 8080");
    assert_eq!(syn["protocol"], "tcp");
    assert_eq!(syn["dst"]["address"], p.b_ip.as_str());
    assert!(syn["elapsed_ms"].as_f64().is_some() && syn["time"].as_str().unwrap().ends_with('Z'));
    let conv = v["conversations"].as_array().unwrap();
    assert!(
        conv.iter()
            .any(|f| f["server"]["port"] == 8080 && f["state"] == "completed"),
        "{conv:#?}"
    );
    let (code, out, _) = common::run(&["--format", "csv", "capture", "-r", &mine]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().collect();
    assert!(rows[0].starts_with("TIME,INTERFACE,DIRECTION,PROTOCOL,SRC ADDRESS,SRC PORT"));
    assert_eq!(rows.len(), captured + 1);
    assert!(rows
        .iter()
        .any(|r| r.contains(",tcp,") && r.contains(",8080,") && r.contains("SYN")));
    let (code, out, _) =
        common::run(&["--format", "csv", "capture", "-r", &mine, "--conversations"]);
    assert_eq!(code, 0);
    let mut it = out.lines();
    assert!(
        it.next()
            .unwrap()
            .starts_with("#,PROTO,CLIENT,SERVER,PKTS >"),
        "{out}"
    );
    assert!(
        it.any(|r| r.contains(":8080,") && r.ends_with(",completed")),
        "{out}"
    );
    // tcpdump's file, read by netdiag: the count tcpdump reads back, and the same packets netdiag wrote live.
    let theirs = lines(&["-nn", "-r", &all]).len();
    let (code, out, err) = common::run(&["capture", "-n", "-r", &all]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), theirs, "{terr}");
    assert!(err.contains(&format!("{theirs} packets captured")), "{err}");
    // The same packets, but for IPv6 multicast chatter (router solicitations, MLD reports) that the interface
    // sends on its own while one capture has stopped and the other not yet.
    let quiet = "not (ip6 and dst net ff00::/8)";
    assert_eq!(
        lines(&["-t", "-nn", "-r", &mine, quiet]),
        lines(&["-t", "-nn", "-r", &all, quiet]),
        "the two live captures differ"
    );
    // The kernel filter kept exactly what tcpdump's filter selects from the full capture.
    let (code, _, err) = results.next().unwrap();
    assert_eq!(code, 130, "{err}");
    let kept = lines(&["-t", "-nn", "-r", &mine_f]);
    assert!(!kept.is_empty());
    assert_eq!(kept, lines(&["-t", "-nn", "-r", &all, filter]));
    // On `any` (cooked, Linux SLL2), -c stops at the count and tcpdump reads the file.
    let (code, _, err) = results.next().unwrap();
    assert!(code == 0 || code == 130, "{err}");
    let any_lines = lines(&["-nn", "-r", &mine_any]);
    assert!(
        !any_lines.is_empty() && any_lines.len() <= 5,
        "{any_lines:?}"
    );
    assert!(
        any_lines.iter().all(|l| l.contains("ICMP6")),
        "{any_lines:?}"
    );
}

/// Finds the flow to a server port (and family) in `--json` output.
fn flow<'a>(
    flows: &'a [serde_json::Value],
    protocol: &str,
    server: &str,
    port: Option<u16>,
) -> &'a serde_json::Value {
    flows
        .iter()
        .find(|f| {
            f["protocol"] == protocol
                && f["server"]["address"] == server
                && port.is_none_or(|p| f["server"]["port"] == p)
        })
        .unwrap_or_else(|| panic!("no {protocol} flow to {server}:{port:?} in {flows:#?}"))
}

#[test]
fn conversations_explain_real_failures() {
    if !common::can_nft("conversations_explain_real_failures") {
        return;
    }
    let p = VethPair::new("cconv");
    // b drops SYNs to 9, rejects 10 with ICMP admin-prohibited, drops the first large segments to 8081 (up to 4000 bytes, then never again), and
    // drops UDP to 7; nothing listens on TCP 11 or UDP 12.
    p.b.nft_input(
        "tcp dport 9 drop ; tcp dport 10 reject with icmpx type admin-prohibited ; \
         tcp dport 8081 ip length > 200 quota until 4000 bytes drop ; udp dport 7 drop",
    );
    let va = veth(&p.a);
    let mut cmd = netdiag_in(&p.a);
    cmd.args(["capture", "-i", &va, "--conversations", "--json"]);
    let cap = Running::start(cmd);

    // Servers in b: 8080 answers and closes; 8081 reads everything; 8082 never reads (zero window); UDP 53 echoes.
    let l80 = p.b.listen("[::]:8080");
    let l81 = p.b.listen("[::]:8081");
    let l82 = p.b.enter(|| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], 8082)).into())
            .unwrap();
        s.listen(4).unwrap();
        std::net::TcpListener::from(s)
    });
    let servers = thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = l80.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
            let _ = s.write_all(b"ok");
        }
        {
            let (mut s, _) = l81.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
        }
        let (held, _) = l82.accept().unwrap();
        thread::sleep(Duration::from_millis(1500));
        drop(held);
    });
    let u = p.b.enter(|| UdpSocket::bind("[::]:53").unwrap());
    u.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let echo = thread::spawn(move || {
        let mut buf = [0u8; 512];
        if let Ok((n, from)) = u.recv_from(&mut buf) {
            let _ = u.send_to(&buf[..n], from);
        }
    });
    let (b4, b6): (IpAddr, IpAddr) = (p.b_ip.parse().unwrap(), p.b_ip6.parse().unwrap());
    p.a.enter(move || {
        let talk = |b: IpAddr, port: u16, data: &[u8]| {
            let mut s = TcpStream::connect_timeout(&(b, port).into(), Duration::from_secs(5))
                .expect("connect");
            s.write_all(data).unwrap();
            s.shutdown(Shutdown::Write).ok();
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
        };
        talk(b4, 8080, &[b'a'; 300]);
        talk(b6, 8080, &[b'a'; 300]);
        talk(b4, 8081, &[b'r'; 3000]);
        let refused = TcpStream::connect_timeout(&(b4, 11).into(), Duration::from_secs(5));
        assert!(refused.is_err());
        let rejected = TcpStream::connect_timeout(&(b4, 10).into(), Duration::from_secs(5));
        assert!(rejected.is_err());
        let rejected6 = TcpStream::connect_timeout(&(b6, 10).into(), Duration::from_secs(5));
        assert!(rejected6.is_err());
        // The receiver on 8082 stops reading: write until the window closes.
        let mut s = TcpStream::connect_timeout(&(b4, 8082).into(), Duration::from_secs(5)).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(1200))).ok();
        let chunk = [b'z'; 65536];
        for _ in 0..64 {
            if s.write(&chunk).is_err() {
                break;
            }
        }
        let u = UdpSocket::bind("0.0.0.0:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(2))).ok();
        u.send_to(b"q", (b4, 53)).unwrap();
        let mut buf = [0u8; 64];
        assert!(u.recv_from(&mut buf).is_ok());
        u.send_to(b"q", (b4, 7)).unwrap();
        u.send_to(b"q", (b4, 7)).unwrap();
        u.send_to(b"q", (b4, 12)).unwrap();
        // SYNs to 9 go unanswered: Linux sends them at 0, 1 and 3 s.
        let dropped = TcpStream::connect_timeout(&(b4, 9).into(), Duration::from_millis(3500));
        assert!(dropped.is_err());
        drop(s);
    });
    p.a.sh(&format!(
        "ping -c 2 -i 0.2 -W 1 {} >/dev/null; ping -6 -c 2 -i 0.2 -W 1 {} >/dev/null",
        p.b_ip, p.b_ip6
    ));
    servers.join().unwrap();
    echo.join().unwrap();
    let (code, out, err) = cap.interrupt();
    assert_eq!(code, 130, "Ctrl-C ends with 130: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], false);
    assert_eq!(v["interrupted"], true);
    assert!(v["counts"]["received"].as_u64().unwrap() >= v["counts"]["matched"].as_u64().unwrap());
    assert_eq!(v["counts"]["dropped"], 0);
    let flows = v["conversations"].as_array().unwrap();
    let state = |f: &serde_json::Value| f["state"].as_str().unwrap().to_string();
    let cause = |f: &serde_json::Value| f["explanation"]["cause"].as_str().unwrap().to_string();

    for b in [&p.b_ip, &p.b_ip6] {
        let f = flow(flows, "tcp", b, Some(8080));
        assert_eq!(state(f), "completed", "{f:#}");
        assert_eq!(f["explanation"]["verdict"], "ok");
        assert_eq!(f["handshake"]["syns"], 1);
        assert!(
            f["handshake"]["syn_ack_ms"].as_f64().is_some()
                && f["handshake"]["ack_ms"].as_f64().is_some()
        );
        assert!(f["rtt_ms"].as_f64().is_some());
        assert_eq!(f["fin_from"], "client, server");
        assert_eq!(f["retransmissions"], 0);
        assert!(f["bytes_sent"].as_u64().unwrap() > 300);
    }
    let f = flow(flows, "tcp", &p.b_ip, Some(11));
    assert_eq!(state(f), "refused", "{f:#}");
    assert!(
        cause(f).starts_with("RST from the server right after SYN"),
        "{}",
        cause(f)
    );
    assert!(cause(f).ends_with("nothing listens on port 11"));
    assert_eq!(f["rst_from"], "server");

    let f = flow(flows, "tcp", &p.b_ip, Some(9));
    assert_eq!(state(f), "no-answer", "{f:#}");
    assert_eq!(f["explanation"]["verdict"], "filtered");
    let syns = f["handshake"]["syns"].as_u64().unwrap();
    assert!(syns >= 3, "SYN retransmissions counted: {f:#}");
    assert!(
        cause(f).starts_with(&format!("{syns} SYNs over")),
        "{}",
        cause(f)
    );
    assert!(cause(f).contains("no answer: dropped on the way or by the host"));

    for b in [&p.b_ip, &p.b_ip6] {
        let f = flow(flows, "tcp", b, Some(10));
        assert_eq!(state(f), "rejected", "{f:#}");
        assert_eq!(f["icmp_errors"][0]["name"], "administratively prohibited");
        assert_eq!(f["icmp_errors"][0]["from"], b.as_str());
        assert!(cause(f).contains("a firewall rejected it"));
    }

    let f = flow(flows, "tcp", &p.b_ip, Some(8081));
    assert_eq!(state(f), "retransmissions", "{f:#}");
    assert!(f["retransmissions"].as_u64().unwrap() >= 1);
    assert!(cause(f).contains("retransmitted"), "{}", cause(f));

    let f = flow(flows, "tcp", &p.b_ip, Some(8082));
    assert_eq!(state(f), "zero-window", "{f:#}");
    assert!(f["zero_window_events"].as_u64().unwrap() >= 1);
    assert!(f["zero_window_ms"].as_f64().unwrap() >= 200.0, "{f:#}");
    assert!(
        cause(f).starts_with("server window stayed 0 for"),
        "{}",
        cause(f)
    );
    assert!(cause(f).contains("the receiver is not reading"));

    let f = flow(flows, "udp", &p.b_ip, Some(53));
    assert_eq!(state(f), "answered", "{f:#}");
    let f = flow(flows, "udp", &p.b_ip, Some(7));
    assert_eq!(state(f), "no-reply", "{f:#}");
    assert_eq!(f["packets_sent"], 2);
    let f = flow(flows, "udp", &p.b_ip, Some(12));
    assert_eq!(state(f), "closed", "{f:#}");
    assert_eq!(f["icmp_errors"][0]["name"], "port unreachable");
    assert!(
        cause(f).contains("nothing listens on UDP port 12"),
        "{}",
        cause(f)
    );

    let f = flow(flows, "icmp", &p.b_ip, None);
    assert_eq!(state(f), "answered", "{f:#}");
    assert_eq!(
        (f["packets_sent"].as_u64(), f["packets_received"].as_u64()),
        (Some(2), Some(2))
    );
    let f = flow(flows, "icmp6", &p.b_ip6, None);
    assert_eq!(state(f), "answered", "{f:#}");
}

#[test]
fn diagnose_capture_adds_the_packet_evidence() {
    if !common::can_nft("diagnose_capture_adds_the_packet_evidence") {
        return;
    }
    let p = VethPair::new("cdiag");
    p.b.nft_input("tcp dport 9 drop ; tcp dport 10 reject with icmpx type admin-prohibited");
    let run = |port: u16| -> serde_json::Value {
        let target = format!("{}:{port}", p.b_ip);
        let (code, out, err) =
            p.a.run(&["--json", "diagnose", "--capture", "--timeout", "2", &target]);
        assert_eq!(code, 1, "{target}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let tcp_flow = |v: &serde_json::Value, port: u16| -> serde_json::Value {
        v["capture"]["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["protocol"] == "tcp" && f["server"]["port"] == port)
            .cloned()
            .unwrap_or_else(|| panic!("no tcp flow to {port}: {v:#}"))
    };
    let evidence = |v: &serde_json::Value| v["capture"]["evidence"].to_string();

    let v = run(9);
    assert_eq!(v["verdict"], "filtered");
    let f = tcp_flow(&v, 9);
    assert_eq!(f["state"], "no-answer");
    assert!(f["handshake"]["syns"].as_u64().unwrap() >= 2, "{f:#}");
    assert!(
        evidence(&v).contains(&format!("SYNs sent to {}:9, nothing came back", p.b_ip)),
        "{}",
        evidence(&v)
    );
    assert!(v["capture"]["packets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("[SYN]")));

    let v = run(11);
    assert_eq!(v["verdict"], "closed");
    assert_eq!(tcp_flow(&v, 11)["state"], "refused");
    assert!(
        evidence(&v).contains(&format!(
            "1 SYN sent to {}:11, RST came back from {}",
            p.b_ip, p.b_ip
        )),
        "{}",
        evidence(&v)
    );

    let v = run(10);
    assert_eq!(tcp_flow(&v, 10)["state"], "rejected");
    assert!(
        evidence(&v).contains(&format!(
            "ICMP administratively prohibited came back from {}",
            p.b_ip
        )),
        "{}",
        evidence(&v)
    );
    // The ping of the reach step is evidence too: answered.
    let echo = v["capture"]["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["protocol"] == "icmp")
        .cloned();
    assert_eq!(
        echo.map(|f| f["state"].clone()),
        Some(serde_json::json!("answered"))
    );
}

#[test]
fn duration_ends_a_capture_and_a_missing_interface_is_named() {
    if !common::can_netns("duration_ends_a_capture") {
        return;
    }
    let ns = common::NetNs::new("cdur");
    let t0 = Instant::now();
    let (code, out, err) = ns.run(&[
        "capture",
        "-i",
        "lo",
        "--duration",
        "1s",
        "-c",
        "1000",
        "icmp",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("listening on lo, link-type EN10MB (Ethernet)"),
        "{err}"
    );
    assert!(
        err.contains("0 packets captured") && err.contains("0 packets dropped by kernel"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
    let (code, _, err) = ns.run(&["capture", "-i", "nosuchif0", "-c", "1"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot capture on nosuchif0") && err.contains("ip link"),
        "{err}"
    );
}

#[test]
fn any_shows_each_loopback_packet_once_like_tcpdump() {
    if !common::can_netns("any_shows_each_loopback_packet_once")
        || !need_tool("any_shows_each_loopback_packet_once", "tcpdump", "tcpdump")
    {
        return;
    }
    let ns = common::NetNs::new("cany");
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("any.pcap").display().to_string();
    let mut t = in_ns(&ns, "tcpdump");
    t.args(["-i", "any", "--immediate-mode", "-U", "-w", &theirs, "icmp"]);
    let mut n = netdiag_in(&ns);
    n.args(["capture", "-i", "any", "-n", "icmp"]);
    let (t, n) = (Running::start(t), Running::start(n));
    ns.sh("ping -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null");
    t.interrupt();
    let (code, out, err) = n.interrupt();
    assert_eq!(code, 130, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "two requests and two replies, each once: {out}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" lo In  ICMP 127.0.0.1 > 127.0.0.1: echo ")),
        "{out}"
    );
    let o = Command::new("tcpdump")
        .args(["-nn", "-r", &theirs])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        lines.len()
    );
}
