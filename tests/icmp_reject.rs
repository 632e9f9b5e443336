//! Issue 17, items 1–4: ports rejected with ICMP errors, against real peers in namespaces the tests create
//! (a veth pair, nftables `reject with icmp type …`, a router namespace), each checked against nmap's answer
//! in the same test. Needs root (skips with a message otherwise).

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

use common::{can_nft, json, need_tool, VethPair};
use serde_json::Value;

/// port → (state, explanation code, cause) from a probe's JSON report.
fn by_port(v: &Value) -> HashMap<u16, (String, String, String)> {
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {v}"))
        .iter()
        .map(|r| {
            let e = &r["explanation"];
            (
                r["port"].as_u64().unwrap() as u16,
                (
                    r["state"].as_str().unwrap().to_string(),
                    e["code"].as_str().unwrap_or("").to_string(),
                    e["cause"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

/// nmap's port table: port → (state, reason), from `nmap --reason` normal output.
fn nmap_ports(out: &str) -> HashMap<u16, (String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (port, proto) = w.next()?.split_once('/')?;
            if proto != "tcp" && proto != "udp" {
                return None;
            }
            let port = port.parse().ok()?;
            let state = w.next()?.to_string();
            let _service = w.next()?;
            let reason = w.next()?.to_string();
            Some((port, (state, reason)))
        })
        .collect()
}

fn nmap(pair: &VethPair, args: &[&str]) -> HashMap<u16, (String, String)> {
    let out = pair
        .a
        .sh(&format!("nmap -n -Pn --reason {}", args.join(" ")));
    nmap_ports(&out)
}

/// The rules of the "server" side: each port rejected in its own way, one dropped, one refused by TCP.
const TCP_RULES: &str = "meta nfproto ipv4 tcp dport 1001 reject with icmp type port-unreachable; \
    meta nfproto ipv4 tcp dport 1002 reject with icmp type host-unreachable; \
    meta nfproto ipv4 tcp dport 1003 reject with icmp type admin-prohibited; \
    meta nfproto ipv4 tcp dport 1004 reject with icmp type net-unreachable; \
    meta nfproto ipv4 tcp dport 1005 reject with icmp type prot-unreachable; \
    tcp dport 1006 drop; \
    meta nfproto ipv6 tcp dport 1003 reject with icmpv6 type admin-prohibited; \
    meta nfproto ipv4 udp dport 2002 reject with icmp type host-unreachable; \
    meta nfproto ipv4 udp dport 2003 reject with icmp type admin-prohibited; \
    udp dport 2006 drop; \
    meta nfproto ipv6 udp dport 2003 reject with icmpv6 type admin-prohibited";

#[test]
fn tcp_ports_rejected_by_icmp_name_the_error_and_the_sender_as_nmap_does() {
    if !can_nft("icmp_reject") || !need_tool("icmp_reject", "nmap", "nmap") {
        return;
    }
    let pair = VethPair::new("rej");
    pair.b.nft_input(TCP_RULES);
    let b = pair.b_ip.clone();
    // A ceiling far above any ICMP round trip: an ICMP answer must end the probe, not the deadline.
    let (code, out, err) = pair.a.run(&[
        "--json",
        "probe",
        &b,
        "-p",
        "1000-1006",
        "--all",
        "--timeout",
        "5s",
    ]);
    assert_eq!(code, 1, "nothing open: {err}");
    let got = by_port(&json(&out));
    let want = [
        (1000, "closed", "ECONNREFUSED"),
        (1001, "closed", "icmp-port-unreachable"),
        (1002, "filtered", "icmp-host-unreachable"),
        (1003, "filtered", "icmp-admin-prohibited"),
        (1004, "filtered", "icmp-net-unreachable"),
        (1005, "closed", "icmp-protocol-unreachable"),
        (1006, "filtered", "timeout"),
    ];
    for (port, state, c) in want {
        let (s, code, cause) = &got[&port];
        assert_eq!(
            (s.as_str(), code.as_str()),
            (state, c),
            "port {port}: {cause}"
        );
        if code.starts_with("icmp-") {
            assert!(cause.contains(&b), "port {port} names the sender: {cause}");
        }
    }
    assert!(got[&1003].2.starts_with(&format!(
        "rejected by a firewall at {b} (ICMP admin-prohibited)"
    )));
    // A host does not call itself unreachable: a firewall on it rejects with that type.
    assert!(got[&1002].2.starts_with(&format!(
        "rejected by a firewall on the host itself ({b}), which answers ICMP host-unreachable"
    )));

    // nmap, same ports, same run.
    let n = nmap(&pair, &["-sT", "-p1000-1006", &b]);
    eprintln!("nmap -sT: {n:?}\nnetdiag: {got:?}");
    for (port, (state, reason)) in &n {
        let ours = &got[port].0;
        assert_ne!(state, "open", "nothing is open");
        match reason.as_str() {
            "conn-refused" => assert_eq!(ours, "closed", "port {port}"),
            // nmap named an ICMP error: netdiag must have one too (not a timeout), and the same verdict class.
            "host-unreach" | "net-unreach" | "admin-prohibited" | "proto-unreach"
            | "port-unreach" => {
                assert!(
                    got[port].1.starts_with("icmp-"),
                    "port {port}: {:?}",
                    got[port]
                );
                assert_ne!(ours, "open");
            }
            _ => {}
        }
    }
    assert_eq!(n[&1000].0, "closed");
    assert_eq!(n[&1006].0, "filtered");

    // diagnose: the echo reply comes back, the connect is rejected: the words name the firewall, not the host.
    let (code, out, _) = pair.a.run(&["--json", "diagnose", &format!("{b}:1003")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("rejected by a firewall at {b}")),
        "{out}"
    );
    assert!(!out.contains("check that the host is up"), "{out}");
}

#[test]
fn a_router_on_the_way_is_named_as_the_sender() {
    if !can_nft("icmp_router") || !need_tool("icmp_router", "nmap", "nmap") {
        return;
    }
    // a (client) → b (router) → a network behind it that b rejects in its forward chain.
    let pair = VethPair::new("rtr");
    let octets: Vec<&str> = pair.b_ip.split('.').collect();
    let net = format!("{}.{}.9", octets[0], octets[1]);
    let (far, prohibited) = (format!("{net}.9"), format!("{net}.10"));
    pair.a
        .sh(&format!("ip route add {net}.0/24 via {}", pair.b_ip));
    pair.b.sh("sysctl -qw net.ipv4.ip_forward=1");
    let script = format!(
        "table ip r {{ chain fw {{ type filter hook forward priority 0; policy accept; \
         ip daddr {far} reject with icmp type host-unreachable ; \
         ip daddr {prohibited} reject with icmp type admin-prohibited ; }} ; }}"
    );
    pair.b.sh(&format!("echo '{script}' | nft -f -"));
    // The network behind the router sits on a link of its own (a veth pair inside the router), so packets to
    // it are forwarded and meet the rules.
    pair.b.sh(&format!(
        "ip link add nd0 type veth peer name nd1 && ip link set nd0 up && ip link set nd1 up && \
         ip route add {net}.0/24 dev nd0"
    ));
    let router = pair.b_ip.clone();
    let (_, out, err) = pair.a.run(&[
        "--json",
        "probe",
        &format!("{far}:80"),
        &format!("{prohibited}:80"),
        "--timeout",
        "5s",
    ]);
    let v = json(&out);
    let rs = v["results"].as_array().unwrap_or_else(|| panic!("{err}"));
    let far_r = rs.iter().find(|r| r["address"] == far.as_str()).unwrap();
    let pro_r = rs
        .iter()
        .find(|r| r["address"] == prohibited.as_str())
        .unwrap();
    assert_eq!(far_r["state"], "unreachable", "{far_r}");
    assert_eq!(far_r["explanation"]["code"], "icmp-host-unreachable");
    let cause = far_r["explanation"]["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(&format!("host unreachable, reported by router {router}")),
        "{cause}"
    );
    assert_eq!(
        far_r["icmp"],
        serde_json::json!({"from": router, "type": 3, "code": 1, "name": "host-unreachable"})
    );
    assert_eq!(pro_r["state"], "filtered", "{pro_r}");
    assert_eq!(
        pro_r["explanation"]["cause"],
        format!("rejected by a firewall at {router} (ICMP admin-prohibited)")
    );
    // nmap as well names an ICMP error for both, not a timeout.
    for (addr, ours) in [(&far, far_r), (&prohibited, pro_r)] {
        let n = nmap(&pair, &["-sT", "-p80", addr]);
        eprintln!(
            "nmap -sT {addr}: {n:?}; netdiag: {}",
            ours["explanation"]["code"]
        );
        let (state, reason) = &n[&80];
        assert_eq!(state, "filtered");
        assert_ne!(reason, "no-response", "nmap heard the ICMP error too");
    }
}

#[test]
fn icmpv6_admin_prohibited_is_a_firewall_not_a_local_permission_problem() {
    if !can_nft("icmp6_reject") {
        return;
    }
    let pair = VethPair::new("rej6");
    pair.b.nft_input(TCP_RULES);
    let b6 = pair.b_ip6.clone();
    for (proto, port) in [("tcp", "1003"), ("udp", "2003")] {
        let mut args = vec![
            "--json",
            "probe",
            &b6,
            "-p",
            port,
            "--all",
            "--timeout",
            "5s",
        ];
        if proto == "udp" {
            args.push("--udp");
        }
        let (_, out, err) = pair.a.run(&args);
        let got = by_port(&json(&out));
        let (state, code, cause) = &got[&port.parse().unwrap()];
        assert_eq!(
            (state.as_str(), code.as_str()),
            ("filtered", "icmp-admin-prohibited"),
            "{proto}: {cause} {err}"
        );
        assert!(
            cause.contains(&format!("rejected by a firewall at {b6}")),
            "{cause}"
        );
        assert!(
            !cause.contains("CAP_NET_RAW") && !out.contains("run with"),
            "{out}"
        );
    }
    // diagnose over IPv6: the connect step names the firewall, and nothing talks of local permissions.
    let (code, out, err) = pair.a.run(&["diagnose", &format!("[{b6}]:1003")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("rejected by a firewall at {b6}")),
        "{out}"
    );
    assert!(
        !out.contains("CAP_NET_RAW") && !out.contains("permission"),
        "{out}"
    );
}

/// A real DNS server (unbound) on the far side, serving only a static local zone (it never recurses).
fn unbound(pair: &VethPair) -> Option<Child> {
    let dir =
        std::env::temp_dir().join(format!("nd-unbound-{}-{}", std::process::id(), pair.b.name));
    std::fs::create_dir_all(&dir).ok()?;
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: {}\n  port: 53\n  access-control: 0.0.0.0/0 allow\n  do-daemonize: no\n  \
             chroot: \"\"\n  username: \"\"\n  pidfile: \"\"\n  directory: \"{}\"\n  use-syslog: no\n  \
             do-ip6: no\n  local-zone: \".\" static\nremote-control:\n  control-enable: no\n",
            pair.b_ip,
            dir.display()
        ),
    )
    .ok()?;
    let child = Command::new("ip")
        .args(["netns", "exec", &pair.b.name, "unbound", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Wait (bounded) until it listens.
    for _ in 0..100 {
        let ss = pair.b.sh("ss -Hlun");
        if ss.contains(&format!("{}:53", pair.b_ip)) {
            return Some(child);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(child)
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn udp_probes_hear_icmp_errors_and_speak_dns_as_nmap_su_does() {
    if !can_nft("udp_reject") || !need_tool("udp_reject", "nmap", "nmap") {
        return;
    }
    if !need_tool("udp_reject", "unbound", "unbound") {
        return;
    }
    let pair = VethPair::new("udpr");
    pair.b.nft_input(TCP_RULES);
    let _dns = unbound(&pair).map(Killed).expect("start unbound");
    let b = pair.b_ip.clone();
    let (_, out, err) = pair.a.run(&[
        "--json",
        "probe",
        "--udp",
        &b,
        "-p",
        "53,2001-2003,2006",
        "--all",
        "--timeout",
        "2s",
    ]);
    let got = by_port(&json(&out));
    let want = [
        // No --send: the DNS query of a well-known port gets the server's answer.
        (53, "open", ""),
        (2001, "closed", "icmp-port-unreachable"),
        (2002, "filtered", "icmp-host-unreachable"),
        (2003, "filtered", "icmp-admin-prohibited"),
        (2006, "open|filtered", "no-reply"),
    ];
    for (port, state, c) in want {
        let (s, code, cause) = &got[&port];
        assert_eq!(
            (s.as_str(), code.as_str()),
            (state, c),
            "port {port}: {cause} {err}"
        );
    }
    // The silent port waited as the measured round trips say (one retry), not the 2 s ceiling.
    assert!(!got[&2006].2.contains("2.000 s"), "{:?}", got[&2006]);
    let n = nmap(&pair, &["-sU", "-p53,2001-2003,2006", &b]);
    eprintln!("nmap -sU: {n:?}\nnetdiag: {got:?}");
    let nmap_of = |p: u16| n[&p].clone();
    assert_eq!(nmap_of(53).0, "open");
    assert_eq!(nmap_of(2001), ("closed".into(), "port-unreach".into()));
    assert_eq!(nmap_of(2002), ("filtered".into(), "host-unreach".into()));
    assert_eq!(
        nmap_of(2003),
        ("filtered".into(), "admin-prohibited".into())
    );
    assert_eq!(nmap_of(2006).0, "open|filtered");
}

#[test]
fn a_firewalled_host_gets_an_adaptive_timeout_and_the_same_open_set_as_nmap() {
    if !can_nft("adaptive") || !need_tool("adaptive", "nmap", "nmap") {
        return;
    }
    let pair = VethPair::new("adap");
    let l = pair.b.listen(&format!("{}:0", pair.b_ip));
    let open = l.local_addr().unwrap().port();
    // Ports 1-300 dropped, plus the open one answering.
    pair.b.nft_input("tcp dport 1-300 drop");
    let b = pair.b_ip.clone();
    let ports = format!("1-300,{open}");
    let (code, out, err) = pair.a.run(&[
        "--json",
        "probe",
        &b,
        "-p",
        &ports,
        "--all",
        "--timeout",
        "5s",
    ]);
    assert_eq!(code, 0, "{err}");
    let got = by_port(&json(&out));
    assert_eq!(got[&open].0, "open");
    let filtered: Vec<_> = got.iter().filter(|(p, _)| **p != open).collect();
    assert_eq!(filtered.len(), 300);
    for (p, (s, code, cause)) in &filtered {
        assert_eq!(
            (s.as_str(), code.as_str()),
            ("filtered", "timeout"),
            "port {p}"
        );
        // The wait came from the measured round trips (floor 100 ms, one retry), not the 5 s ceiling.
        assert!(!cause.contains("5.000 s"), "port {p}: {cause}");
    }
    let n = nmap(&pair, &["-sT", "-T5", &format!("-p{ports}"), &b]);
    let nmap_open: Vec<u16> = n
        .iter()
        .filter(|(_, (s, _))| s == "open")
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(nmap_open, vec![open], "{n:?}");
    drop(l);
}
