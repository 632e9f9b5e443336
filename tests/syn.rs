//! `netdiag probe --syn`: half-open scans across a veth pair between two namespaces the tests create, every
//! state checked against `nmap -sS` on the same pair in the same test, the open set against `ss -tln` in the
//! target namespace, and the error without CAP_NET_RAW. Needs root (skips with a message otherwise).
//!
//! Network rule: every packet stays on the veth pair between the two namespaces.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::scan::{open_ports, probe_in};
use common::{can_nft, decode, interrupted_after, json, need_tool, VethPair};
use serde_json::Value;

/// A target namespace with listeners, closed ports, and ports nftables drops or rejects each way.
struct Scene {
    pair: VethPair,
    _listeners: Vec<TcpListener>,
    open: Vec<u16>,
    closed: Vec<u16>,
    dropped: Vec<u16>,
    reset: Vec<u16>,
    /// (port, ICMP code name as netdiag writes it in the explanation code)
    icmp: Vec<(u16, &'static str)>,
}

impl Scene {
    fn ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self
            .open
            .iter()
            .chain(&self.closed)
            .chain(&self.dropped)
            .chain(&self.reset)
            .copied()
            .chain(self.icmp.iter().map(|(p, _)| *p))
            .collect();
        p.sort_unstable();
        p
    }

