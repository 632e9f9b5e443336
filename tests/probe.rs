//! `netdiag probe`: real listeners on loopback; filtered ports, full scans and Ctrl-C inside network namespaces
//! the tests create (skipped with a message when not root).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::scan::{open_ports, ports_of, probe_in};
use common::{
    bad_input, can_netns, can_nft, closed_port, decode, interrupted_after, json, run, NetNs,
};

/// A TCP server that accepts connections on a thread and runs `f` on each, for a bounded number of them.
fn serve(l: TcpListener, max: usize, f: fn(std::net::TcpStream)) {
    thread::spawn(move || {
        for s in l.incoming().take(max).flatten() {
            f(s);
        }
    });
}

/// A loopback listener and its address.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

#[test]
fn open_port_exits_0_with_latency() {
    let (_l, addr) = listener();
    let (code, out, err) = run(&["probe", &addr]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("open"), "{out}");
    assert!(out.contains(" ms"), "{out}");
}

#[test]
fn closed_port_exits_1_and_says_why() {
    let port = closed_port();
    let (code, out, _) = run(&["probe", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("closed"), "{out}");
    assert!(out.contains("ECONNREFUSED"), "{out}");
    assert!(out.contains("nothing listens"), "{out}");
}

#[test]
fn ipv6_loopback_open_and_closed() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipping ipv6_loopback_open_and_closed: no ::1 on this machine");
        return;
    };
    let port = l.local_addr().unwrap().port();
    let (code, out, err) = run(&["--json", "probe", &format!("[::1]:{port}")]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["results"][0]["address"], "::1");
    assert_eq!(v["results"][0]["state"], "open");
    drop(l);
    let (code, out, _) = run(&["--json", "probe", "-6", "::1", "-p", &port.to_string()]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(json(&out)["results"][0]["state"], "closed");
}

#[test]
fn several_targets_and_port_lists() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pb) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let closed = closed_port();
    let list = format!("{pa},{pb},{closed}");
    let (code, out, _) = run(&["--json", "probe", "127.0.0.1", "-p", &list]);
    assert_eq!(
        code, 1,
        "a closed port among explicit ports fails the run: {out}"
    );
    let v = json(&out);
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        3,
        "every explicit port is listed"
    );
    let mut want = vec![pa, pb];
    want.sort_unstable();
    assert_eq!(open_ports(&v), want);
    let (code, out, _) = run(&[
        "probe",
        &format!("127.0.0.1:{pa}"),
        &format!("localhost:{pb}"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("localhost"), "{out}");
}

#[test]
fn json_output_has_states_services_and_explanations() {
    let closed = closed_port();
    let (code, out, _) = run(&[
        "--json",
        "probe",
        &format!("127.0.0.1:{closed}"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 1);
    let v = json(&out);
    assert_eq!(v["protocol"], "tcp");
    assert_eq!(v["timeout_ms"], 2000.0);
    let r = &v["results"][0];
    assert_eq!(r["state"], "closed");
    assert_eq!(r["port"], closed);
    assert_eq!(r["ok"], false);
    assert_eq!(r["explanation"]["verdict"], "closed");
    assert_eq!(r["explanation"]["code"], "ECONNREFUSED");
    assert!(r["latency_ms"].is_number());
    assert_eq!(v["summary"][0]["counts"]["closed"], 1);
    let (_, out, _) = run(&["--json", "probe", "127.0.0.1:22", "--timeout", "2s"]);
    assert_eq!(json(&out)["results"][0]["service"], "ssh");
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["probe", "127.0.0.1:0"],
        &["probe", "127.0.0.1:65536"],
        &["probe", "127.0.0.1", "-p", "0"],
        &["probe", "127.0.0.1", "-p", "65536"],
        &["probe", "127.0.0.1", "-p", "100-10"],
        &["probe", "127.0.0.1", "-p", ""],
        &["probe", "127.0.0.1", "-p", "1,,2"],
        &["probe", "127.0.0.1:80", "--timeout", "0"],
        &["probe", "127.0.0.1:80", "--timeout", "-1"],
        &["probe", "127.0.0.1:80", "--timeout", "abc"],
        &["probe", "127.0.0.1"],
        &["probe", "not a host:80"],
        &["probe", "127.0.0.1:80", "--send", "bad\\q"],
        &["probe", "127.0.0.1:80", "--count", "0"],
        &["probe", "127.0.0.1:80", "--concurrency", "0"],
        &["probe", "10.0.0.0/8", "-p", "80"],
        &["probe"],
    ];
    for args in cases {
        bad_input(args, "");
    }
    let err = bad_input(&["probe", "127.0.0.1", "-p", "100-10"], "100-10");
    assert!(err.contains("reversed"), "{err}");
    let err = bad_input(&["probe", "127.0.0.1:80", "--timeout", "abc"], "abc");
    assert!(err.contains("expected"), "{err}");
}

#[test]
fn banner_shows_the_greeting() {
    let (l, addr) = listener();
    serve(l, 4, |mut s| {
        let _ = s.write_all(b"SSH-2.0-netdiag_test\r\n");
        thread::sleep(Duration::from_millis(300));
    });
    let (code, out, err) = run(&["probe", &addr, "--banner", "--timeout", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("SSH-2.0-netdiag_test\\r\\n"), "{out}");
    let (code, out, _) = run(&[
        "--json",
        "probe",
        &addr,
        "--expect",
        "SSH-2.0",
        "--timeout",
        "3",
    ]);
    assert_eq!(code, 0, "--expect alone checks the banner: {out}");
    assert_eq!(
        json(&out)["results"][0]["reply"]["text"],
        "SSH-2.0-netdiag_test\\r\\n"
    );
}

#[test]
fn banner_on_a_range_scan_talks_to_open_ports_only() {
    if !can_netns("banner_on_a_range_scan_talks_to_open_ports_only") {
        return;
    }
    let ns = NetNs::new("pbann");
    let l = ns.listen("127.0.0.1:2525");
    serve(l, 2, |mut s| {
        let _ = s.write_all(b"220 netdiag.test ESMTP\r\n");
        thread::sleep(Duration::from_millis(300));
    });
    let v = probe_in(
        &ns,
        &["127.0.0.1", "-p", "1-65535", "--banner", "--timeout", "2"],
        0,
    );
    assert_eq!(open_ports(&v), [2525]);
    assert_eq!(
        v["results"][0]["reply"]["text"],
        "220 netdiag.test ESMTP\\r\\n"
    );
}

#[test]
fn banner_of_a_silent_server_is_empty_within_the_timeout() {
    let (l, addr) = listener();
    serve(l, 1, |s| {
        thread::sleep(Duration::from_secs(3));
        drop(s);
    });
    let start = Instant::now();
    let (code, out, _) = run(&["--json", "probe", &addr, "--banner", "--timeout", "0.5"]);
    assert_eq!(code, 0, "open, silent: {out}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(json(&out)["results"][0].get("reply").is_none(), "{out}");
}

fn echo(mut s: std::net::TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 1024];
    if let Ok(n) = s.read(&mut buf) {
        let _ = s.write_all(&buf[..n]);
    }
}

#[test]
fn send_shows_the_reply_and_expect_checks_it() {
    let (l, addr) = listener();
    serve(l, 3, echo);
    // `probe ADDR --send SEND --timeout 3` and more arguments.
    let send = |send: &str, more: &[&str]| {
        let mut a = vec!["probe", &addr, "--send", send, "--timeout", "3"];
        a.extend_from_slice(more);
        run(&a)
    };
    let (code, out, err) = send("hello\\r\\n", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hello\\r\\n"), "{out}");
    let (code, out, _) = send("ping", &["--expect", "ping"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = send("ping", &["--expect", "pong"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unexpected reply"), "{out}");
    assert!(out.contains("got: 'ping'"), "{out}");
}

#[test]
fn count_reports_min_avg_max_and_loss() {
    let (_l, addr) = listener();
    let (code, out, err) = run(&[
        "--json",
        "probe",
        &addr,
        "--count",
        "3",
        "--interval",
        "0.05",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let s = &json(&out)["results"][0]["stats"];
    assert_eq!(s["sent"], 3);
    assert_eq!(s["answered"], 3);
    assert_eq!(s["loss_percent"], 0.0);
    assert!(s["min_ms"].as_f64().unwrap() <= s["avg_ms"].as_f64().unwrap());
    assert!(s["avg_ms"].as_f64().unwrap() <= s["max_ms"].as_f64().unwrap());
    let closed = format!("127.0.0.1:{}", closed_port());
    let (code, out, _) = run(&["probe", &closed, "--count", "2", "--interval", "0.05"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("100%"), "{out}");
    assert!(out.contains("MIN"), "{out}");
    // One line per attempt, as tcping prints them.
    assert!(
        out.contains(&format!("{closed}/tcp closed seq=1 ")),
        "{out}"
    );
    assert!(
        out.lines().next().unwrap().ends_with("ECONNREFUSED"),
        "{out}"
    );
    assert!(out.contains("seq=2"), "{out}");
}

#[test]
fn rate_limits_new_connections() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let list = format!("{},{}", port, closed_port());
    let start = Instant::now();
    let (code, out, err) = run(&["--json", "probe", "127.0.0.1", "-p", &list, "--rate", "4"]);
    // Two connects at 4 per second: the second starts a quarter second after the first.
    assert!(
        start.elapsed() >= Duration::from_millis(240),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(open_ports(&json(&out)), [port]);
}

#[test]
fn udp_reply_is_open_refusal_closed_silence_open_filtered() {
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..8 {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        }
    });
    // `probe --udp ADDR --send SEND --timeout SECONDS` and more arguments.
    let udp = |addr: &str, send: &str, timeout: &str, more: &[&str]| {
        let mut a = vec!["probe", "--udp", addr, "--send", send, "--timeout", timeout];
        a.extend_from_slice(more);
        run(&a)
    };
    let (code, out, err) = run(&[
        "--json",
        "probe",
        "--udp",
        &echo_addr,
        "--send",
        "hello",
        "--timeout",
        "3",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["protocol"], "udp");
    assert_eq!(v["results"][0]["state"], "open");
    assert_eq!(v["results"][0]["reply"]["text"], "hello");
    let (code, out, _) = udp(&echo_addr, "hello", "3", &["--expect", "hello"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = udp(&echo_addr, "hello", "3", &["--expect", "bye"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unexpected reply"), "{out}");

    // The JSON report's first result, after checking the exit code is 1.
    let failed = |addr: &str, timeout: &str| {
        let (code, out, err) = run(&[
            "--json",
            "probe",
            "--udp",
            addr,
            "--send",
            "x",
            "--timeout",
            timeout,
        ]);
        assert_eq!(code, 1, "{out}{err}");
        json(&out)["results"][0].clone()
    };
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().to_string()
    };
    let r = failed(&closed, "2");
    assert_eq!(r["state"], "closed");
    // The ICMP port unreachable from the error queue, named with its sender.
    assert_eq!(r["explanation"]["code"], "icmp-port-unreachable");
    assert_eq!(r["icmp"]["from"], "127.0.0.1");

    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    assert_eq!(failed(&silent_addr, "0.3")["state"], "open|filtered");
    drop(silent);
}

/// A namespace whose input chain drops TCP connection attempts to `ports` (e.g. "20000-20999"). Only SYNs
/// without ACK are dropped: the RSTs and SYN-ACKs coming back to netdiag's own source ports, which may fall in
/// the same range, must still arrive.
fn dropping_ns(tag: &str, ports: &str) -> NetNs {
    let ns = NetNs::new(tag);
    ns.nft_input(&format!(
        "tcp flags & (syn | ack) == syn tcp dport {ports} drop"
    ));
    ns
}

#[test]
fn filtered_port_times_out_on_time() {
    if !can_nft("filtered_port_times_out_on_time") {
        return;
    }
    let ns = dropping_ns("pflt", "9999");
    let start = Instant::now();
    let o = ns
        .netdiag()
        .args(["--json", "probe", "127.0.0.1:9999", "--timeout", "0.5"])
        .output()
        .unwrap();
    let took = start.elapsed();
    let (code, out, err) = decode(o);
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["results"][0]["state"], "filtered");
    assert_eq!(v["results"][0]["explanation"]["code"], "timeout");
    // The timeout is honored: not before it, and (generously, on a busy machine) not long after.
    let elapsed = v["elapsed_ms"].as_f64().unwrap();
    assert!((499.0..1500.0).contains(&elapsed), "{elapsed}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    let (code, out, _) = ns.run(&["probe", "127.0.0.1:9999", "--timeout", "300ms"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("filtered") && out.contains("no answer within 300"),
        "{out}"
    );
}

#[test]
fn unreachable_states_carry_their_errno() {
    if !can_nft("unreachable_states_carry_their_errno") {
        return;
    }
    // A namespace with only loopback has no route to 10.0.0.0/8: connect fails at once, nothing is sent.
    let ns = NetNs::new("punre");
    let (code, out, err) = ns.run(&["--json", "probe", "10.99.0.1:80", "--timeout", "2"]);
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["results"][0]["state"], "unreachable");
    assert_eq!(v["results"][0]["explanation"]["code"], "ENETUNREACH");
    // An ICMP host-unreachable sent by the target itself (nft reject) is its firewall (issue 17): filtered,
    // with the ICMP type named, at once.
    ns.sh("nft add table inet r");
    ns.sh("nft add chain inet r input \"{ type filter hook input priority 0; policy accept; }\"");
    ns.sh("nft add rule inet r input tcp dport 9998 reject with icmpx type host-unreachable");
    let (code, out, _) = ns.run(&["probe", "127.0.0.1:9998", "--timeout", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("filtered")
            && out.contains("icmp-host-unreachable")
            && out.contains("rejected by a firewall on the host itself (127.0.0.1)"),
        "{out}"
    );
}

#[test]
fn unresolvable_name_is_reported_and_exits_1() {
    if !can_netns("unresolvable_name_is_reported_and_exits_1") {
        return;
    }
    // Inside a namespace whose resolver is the test's own DNS responder: no query can leave the machine.
    let dns = common::DnsNs::new("pname", &[]);
    let v = probe_in(&dns.ns, &["no-such-host.invalid:80", "--timeout", "1"], 1);
    assert_eq!(v["unresolved"][0]["host"], "no-such-host.invalid");
    assert!(v["unresolved"][0]["explanation"]["code"]
        .as_str()
        .unwrap()
        .starts_with("EAI"));
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
}

#[test]
fn ipv6_full_scan_in_a_namespace_is_exact() {
    if !can_netns("ipv6_full_scan_in_a_namespace_is_exact") {
        return;
    }
    let ns = NetNs::new("pv6");
    let ls: Vec<TcpListener> = ["[::1]:22", "[::1]:0", "[::1]:0"]
        .iter()
        .map(|a| ns.listen(a))
        .collect();
    let want = ports_of(&ls);
    let v = probe_in(&ns, &["-6", "::1", "-p", "1-65535", "--timeout", "2"], 0);
    assert_eq!(open_ports(&v), want);
    assert_eq!(v["summary"][0]["address"], "::1");
    assert_eq!(v["summary"][0]["counts"]["closed"], 65535 - want.len());
}

#[test]
fn thousand_dropped_ports_finish_near_the_timeout() {
    if !can_nft("thousand_dropped_ports_finish_near_the_timeout") {
        return;
    }
    let ns = dropping_ns("pthou", "20000-20999");
    // No open port: exit 1.
    let v = probe_in(
        &ns,
        &["127.0.0.1", "-p", "20000-20999", "--timeout", "0.5"],
        1,
    );
    assert_eq!(v["summary"][0]["counts"]["filtered"], 1000);
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
    // All 1,000 in flight at once: about one timeout (generous bound for a loaded machine).
    let elapsed = v["elapsed_ms"].as_f64().unwrap();
    assert!((500.0..2500.0).contains(&elapsed), "{elapsed}");
}

/// Listeners inside `ns`: fixed ports plus ephemeral-range ones; returns them (kept open) and the sorted ports.
fn listeners(ns: &NetNs) -> (Vec<TcpListener>, Vec<u16>) {
    let mut ls = Vec::new();
    for a in [
        "127.0.0.1:1",
        "127.0.0.1:8080",
        "127.0.0.1:65535",
        "127.0.0.1:0",
        "127.0.0.1:0",
    ] {
        ls.push(ns.listen(a));
    }
    let ports = ports_of(&ls);
    assert!(
        ports.iter().any(|p| (32768..=60999).contains(p)),
        "a listener in the ephemeral range: {ports:?}"
    );
    (ls, ports)
}

#[test]
fn full_scan_in_a_namespace_is_exact() {
    if !can_netns("full_scan_in_a_namespace_is_exact") {
        return;
    }
    let ns = NetNs::new("pfull");
    let (_ls, want) = listeners(&ns);
    for round in 0..2 {
        let v = probe_in(&ns, &["127.0.0.1", "-p", "1-65535", "--timeout", "2"], 0);
        assert_eq!(open_ports(&v), want, "round {round}");
        let c = &v["summary"][0]["counts"];
        assert_eq!(c["open"], want.len());
        assert_eq!(c["closed"], 65535 - want.len(), "round {round}: {c}");
    }
    // Text form: open ports with their service, and a count per state; `-p-` is every port, as in nmap.
    let (_, out, _) = ns.run(&["probe", "127.0.0.1", "-p-"]);
    assert!(
        out.contains("8080/tcp") && out.contains("http-alt"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "65535 tcp ports probed: {} open, {} closed",
            want.len(),
            65535 - want.len()
        )),
        "{out}"
    );
}

#[test]
fn full_scan_under_ulimit_256_is_exact() {
    if !can_netns("full_scan_under_ulimit_256_is_exact") {
        return;
    }
    let ns = NetNs::new("pulim");
    let (_ls, want) = listeners(&ns);
    // A full scan in `ns` with at most `fds` descriptors: (stdout, stderr), after checking it exits 0 and
    // finds exactly the listeners.
    let scan = |fds: u32, extra: &str| {
        let cmd = format!(
            "ulimit -n {fds}; exec {} --json probe 127.0.0.1 -p 1-65535 --timeout 2{extra}",
            env!("CARGO_BIN_EXE_netdiag")
        );
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c", &cmd])
            .output()
            .unwrap();
        let (code, out, err) = decode(o);
        assert_eq!(code, 0, "ulimit -n {fds}: {err}");
        let v = json(&out);
        assert_eq!(open_ports(&v), want, "ulimit -n {fds}");
        assert_eq!(v["summary"][0]["counts"]["closed"], 65535 - want.len());
        (v, out, err)
    };
    let (v, out, err) = scan(256, "");
    assert!(!err.contains("EMFILE") && !out.contains("EMFILE"), "{err}");
    assert!(v["concurrency"].as_u64().unwrap() < 256);
    // Asking for far more sockets than descriptors: EMFILE is absorbed (retry, lower concurrency), never a state.
    scan(64, " --concurrency 5000");
}

#[test]
fn concurrency_one_is_still_exact() {
    if !can_netns("concurrency_one_is_still_exact") {
        return;
    }
    let ns = NetNs::new("pconc");
    let (_ls, want) = listeners(&ns);
    let small: Vec<u16> = want.iter().copied().filter(|p| *p < 9000).collect();
    let v = probe_in(
        &ns,
        &["127.0.0.1", "-p", "1-9000", "--concurrency", "1", "--all"],
        0,
    );
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        9000,
        "--all lists every port"
    );
    assert_eq!(open_ports(&v), small);
}

#[test]
fn cidr_hosts_in_a_namespace() {
    if !can_netns("cidr_hosts_in_a_namespace") {
        return;
    }
    let ns = NetNs::new("pcidr");
    let l = ns.listen("127.0.0.2:0");
    let port = l.local_addr().unwrap().port().to_string();
    let (_, out, err) = ns.run(&["--json", "probe", "127.0.0.0/30", "-p", &port, "--all"]);
    let v = json(&out);
    assert_eq!(v["summary"].as_array().unwrap().len(), 4, "{err}");
    let open: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "open")
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(open, ["127.0.0.2"]);
}

#[test]
fn ctrl_c_prints_what_was_found_and_exits_130() {
    if !can_nft("ctrl_c_prints_what_was_found_and_exits_130") {
        return;
    }
    let ns = dropping_ns("pintr", "10000-65535");
    let _l = ns.listen("127.0.0.1:4242");
    let mut cmd = ns.netdiag();
    cmd.args([
        "--json",
        "probe",
        "127.0.0.1",
        "-p",
        "1-65535",
        "--timeout",
        "5",
        "--concurrency",
        "500",
    ]);
    let (code, out, err, stop) = interrupted_after(cmd, Duration::from_secs(3));
    assert!(stop < Duration::from_secs(5), "stops promptly: {stop:?}");
    assert_eq!(code, 130, "{err}");
    let v = json(&out);
    assert_eq!(v["interrupted"], true);
    assert_eq!(open_ports(&v), [4242], "found before Ctrl-C");
    let c = &v["summary"][0]["counts"];
    assert!(c["interrupted"].as_u64().unwrap() > 0, "{c}");
    assert!(c["closed"].as_u64().unwrap() > 9000, "{c}");
}

/// Ports listed one by one are questions each, even when adjacent: `-p 40001,40002` lists both and fails when
/// one is closed, exactly as `-p 40001,40003` does (a range such as `-p 40001-40002` is a scan). In a namespace
/// of the test's own, where nothing else listens.
#[test]
fn adjacent_explicit_ports_are_not_a_scan() {
    if !can_netns("adjacent_explicit_ports_are_not_a_scan") {
        return;
    }
    let ns = NetNs::new("padj");
    let _l = ns.listen("127.0.0.1:40001");
    let v = probe_in(&ns, &["127.0.0.1", "-p", "40001,40002"], 1);
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");
    // A range scan succeeds with one open port.
    probe_in(&ns, &["127.0.0.1", "-p", "40001-40002"], 0);
}

#[test]
fn named_ports_are_questions_and_ranges_a_search_in_one_run() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let closed = closed_port();
    // A range alone: the open port is found, exit 0.
    let (code, out, err) = run(&["probe", "127.0.0.1", "-p", &format!("{}-{open}", open - 1)]);
    assert_eq!(code, 0, "{out}{err}");
    // Adding a range to a named closed port does not hide it or change the exit code.
    let (code, out, err) = run(&[
        "probe",
        "127.0.0.1",
        "-p",
        &format!("{closed},{}-{open}", open - 1),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("{closed}/tcp  closed")), "{out}");
    assert!(out.contains(&format!("{open}/tcp  open")), "{out}");
    let (code, out, _) = run(&["probe", "127.0.0.1", "-p", &closed.to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{closed}/tcp  closed")), "{out}");
    drop(l);
}

#[test]
fn one_explanation_line_covers_every_port_it_explains() {
    let ls: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
    drop(ls);
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let (code, out, err) = run(&["probe", "127.0.0.1", "-p", &list]);
    assert_eq!(code, 1, "{out}{err}");
    let causes: Vec<&str> = out.lines().filter(|l| l.contains("ECONNREFUSED")).collect();
    assert_eq!(causes.len(), 1, "{out}");
    for p in &ports {
        assert!(causes[0].contains(&p.to_string()), "{out}");
    }
}