    fn port_list(&self) -> String {
        self.ports()
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn scene(tag: &str) -> Scene {
    let pair = VethPair::new(tag);
    let listeners: Vec<TcpListener> = (0..3).map(|_| pair.b.listen("[::]:0")).collect();
    let open: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    // Fixed ports below the ephemeral range, so none collides with a listener.
    let closed = vec![1001, 1002, 1003];
    let dropped = vec![2001, 2002];
    let reset = vec![3001, 3002];
    let icmp = vec![
        (4001, "icmp-port-unreachable"),
        (4002, "icmp-admin-prohibited"),
        (4003, "icmp-host-unreachable"),
    ];
    // ICMP errors are rate-limited per peer by default; every one must come out here.
    pair.b
        .sh("sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0");
    pair.b.nft_input(
        "tcp dport { 2001, 2002 } drop ; \
         tcp dport { 3001, 3002 } reject with tcp reset ; \
         meta nfproto ipv4 tcp dport 4001 reject with icmp type port-unreachable ; \
         meta nfproto ipv6 tcp dport 4001 reject with icmpv6 type port-unreachable ; \
         meta nfproto ipv4 tcp dport 4002 reject with icmp type admin-prohibited ; \
         meta nfproto ipv6 tcp dport 4002 reject with icmpv6 type admin-prohibited ; \
         meta nfproto ipv4 tcp dport 4003 reject with icmp type host-unreachable ; \
         meta nfproto ipv6 tcp dport 4003 reject with icmpv6 type addr-unreachable",
    );
    Scene {
        pair,
        _listeners: listeners,
        open,
        closed,
        dropped,
        reset,
        icmp,
    }
}

/// Port states as `nmap -sS` reports them from namespace a.
fn nmap_states(pair: &VethPair, target: &str, ports: &str, v6: bool) -> BTreeMap<u16, String> {
    let mut args = vec![
        "netns",
        "exec",
        &pair.a.name,
        "nmap",
        "-sS",
        "-n",
        "-Pn",
        "--max-retries",
        "1",
        "-oX",
        "-",
        "-p",
        ports,
    ];
    if v6 {
        args.push("-6");
    }
    args.push(target);
    let (code, out, err) = decode(Command::new("ip").args(&args).output().expect("run nmap"));
    assert_eq!(code, 0, "nmap failed: {err}");
    let mut states = BTreeMap::new();
    for chunk in out.split("<port protocol=\"tcp\" portid=\"").skip(1) {
        let port: u16 = chunk[..chunk.find('"').unwrap()].parse().unwrap();
        let s = chunk.split("<state state=\"").nth(1).unwrap();
        states.insert(port, s[..s.find('"').unwrap()].to_string());
    }
    assert!(!out.contains("<extraports"), "nmap folded ports: {out}");
    states
}

/// netdiag's states (and explanation codes) from namespace a.
fn netdiag_states(
    pair: &VethPair,
    target: &str,
    ports: &str,
) -> (BTreeMap<u16, String>, BTreeMap<u16, String>, Value) {
    let (code, out, err) = pair.a.run(&[
        "--json",
        "probe",
        target,
        "-p",
        ports,
        "--syn",
        "--timeout",
        "0.5",
        "--all",
    ]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let v = json(&out);
    let mut states = BTreeMap::new();
    let mut codes = BTreeMap::new();
    for r in v["results"].as_array().unwrap() {
        let p = r["port"].as_u64().unwrap() as u16;
        states.insert(p, r["state"].as_str().unwrap().to_string());
        if let Some(c) = r["explanation"]["code"].as_str() {
            codes.insert(p, c.to_string());
        }
    }
    (states, codes, v)
}

fn check_scene(tag: &str, v6: bool) {
    if !can_nft(tag) || !need_tool(tag, "nmap", "nmap") {
        return;
    }
    let s = scene(tag);
    let target = if v6 {
        s.pair.b_ip6.clone()
    } else {
        s.pair.b_ip.clone()
    };
    let ports = s.port_list();
    let (ours, codes, v) = netdiag_states(&s.pair, &target, &ports);
    let theirs = nmap_states(&s.pair, &target, &ports, v6);
    // Every port in its expected state, with the cause named.
    for p in &s.open {
        assert_eq!(ours[p], "open", "port {p}: {v}");
        assert!(!codes.contains_key(p));
    }
    for p in s.closed.iter().chain(&s.reset) {
        assert_eq!(ours[p], "closed", "port {p}: {v}");
        assert_eq!(codes[p], "tcp-reset");
    }
    for p in &s.dropped {
        assert_eq!(ours[p], "filtered", "port {p}: {v}");
        assert_eq!(codes[p], "timeout");
    }
    for (p, code) in &s.icmp {
        assert_eq!(ours[p], "filtered", "port {p}: {v}");
        assert_eq!(codes[p], *code, "port {p}: {v}");
    }
    let cause = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["port"] == 4002)
        .unwrap()["explanation"]["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cause.contains(&target), "the sender is named: {cause}");
    // The same states as nmap -sS, port for port.
    assert_eq!(ours, theirs, "netdiag --syn vs nmap -sS");
    let c = &v["summary"][0]["counts"];
    assert_eq!(c["open"], 3, "{c}");
    assert_eq!(c["closed"], 5, "{c}");
    assert_eq!(c["filtered"], 5, "{c}");
    assert!(v["syn"]["packets"].as_u64().unwrap() >= 13, "{v}");
}

#[test]
fn syn_states_match_nmap_ipv4() {
    check_scene("syn4", false);
}

#[test]
fn syn_states_match_nmap_ipv6() {
    check_scene("syn6", true);
}

/// Listening ports in namespace b as `ss -tln` shows them.
fn ss_listening(pair: &VethPair) -> Vec<u16> {
    let out = pair.b.sh("ss -Htln");
    let mut ports: Vec<u16> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// A veth pair whose namespace b has three IPv4 listeners and one on [::]: (pair, the IPv4 listeners, the
/// [::] one, the listening ports as `ss -tln` shows them).
fn listening_pair(tag: &str) -> (VethPair, Vec<TcpListener>, TcpListener, Vec<u16>) {
    let pair = VethPair::new(tag);
    let ls: Vec<TcpListener> = (0..3).map(|_| pair.b.listen("0.0.0.0:0")).collect();
    let l6 = pair.b.listen("[::]:0");
    let want = ss_listening(&pair);
    assert_eq!(want.len(), 4, "{want:?}");
    (pair, ls, l6, want)
}

/// The whole range, at full speed and under --rate: the open set is exactly what `ss -tln` lists, every other
/// port closed, nothing invented.
#[test]
fn full_range_open_set_equals_ss() {
    if !common::can_netns("full_range_open_set_equals_ss") {
        return;
    }
    let (pair, _ls, l6, want) = listening_pair("synf");
    for (target, rate) in [
        (pair.b_ip.as_str(), "0"),
        (pair.b_ip.as_str(), "20000"),
        (pair.b_ip6.as_str(), "10000000"),
    ] {
        let v = probe_in(&pair.a, &[target, "-p-", "--syn", "--rate", rate], 0);
        let v4_only: Vec<u16> = want[..].to_vec();
        let got = open_ports(&v);
        if target.contains(':') {
            // Only the [::] listener (IPv6 and IPv4-mapped) and the 0.0.0.0 ones are not reachable over IPv6.
            assert_eq!(got, vec![l6.local_addr().unwrap().port()], "{target}");
        } else {
            assert_eq!(got, v4_only, "{target} --rate {rate}");
        }
        // The cap reported is the one asked for: 0 is unpaced, not the default.
        assert_eq!(v["syn"]["rate"].to_string(), rate, "{}", v["syn"]);
        let c = &v["summary"][0]["counts"];
        assert_eq!(
            c["closed"].as_u64().unwrap() as usize + got.len(),
            65535,
            "{c}"
        );
        // Over the veth pair (Ethernet, next hop resolved by the warm-up) the SYNs leave through the AF_PACKET
        // transmit ring, after the first batches that go while it is set up.
        assert_eq!(v["syn"]["method"], "tx-ring", "{target}: {}", v["syn"]);
        let ring = v["syn"]["ring_packets"].as_u64().unwrap();
        assert!(
            ring > 0 && ring <= v["syn"]["packets"].as_u64().unwrap(),
            "{}",
            v["syn"]
        );
    }
}

/// The fallback: loopback is not Ethernet for the transmit ring (a frame written there arrives marked as
/// outgoing), so the raw socket's `sendmmsg` batches carry the scan, and the open set is still exactly
/// `ss -tln`'s. A small scan over the veth pair keeps to the raw socket too.
#[test]
fn fallback_raw_socket_on_loopback_equals_ss() {
    if !common::can_netns("fallback_raw_socket_on_loopback_equals_ss") {
        return;
    }
    let (pair, _ls, _l6, want) = listening_pair("synl");
    let v = probe_in(
        &pair.b,
        &["127.0.0.1", "-p-", "--syn", "--rate", "10000000"],
        0,
    );
    assert_eq!(open_ports(&v), want);
    assert_eq!(v["syn"]["method"], "sendmmsg", "{}", v["syn"]);
    assert_eq!(v["syn"]["ring_packets"], 0, "{}", v["syn"]);
    let c = &v["summary"][0]["counts"];
    assert_eq!(
        c["closed"].as_u64().unwrap() as usize + want.len(),
        65535,
        "{c}"
    );
    // A few ports over the veth: fewer probes than a packet socket's set-up is worth.
    let list: Vec<String> = want.iter().map(u16::to_string).collect();
    let v = probe_in(
        &pair.a,
        &[
            &pair.b_ip,
            "-p",
            &format!("{},1001", list.join(",")),
            "--syn",
        ],
        1,
    );
    assert_eq!(open_ports(&v), want);
    assert_eq!(v["syn"]["method"], "sendmmsg", "{}", v["syn"]);
}

/// Without CAP_NET_RAW: one line that names the capability and points at the connect scan, exit 2.
#[test]
fn without_cap_net_raw_one_line_error() {
    if !common::is_root()
        || !need_tool(
            "without_cap_net_raw_one_line_error",
            "setpriv",
            "util-linux",
        )
    {
        eprintln!("skipping without_cap_net_raw_one_line_error: needs root to drop privileges");
        return;
    }
    let o = common::as_nobody(None, env!("CARGO_BIN_EXE_netdiag"))
        .args(["probe", "127.0.0.1", "-p", "1-10", "--syn"])
        .output()
        .unwrap();
    let (code, out, err) = decode(o);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(err.contains("connect scan"), "{err}");
}

/// Ctrl-C while SYNs wait for answers that never come: what was found is printed, the rest is interrupted,
/// exit 130.
#[test]
fn ctrl_c_prints_what_was_found() {
    if !can_nft("syn_ctrl_c") {
        return;
    }
    let pair = VethPair::new("sync");
    let l = pair.b.listen("0.0.0.0:0");
    let port = l.local_addr().unwrap().port();
    pair.b.nft_input(&format!("tcp dport != {port} drop"));
    let mut cmd = pair.a.netdiag();
    cmd.args([
        "--json",
        "probe",
        &pair.b_ip,
        "-p-",
        "--syn",
        "--timeout",
        "30",
        "--rate",
        "10000000",
    ]);
    let (code, out, err, stop) = interrupted_after(cmd, Duration::from_secs(3));
    assert!(stop < Duration::from_secs(10), "stops promptly: {stop:?}");
    assert_eq!(code, 130, "{err}");
    let v = json(&out);
    assert_eq!(v["interrupted"], true);
    assert_eq!(open_ports(&v), [port]);
    assert!(v["summary"][0]["counts"]["interrupted"].as_u64().unwrap() > 60000);
}
