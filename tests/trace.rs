//! `netdiag trace` on routed namespaces the tests build (tests/common::Chain): client — r1 — r2 — r3 — server,
//! with a silent router, a firewall that drops or rejects, random loss, a smaller MTU, an MPLS router, and
//! two equal-cost paths. Hop lists are compared with traceroute and mtr run on the same chain in the same test
//! (at the same time, which also shows that each tool matches only its own answers).
//!
//! Network rule: every packet goes to 127.0.0.1 or to addresses inside the chain's namespaces.

mod common;

use std::process::{Command, Stdio};
use std::thread;

use common::*;
use serde_json::Value;

/// True when the test can build its chain (with nftables when `nft`) and traceroute and mtr, the anchors it
/// compares with, are there.
fn anchors_ready(test: &str, nft: bool) -> bool {
    (if nft { can_nft(test) } else { can_netns(test) })
        && need_tool(test, "traceroute", "traceroute")
        && need_tool(test, "mtr", "mtr-tiny")
}

/// `netdiag --json trace -n ARGS` in `ns`: (exit code, the report's one result, stderr).
fn trace(ns: &NetNs, args: &[&str]) -> (i32, Value, String) {
    let mut a = vec!["--json", "trace", "-n"];
    a.extend_from_slice(args);
    let (code, out, err) = ns.run(&a);
    let v = json(&out);
    assert_eq!(v["ok"], code == 0, "{out}");
    (code, v["results"][0].clone(), err)
}

/// The first router of each hop; None for a silent hop.
fn first_hops(r: &Value) -> Vec<Option<String>> {
    r["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| h["responders"][0]["address"].as_str().map(String::from))
        .collect()
}

/// Every router of hop `n` (1-based).
fn responders(r: &Value, n: usize) -> Vec<String> {
    r["hops"][n - 1]["responders"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["address"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn all(hops: &[String]) -> Vec<Option<String>> {
    hops.iter().cloned().map(Some).collect()
}

fn in_ns(ns: &NetNs, program: &str, args: &[String]) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.name, program])
        .args(args)
        .output()
        .expect("run in netns");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// traceroute -n -q1 -w1 in `ns`: the first address of each hop (None for `*`) and the marks (`!X`, ...).
fn traceroute(ns: &NetNs, args: &[&str]) -> Vec<(Option<String>, Vec<String>)> {
    let mut a: Vec<String> = ["-n", "-q", "1", "-w", "1", "-m", "8"]
        .map(String::from)
        .to_vec();
    a.extend(args.iter().map(|s| s.to_string()));
    let out = in_ns(ns, "traceroute", &a);
    let hops = traceroute_hops(&out);
    assert!(!hops.is_empty(), "traceroute said: {out}");
    hops.into_iter()
        .map(|(_, addrs, marks)| (addrs.first().cloned(), marks))
        .collect()
}

/// mtr --json -n -G 1 in `ns`: host and loss of each hop (None for `???`).
fn mtr(ns: &NetNs, args: &[&str]) -> Vec<(Option<String>, f64)> {
    let mut a: Vec<String> = ["-j", "-n", "-G", "1", "-m", "8"]
        .map(String::from)
        .to_vec();
    a.extend(args.iter().map(|s| s.to_string()));
    let out = in_ns(ns, "mtr", &a);
    mtr_hops(&out)
        .into_iter()
        .map(|(_, h, loss)| ((h != "???").then_some(h), loss))
        .collect()
}

/// The anchors' flags for a protocol: (netdiag, traceroute, mtr).
fn flags(proto: &str, port: u16) -> (Vec<String>, Vec<String>, Vec<String>) {
    let p = port.to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match proto {
        "icmp" => (s(&["--proto", "icmp"]), s(&["-I"]), s(&[])),
        "udp" => (s(&["--proto", "udp"]), s(&[]), s(&["-u"])),
        _ => (
            s(&["--proto", "tcp", "-p", &p]),
            s(&["-T", "-p", &p]),
            s(&["-T", "-P", &p]),
        ),
    }
}

type Hops = Vec<Option<String>>;

/// netdiag, traceroute and mtr on the same chain at the same time, for one protocol and family: their hop
/// lists (mtr's and traceroute's cut where netdiag's ends), and netdiag's result.
fn three_tools(
    c: &Chain,
    v6: bool,
    proto: &str,
    port: u16,
    extra: &[&str],
) -> (Value, Hops, Hops, Hops) {
    let dst = c.server(v6).to_string();
    let (nd, tr, mt) = flags(proto, port);
    let fam = if v6 { "-6" } else { "-4" };
    thread::scope(|s| {
        let t = s.spawn(|| {
            let mut a: Vec<&str> = tr.iter().map(String::as_str).collect();
            a.extend([fam, &dst]);
            traceroute(&c.client, &a)
        });
        let m = s.spawn(|| {
            let mut a: Vec<&str> = mt.iter().map(String::as_str).collect();
            a.extend(["-c", "1", fam, &dst]);
            mtr(&c.client, &a)
        });
        let mut a: Vec<&str> = nd.iter().map(String::as_str).collect();
        a.extend(extra);
        a.extend([fam, &dst]);
        let (_, r, err) = trace(&c.client, &a);
        assert!(
            err.contains("netdiag: trace: "),
            "the method is said on stderr: {err}"
        );
        let ours = first_hops(&r);
        let n = ours.len();
        let mut tr: Hops = t.join().unwrap().into_iter().map(|(a, _)| a).collect();
        let mut mt: Hops = m.join().unwrap().into_iter().map(|(a, _)| a).collect();
        tr.truncate(n);
        mt.truncate(n);
        (r, ours, tr, mt)
    })
}

fn every_hop_in_order(v6: bool) {
    let test = if v6 {
        "every_hop_in_order_v6"
    } else {
        "every_hop_in_order_v4"
    };
    if !anchors_ready(test, false) {
        return;
    }
    let c = Chain::new("trin");
    let listener = c.server.listen("[::]:0");
    let port = listener.local_addr().unwrap().port();
    let want = all(c.expected(v6));
    for proto in ["icmp", "udp", "tcp"] {
        let (r, ours, tr, mt) = three_tools(&c, v6, proto, port, &[]);
        assert_eq!(ours, want, "netdiag {proto}: {r}");
        assert_eq!(tr, want, "traceroute {proto}");
        assert_eq!(mt, want, "mtr {proto}");
        assert_eq!(r["status"], "ok");
        assert_eq!(r["destination_hop"], 4);
        assert_eq!(r["protocol"], proto);
        assert_eq!(r["method"], "raw");
        assert_eq!(r["hops"][3]["state"], "destination");
        for h in r["hops"].as_array().unwrap() {
            assert_eq!(h["received"], 1, "{h}");
            assert!(h["avg_ms"].as_f64().unwrap() > 0.0);
        }
    }
    // A closed TCP port: the server's RST also ends the trace.
    let closed = {
        let l = c.server.listen("[::]:0");
        l.local_addr().unwrap().port()
    };
    let (code, r, _) = trace(&c.client, &[c.server(v6), "-p", &closed.to_string()]);
    assert_eq!((code, r["status"].as_str()), (0, Some("ok")), "{r}");
    assert_eq!(first_hops(&r), want);
    drop(listener);
}

#[test]
fn every_hop_in_order_v4() {
    every_hop_in_order(false);
}

#[test]
fn every_hop_in_order_v6() {
    every_hop_in_order(true);
}

#[test]
fn a_router_that_sends_no_time_exceeded_is_a_silent_hop() {
    let test = "a_router_that_sends_no_time_exceeded_is_a_silent_hop";
    if !anchors_ready(test, true) {
        return;
    }
    let c = Chain::new("trsi");
    c.silence(1);
    let listener = c.server.listen("[::]:0");
    let port = listener.local_addr().unwrap().port();
    for v6 in [false, true] {
        let h = c.expected(v6);
        let want = vec![
            Some(h[0].clone()),
            None,
            Some(h[2].clone()),
            Some(h[3].clone()),
        ];
        for proto in ["icmp", "udp", "tcp"] {
            let (r, ours, tr, mt) = three_tools(&c, v6, proto, port, &[]);
            assert_eq!(ours, want, "netdiag {proto} v6={v6}: {r}");
            assert_eq!(tr, want, "traceroute {proto} v6={v6}");
            assert_eq!(mt, want, "mtr {proto} v6={v6}");
            assert_eq!(r["status"], "ok");
            assert_eq!(r["hops"][1]["state"], "silent");
            assert_eq!(r["hops"][1]["loss_percent"], 100.0);
            assert!(
                r["hops"][1]["note"]
                    .as_str()
                    .unwrap()
                    .contains("sends no time exceeded"),
                "{r}"
            );
        }
    }
}

#[test]
fn a_firewall_dropping_tcp_443_at_r2_stops_the_tcp_trace_after_r2() {
    let test = "a_firewall_dropping_tcp_443_at_r2_stops_the_tcp_trace_after_r2";
    if !anchors_ready(test, true) {
        return;
    }
    let c = Chain::new("trdr");
    c.nft(1, "forward", "tcp dport 443 drop");
    let _l = c.server.listen("[::]:443");
    for v6 in [false, true] {
        let h = c.expected(v6);
        let (r, ours, tr, mt) = three_tools(&c, v6, "tcp", 443, &[]);
        let passed = vec![Some(h[0].clone()), Some(h[1].clone())];
        assert_eq!(ours, [passed.clone(), vec![None]].concat(), "{r}");
        assert_eq!(tr, ours, "traceroute -T: hops 1-2 answer, 3 is silent");
        assert_eq!(mt[..2], passed[..], "mtr -T");
        assert!(mt.len() < 3 || mt[2].is_none(), "mtr -T: {mt:?}");
        assert_eq!(r["status"], "filtered");
        assert_eq!(r["last_answer"]["hop"], 2);
        assert_eq!(r["last_answer"]["address"], h[1].as_str());
        assert_eq!(r["first_silent"], 3);
        let e = &r["explanation"];
        assert_eq!(e["verdict"], "filtered");
        assert_eq!(e["code"], "silent-after-hop");
        let cause = e["cause"].as_str().unwrap();
        assert!(
            cause.contains(&format!(
                "passes {}, {}; nothing after {} (hop 2)",
                h[0], h[1], h[1]
            )),
            "{cause}"
        );
        assert!(e["fix"].as_str().unwrap().contains("tcp port 443"));
        // Other traffic goes all the way: the ICMP trace reaches the server.
        let (code, r, _) = trace(&c.client, &["--proto", "icmp", c.server(v6)]);
        assert_eq!((code, r["status"].as_str()), (0, Some("ok")));
        assert_eq!(first_hops(&r), all(h));
        // The same without privilege: TCP connects and the error queue, as nobody.
        let target = if v6 {
            format!("[{}]:443", c.server(v6))
        } else {
            format!("{}:443", c.server(v6))
        };
        if let Some((code, out, err)) = c.client.run_as_nobody(&["--json", "trace", "-n", &target])
        {
            let r = &json(&out)["results"][0];
            assert_eq!(code, 1, "{out}{err}");
            assert_eq!(r["method"], "tcp-connect");
            assert_eq!(r["status"], "filtered");
            assert_eq!(r["last_answer"]["address"], h[1].as_str(), "{out}");
            assert_eq!(r["first_silent"], 3);
        }
        // Text: the verdict line names the hop.
        let (code, out, _) = c.client.run(&["trace", "-n", &target]);
        assert_eq!(code, 1);
        assert!(
            out.contains(&format!("filtered: SYN to {target} passes")),
            "{out}"
        );
        // diagnose: the connect is filtered, the path step names r2 as the last hop that answered.
        let (code, out, err) = c
            .client
            .run(&["--json", "diagnose", &target, "--timeout", "1"]);
        assert_eq!(code, 1, "{out}{err}");
        let d = json(&out);
        assert_eq!(d["verdict"], "filtered");
        let step = step(&d, "path");
        assert_eq!(step["result"], format!("nothing after hop 2 ({})", h[1]));
        let summary = d["summary"].as_str().unwrap();
        assert!(
            summary.contains(&format!(
                "nothing after {} (hop 2): a firewall at or after {} drops it",
                h[1], h[1]
            )),
            "{summary}"
        );
        assert_eq!(d["path"]["last_answer"]["address"], h[1].as_str());
        assert_eq!(d["path"]["first_silent"], 3);
        // ... and the same as nobody (the trace runs on TCP connects then).
        if let Some((code, out, _)) =
            c.client
                .run_as_nobody(&["--json", "diagnose", &target, "--timeout", "1"])
        {
            assert_eq!(code, 1);
            let d = json(&out);
            assert_eq!(d["path"]["method"], "tcp-connect", "{out}");
            assert_eq!(d["path"]["last_answer"]["address"], h[1].as_str(), "{out}");
        }
    }
}

#[test]
fn a_router_rejecting_with_admin_prohibited_is_named_with_its_code() {
    let test = "a_router_rejecting_with_admin_prohibited_is_named_with_its_code";
    if !anchors_ready(test, true) {
        return;
    }
    let c = Chain::new("trrj");
    c.nft(
        1,
        "forward",
        &format!(
            "ip daddr {} reject with icmp type admin-prohibited ; ip6 daddr {} reject with icmpv6 type admin-prohibited",
            c.server_ip, c.server_ip6
        ),
    );
    for v6 in [false, true] {
        let h = c.expected(v6);
        let code_want = if v6 { 1 } else { 13 };
        for proto in ["icmp", "udp", "tcp"] {
            let (r, ours, _, mt) = three_tools(&c, v6, proto, 443, &[]);
            let want = vec![Some(h[0].clone()), Some(h[1].clone()), Some(h[1].clone())];
            assert_eq!(ours, want, "{proto} v6={v6}: {r}");
            assert_eq!(mt[..2], want[..2], "mtr {proto}");
            assert_eq!(r["status"], "filtered");
            assert_eq!(r["rejected_by"]["hop"], 3);
            assert_eq!(r["rejected_by"]["address"], h[1].as_str());
            let hop3 = &r["hops"][2];
            assert_eq!(hop3["state"], "rejected");
            assert_eq!(hop3["icmp"][0]["name"], "admin-prohibited");
            assert_eq!(hop3["icmp"][0]["code"], code_want);
            assert_eq!(r["explanation"]["code"], "icmp-admin-prohibited");
            assert!(r["explanation"]["cause"]
                .as_str()
                .unwrap()
                .contains(&format!("{} (hop 3) rejects", h[1])));
        }
        // traceroute marks the same hop !X.
        let fam = if v6 { "-6" } else { "-4" };
        let tr = traceroute(&c.client, &["-I", fam, c.server(v6)]);
        assert_eq!(tr[2].0.as_deref(), Some(h[1].as_str()));
        assert!(tr[2].1.contains(&"!X".to_string()), "{tr:?}");
        // Text: the mark and the code by name.
        let (_, out, _) = c
            .client
            .run(&["trace", "-n", "--proto", "udp", c.server(v6)]);
        assert!(out.contains("!X admin-prohibited"), "{out}");
        // diagnose: the connect is unreachable, the path step names the router that rejected and the code.
        let target = if v6 {
            format!("[{}]:443", c.server(v6))
        } else {
            format!("{}:443", c.server(v6))
        };
        let (code, out, err) = c
            .client
            .run(&["--json", "diagnose", &target, "--timeout", "1"]);
        assert_eq!(code, 1, "{out}{err}");
        let d = json(&out);
        let step = step(&d, "path");
        assert_eq!(
            step["result"],
            format!("rejected at hop 3 by {} (admin-prohibited)", h[1]),
            "{out}"
        );
        assert_eq!(step["explanation"]["code"], "icmp-admin-prohibited");
        assert!(
            d["summary"]
                .as_str()
                .unwrap()
                .contains(&format!("{} (hop 3) rejects the SYN", h[1])),
            "{out}"
        );
    }
}

#[test]
fn random_loss_at_one_hop_is_that_hops_loss() {
    let test = "random_loss_at_one_hop_is_that_hops_loss";
    if !can_nft(test) || !need_tool(test, "mtr", "mtr-tiny") {
        return;
    }
    let c = Chain::new("trls");
    // r2 answers 70 % of the probes that expire there; it forwards everything.
    c.nft(
        1,
        "output",
        "icmp type time-exceeded numgen random mod 100 < 30 drop ; icmpv6 type time-exceeded numgen random mod 100 < 30 drop",
    );
    // TCP to a closed port: the server's RST ends each round. (A listener that never accepts would fill its
    // backlog with mtr's completed connects and stop answering.)
    for v6 in [false, true] {
        let fam = if v6 { "-6" } else { "-4" };
        let dst = c.server(v6);
        for proto in ["icmp", "udp", "tcp"] {
            let (nd, _, mt) = flags(proto, 443);
            let (r, anchor) = thread::scope(|s| {
                let m = s.spawn(|| {
                    let mut a: Vec<&str> = mt.iter().map(String::as_str).collect();
                    a.extend(["-c", "100", "-i", "0.02", fam, dst]);
                    mtr(&c.client, &a)
                });
                let mut a: Vec<&str> = nd.iter().map(String::as_str).collect();
                a.extend(["-c", "100", "-i", "0.02", fam, dst]);
                let (_, r, _) = trace(&c.client, &a);
                (r, m.join().unwrap())
            });
            let hops = r["hops"].as_array().unwrap();
            assert_eq!(hops.len(), 4, "{r}");
            let loss = hops[1]["loss_percent"].as_f64().unwrap();
            // 30 % of 100 probes: far outside 12-50 % happens less than once in a million runs.
            assert!(
                (12.0..=50.0).contains(&loss),
                "{proto} v6={v6}: hop 2 loss {loss}"
            );
            for i in [0, 2, 3] {
                assert_eq!(
                    hops[i]["loss_percent"],
                    0.0,
                    "{proto} v6={v6} hop {}: {r}",
                    i + 1
                );
                assert_eq!(hops[i]["sent"], 100);
            }
            assert!(
                hops[1]["note"].as_str().unwrap().contains("rate limit"),
                "{r}"
            );
            // mtr's TCP probes are connects whose SYN the kernel resends after a lost answer, and a resent
            // SYN's answer counts for mtr: its hop 2 loss is far below 30 %. ICMP and UDP compare.
            let mloss = anchor[1].1;
            if proto != "tcp" {
                assert!(
                    (12.0..=50.0).contains(&mloss),
                    "mtr {proto}: hop 2 loss {mloss}"
                );
            }
            assert_eq!(anchor[2].1, 0.0, "mtr hop 3");
        }
    }
}

#[test]
fn paris_keeps_one_ecmp_path_classic_and_dublin_show_both() {
    let test = "paris_keeps_one_ecmp_path_classic_and_dublin_show_both";
    if !can_netns(test) || !need_tool(test, "traceroute", "traceroute") {
        return;
    }
    let c = Chain::ecmp("trec");
    let _l = c.server.listen("[::]:443");
    for v6 in [false, true] {
        let fam = if v6 { "-6" } else { "-4" };
        let dst = c.server(v6);
        let h = c.expected(v6);
        let both = if v6 {
            vec!["fd77:2::2".to_string(), "fd77:12::2".to_string()]
        } else {
            vec!["10.77.2.2".to_string(), "10.77.12.2".to_string()]
        };
        // r3 answers IPv4 from the address toward the client; IPv6 from the address the probe came in on, so
        // its hop-3 address tells the path too (fd77:3::2 after r2a, fd77:13::2 after r2b).
        let third = |second: &str| -> String {
            match (v6, second) {
                (true, "fd77:12::2") => "fd77:13::2".into(),
                _ => h[2].clone(),
            }
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        for proto in ["udp", "tcp"] {
            let p = ["--proto", proto, "-p", "443", fam, dst];
            let (_, r, _) = trace(
                &c.client,
                &[&p[..], &["--ecmp", "paris", "-c", "10", "-i", "0.05"]].concat(),
            );
            for n in 1..=4 {
                assert_eq!(
                    responders(&r, n).len(),
                    1,
                    "paris {proto} v6={v6} hop {n}: {r}"
                );
            }
            let second = responders(&r, 2)[0].clone();
            assert!(both.contains(&second));
            assert_eq!(
                responders(&r, 3),
                vec![third(&second)],
                "hops 2 and 3 on one path: {r}"
            );
            assert_eq!(r["hops"][1]["received"], 10, "one path, every round: {r}");
            let (_, r, _) = trace(
                &c.client,
                &[&p[..], &["--ecmp", "classic", "-c", "20", "-i", "0.05"]].concat(),
            );
            assert_eq!(
                sorted(responders(&r, 2)),
                sorted(both.clone()),
                "classic {proto} v6={v6}: {r}"
            );
            let thirds = sorted(
                both.iter()
                    .map(|b| third(b))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            );
            assert_eq!(sorted(responders(&r, 3)), thirds, "{r}");
            let (_, r, _) = trace(
                &c.client,
                &[&p[..], &["--ecmp", "dublin", "--flows", "16"]].concat(),
            );
            assert_eq!(r["flows"], 16);
            assert_eq!(
                sorted(responders(&r, 2)),
                sorted(both.clone()),
                "dublin {proto} v6={v6}: {r}"
            );
            assert_eq!(r["hops"][1]["sent"], 16);
        }
        // traceroute (classic UDP, a new port per probe) sees only these routers at hop 2.
        let tr = traceroute_hops(&in_ns(
            &c.client,
            "traceroute",
            &["-n", "-q", "6", "-w", "1", "-m", "4", fam, dst].map(String::from),
        ));
        assert!(
            !tr[1].1.is_empty() && tr[1].1.iter().all(|a| both.contains(a)),
            "{tr:?}"
        );
        assert!(
            tr[2].1.iter().all(|a| both.iter().any(|b| third(b) == *a)),
            "{tr:?}"
        );
        // ICMP: Linux hashes ICMP by addresses alone, so every ICMP flow takes one path.
        let (_, r, _) = trace(
            &c.client,
            &["--proto", "icmp", "-c", "5", "-i", "0.05", fam, dst],
        );
        assert_eq!(responders(&r, 2).len(), 1, "{r}");
        // Without privilege, paris UDP keeps its ports too: one path.
        if let Some((_, out, _)) = c.client.run_as_nobody(&[
            "--json", "trace", "-n", "--proto", "udp", "-c", "10", "-i", "0.1", fam, dst,
        ]) {
            let r = &json(&out)["results"][0];
            assert_eq!(r["method"], "udp-sockets");
            assert_eq!(responders(r, 2).len(), 1, "{out}");
            assert_eq!(r["hops"][1]["received"], 10, "{out}");
        }
    }
}

#[test]
fn unprivileged_tracing_as_nobody() {
    let test = "unprivileged_tracing_as_nobody";
    if !can_netns(test) || !need_tool(test, "traceroute", "traceroute") {
        return;
    }
    let c = Chain::new("trup");
    let listener = c.server.listen("[::]:0");
    let port = listener.local_addr().unwrap().port().to_string();
    for v6 in [false, true] {
        let fam = if v6 { "-6" } else { "-4" };
        let dst = c.server(v6);
        let want = all(c.expected(v6));
        // traceroute's default (UDP) works without privilege too: the anchor, run as nobody as well.
        let tr = common::as_nobody(Some(&c.client), "traceroute")
            .args(["-n", "-q", "1", "-w", "1", "-m", "8", fam, dst])
            .output()
            .unwrap();
        let tr: Hops = traceroute_hops(&String::from_utf8_lossy(&tr.stdout))
            .into_iter()
            .map(|(_, a, _)| a.first().cloned())
            .collect();
        assert_eq!(tr, want, "traceroute as nobody");
        for (args, method) in [
            (vec!["--proto", "udp"], "udp-sockets"),
            (vec!["--proto", "tcp", "-p", &port], "tcp-connect"),
            (vec!["--proto", "udp", "--ecmp", "classic"], "udp-sockets"),
            (
                vec!["--proto", "udp", "--ecmp", "dublin", "--flows", "3"],
                "udp-sockets",
            ),
        ] {
            let mut a = vec!["--json", "trace", "-n", "-c", "2", "-i", "0.2", fam, dst];
            a.extend(&args);
            let Some((code, out, err)) = c.client.run_as_nobody(&a) else {
                eprintln!("skipping {test}: cannot run as nobody");
                return;
            };
            let r = &json(&out)["results"][0];
            assert_eq!(code, 0, "{args:?}: {out}{err}");
            assert_eq!(r["method"], method);
            assert_eq!(first_hops(r), want, "{args:?} v6={v6}: {out}");
            assert!(err.contains("no raw socket permission"), "{err}");
            for h in r["hops"].as_array().unwrap() {
                assert_eq!(h["loss_percent"], 0.0, "{args:?}: {out}");
            }
        }
        // No protocol asked for: ICMP is not allowed (ping_group_range is "1 0" here), so UDP, and stderr says so.
        c.client
            .sh("echo 1 0 > /proc/sys/net/ipv4/ping_group_range");
        let (code, out, err) = c
            .client
            .run_as_nobody(&["--json", "trace", "-n", fam, dst])
            .unwrap();
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(json(&out)["results"][0]["method"], "udp-sockets");
        assert!(err.contains("ICMP is not permitted here"), "{err}");
        // ICMP asked for by name: a clear error, exit 2.
        let (code, out, err) = c
            .client
            .run_as_nobody(&["trace", "-n", "--proto", "icmp", dst])
            .unwrap();
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains(
                "ICMP tracing needs root, CAP_NET_RAW or a group in net.ipv4.ping_group_range"
            ),
            "{err}"
        );
        // Where ping_group_range allows it, datagram ICMP.
        c.client
            .sh("echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range");
        let (code, out, err) = c
            .client
            .run_as_nobody(&["--json", "trace", "-n", "-c", "2", "-i", "0.2", fam, dst])
            .unwrap();
        assert_eq!(code, 0, "{out}{err}");
        let r = &json(&out)["results"][0];
        assert_eq!(r["method"], "datagram-icmp");
        assert_eq!(r["protocol"], "icmp");
        assert_eq!(first_hops(r), want);
        assert!(err.contains("datagram ICMP socket"), "{err}");
        c.client
            .sh("echo 1 0 > /proc/sys/net/ipv4/ping_group_range");
        // As root, --unprivileged takes the same path.
        let (code, r, _) = trace(
            &c.client,
            &["--unprivileged", "--proto", "tcp", "-p", &port, fam, dst],
        );
        assert_eq!((code, &r["method"]), (0, &Value::from("tcp-connect")));
        assert_eq!(first_hops(&r), want);
    }
    drop(listener);
}

#[test]
fn fragmentation_needed_is_named_with_the_mtu() {
    let test = "fragmentation_needed_is_named_with_the_mtu";
    if !can_netns(test) || !need_tool(test, "traceroute", "traceroute") {
        return;
    }
    let c = Chain::new("trmt");
    c.link_mtu(3, 1300);
    for v6 in [false, true] {
        let fam = if v6 { "-6" } else { "-4" };
        let dst = c.server(v6);
        let h = c.expected(v6);
        let name = if v6 { "packet-too-big" } else { "frag-needed" };
        for (proto, nobody) in [("icmp", false), ("udp", false), ("udp", true)] {
            let args = [
                "--json", "trace", "-n", "--size", "1400", "--proto", proto, fam, dst,
            ];
            let (code, out, err) = if nobody {
                match c.client.run_as_nobody(&args) {
                    Some(x) => x,
                    None => continue,
                }
            } else {
                c.client.run(&args)
            };
            assert_eq!(code, 1, "{out}{err}");
            let r = &json(&out)["results"][0];
            assert_eq!(
                r["status"], "unreachable",
                "{proto} nobody={nobody} v6={v6}: {out}"
            );
            assert_eq!(r["rejected_by"]["address"], h[1].as_str());
            let note = &r["hops"][2]["icmp"][0];
            assert_eq!(note["name"], name, "{out}");
            assert_eq!(note["mtu"], 1300, "{out}");
            assert_eq!(r["explanation"]["code"], format!("icmp-{name}"));
            assert!(r["explanation"]["fix"]
                .as_str()
                .unwrap()
                .contains("--size 1300"));
        }
        // Small packets pass.
        let (code, _, _) = trace(&c.client, &["--size", "1200", fam, dst]);
        assert_eq!(code, 0);
        // traceroute -F (don't fragment) says the same: !F-1300 at hop 3.
        let out = in_ns(
            &c.client,
            "traceroute",
            &[
                "-n", "-q", "1", "-w", "1", "-m", "5", "-F", "-I", fam, dst, "1400",
            ]
            .map(String::from),
        );
        let tr = traceroute_hops(&out);
        assert!(tr[2].2.iter().any(|m| m == "!F-1300"), "{out}");
    }
}

#[test]
fn mpls_labels_of_an_mpls_router_are_shown() {
    let test = "mpls_labels_of_an_mpls_router_are_shown";
    if !can_nft(test) || !need_tool(test, "mtr", "mtr-tiny") {
        return;
    }
    let c = Chain::new("trmp");
    let labels = [(24001u32, 0u8, false, 1u8), (16, 5, true, 254)];
    let _router = MplsRouter::start(&c, 1, &labels);
    let _l = c.server.listen("[::]:443");
    for v6 in [false, true] {
        let fam = if v6 { "-6" } else { "-4" };
        let dst = c.server(v6);
        let h = c.expected(v6);
        let runs: Vec<(Vec<&str>, bool)> = vec![
            (vec!["--proto", "icmp"], false),
            (vec!["--proto", "udp"], false),
            (vec!["--proto", "tcp", "-p", "443"], false),
            (vec!["--proto", "udp"], true),
            (vec!["--proto", "tcp", "-p", "443"], true),
        ];
        for (args, nobody) in runs {
            let mut a = vec!["--json", "trace", "-n", fam, dst];
            a.extend(&args);
            let (code, out, err) = if nobody {
                match c.client.run_as_nobody(&a) {
                    Some(x) => x,
                    None => continue,
                }
            } else {
                c.client.run(&a)
            };
            assert_eq!(code, 0, "{out}{err}");
            let r = &json(&out)["results"][0];
            assert_eq!(first_hops(r), all(h), "{args:?} nobody={nobody}: {out}");
            let m = &r["hops"][1]["responders"][0]["mpls"];
            assert_eq!(
                m[0]["label"], 24001,
                "{args:?} nobody={nobody} v6={v6}: {out}"
            );
            assert_eq!(m[0]["ttl"], 1);
            assert_eq!(m[0]["bottom"], false);
            assert_eq!(m[1]["label"], 16);
            assert_eq!(m[1]["tc"], 5);
            assert_eq!(m[1]["bottom"], true);
            assert!(r["hops"][0]["responders"][0]["mpls"]
                .as_array()
                .unwrap()
                .is_empty());
        }
        let (_, out, _) = c.client.run(&["trace", "-n", fam, dst]);
        assert!(
            out.contains("MPLS [L=24001 TC=0 S=0 TTL=1; L=16 TC=5 S=1 TTL=254]"),
            "{out}"
        );
        // mtr reads the same labels (its raw output: `m HOP LABEL TC S TTL`, hops from 0; its report mode
        // prints no labels in Debian's build).
        let out = in_ns(
            &c.client,
            "mtr",
            &["-l", "-e", "-n", "-c", "1", "-G", "1", "-m", "3", fam, dst].map(String::from),
        );
        assert!(
            out.lines().any(|l| l == "m 1 24001 0 0 1"),
            "mtr -l -e: {out}"
        );
        assert!(
            out.lines().any(|l| l == "m 1 16 5 1 254"),
            "mtr -l -e: {out}"
        );
    }
}

#[test]
fn hop_names_come_from_the_resolver() {
    let test = "hop_names_come_from_the_resolver";
    if !can_netns(test) || !need_tool(test, "traceroute", "traceroute") {
        return;
    }
    let c = Chain::new("trnm");
    let _dns = NsResolver::new(
        &c.client,
        &[
            ("r1.chain.test", "10.77.1.2"),
            ("r2.chain.test", "10.77.2.2"),
            ("r3.chain.test", "10.77.3.2"),
            ("server.chain.test", "10.77.4.2"),
            ("r1.chain.test", "fd77:1::2"),
        ],
    );
    let (code, out, err) = c
        .client
        .run(&["--json", "trace", "-4", "server.chain.test"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = &json(&out)["results"][0];
    assert_eq!(r["destination"]["address"], "10.77.4.2");
    let names: Vec<&str> = r["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["responders"][0]["name"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        names,
        [
            "r1.chain.test",
            "r2.chain.test",
            "r3.chain.test",
            "server.chain.test"
        ]
    );
    // traceroute without -n shows the same names.
    let out = in_ns(
        &c.client,
        "traceroute",
        &["-q", "1", "-w", "1", "-I", "server.chain.test"].map(String::from),
    );
    for n in &names {
        assert!(out.contains(&format!("{n} (")), "traceroute: {out}");
    }
    // The table shows name (address); -n keeps addresses only.
    let (_, out, _) = c.client.run(&["trace", "-6", "fd77:4::2"]);
    assert!(out.contains("r1.chain.test (fd77:1::2)"), "{out}");
    let (_, out, _) = c.client.run(&["trace", "-n", "-4", "10.77.4.2"]);
    assert!(!out.contains("chain.test"), "{out}");
}

#[test]
fn csv_json_and_the_live_table() {
    let test = "csv_json_and_the_live_table";
    if !can_netns(test) {
        return;
    }
    let c = Chain::new("trfm");
    let dst = c.server_ip.clone();
    let (code, out, _) = c.client.run(&[
        "--format", "csv", "trace", "-n", "-c", "2", "-i", "0.1", &dst,
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    // The table's rows (the row model), not a second format of its own.
    assert_eq!(
        lines[0],
        "HOP,HOST,LOSS%,SNT,RCV,LAST,AVG,BEST,WRST,STDEV,JTTR,NOTE"
    );
    assert_eq!(lines.len(), 5, "{out}");
    for (i, l) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[0], (i + 1).to_string());
        assert_eq!(f[1], c.hops[i]);
        assert_eq!((f[2], f[3], f[4]), ("0.0%", "2", "2"), "{l}");
    }
    // JSON conventions: ok, results[].status, durations in _ms, kebab-case words.
    let (code, r, _) = trace(&c.client, &["-c", "2", "-i", "0.1", &dst]);
    assert_eq!(code, 0);
    assert_eq!(r["rounds"], 2);
    assert_eq!(r["interval_ms"], 100.0);
    assert_eq!(r["timeout_ms"], 1000.0);
    assert!(r["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(r["ecmp"], "paris");
    for k in [
        "last_ms",
        "best_ms",
        "avg_ms",
        "worst_ms",
        "stddev_ms",
        "jitter_ms",
        "jitter_avg_ms",
        "jitter_max_ms",
    ] {
        assert!(r["hops"][0][k].is_number(), "{k}: {r}");
    }
    // On a terminal: the table redrawn after every round (cursor up, clear), then the final one.
    let cmd = format!(
        "ip netns exec {} {} trace -n -c 3 -i 0.2 {dst}",
        c.client.name,
        env!("CARGO_BIN_EXE_netdiag")
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let s = String::from_utf8_lossy(&o.stdout);
    for n in 1..=3 {
        assert!(s.contains(&format!("round {n}/3")), "{s}");
    }
    assert_eq!(
        s.matches("\x1b[J").count(),
        3,
        "two redraws and the final clear: {s:?}"
    );
    assert!(s.contains("reached 10.77.4.2 in 4 hops, 3 rounds"), "{s}");
}

#[test]
fn answers_are_matched_exactly_while_other_traces_run() {
    let test = "answers_are_matched_exactly_while_other_traces_run";
    if !can_netns(test) || !need_tool(test, "mtr", "mtr-tiny") {
        return;
    }
    let c = Chain::new("trcc");
    let dst = c.server_ip.clone();
    thread::scope(|s| {
        let others: Vec<_> = [
            vec!["--proto", "icmp"],
            vec!["--proto", "udp"],
            vec!["--unprivileged", "--proto", "udp"],
        ]
        .into_iter()
        .map(|a| {
            let c = &c;
            let dst = dst.clone();
            s.spawn(move || {
                let mut args = a.clone();
                args.extend(["-c", "20", "-i", "0.05", &dst]);
                trace(&c.client, &args).1
            })
        })
        .collect();
        let m = s.spawn(|| mtr(&c.client, &["-c", "20", "-i", "0.05", &dst]));
        for h in others {
            let r = h.join().unwrap();
            assert_eq!(first_hops(&r), all(&c.hops), "{r}");
            for hop in r["hops"].as_array().unwrap() {
                assert_eq!(hop["received"], 20, "every answer, none twice: {r}");
                assert_eq!(hop["responders"].as_array().unwrap().len(), 1);
            }
        }
        assert_eq!(m.join().unwrap().len(), 4);
    });
}

#[test]
fn ctrl_c_reports_the_rounds_so_far() {
    let test = "ctrl_c_reports_the_rounds_so_far";
    if !can_netns(test) {
        return;
    }
    let c = Chain::new("trin");
    let child = c
        .client
        .netdiag()
        .args([
            "--json",
            "trace",
            "-n",
            "-c",
            "1000",
            "-i",
            "0.1",
            &c.server_ip,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // ip netns exec runs netdiag in its place: the pid is netdiag's.
    thread::sleep(std::time::Duration::from_millis(800));
    sh(&format!("kill -INT {}", child.id()));
    let (code, out, _) = decode(child.wait_with_output().unwrap());
    assert_eq!(code, 130, "{out}");
    let v = json(&out);
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["ok"], false);
    let r = &v["results"][0];
    let rounds = r["rounds"].as_u64().unwrap();
    assert!((1..1000).contains(&rounds), "{rounds}");
    assert_eq!(
        r["hops"][0]["sent"], rounds,
        "hop statistics cover the rounds reported"
    );
}

#[test]
fn loopback_traces_with_and_without_privilege() {
    // Runs anywhere: 127.0.0.1 is one hop away. Without root the default falls back to UDP sockets.
    let (code, out, err) = run(&["--json", "trace", "-n", "127.0.0.1"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = &json(&out)["results"][0];
    assert_eq!(r["destination_hop"], 1);
    assert_eq!(r["hops"][0]["responders"][0]["address"], "127.0.0.1");
    for proto in ["udp", "tcp"] {
        let closed = closed_port().to_string();
        let (code, out, err) = run(&[
            "--json",
            "trace",
            "-n",
            "--unprivileged",
            "--proto",
            proto,
            "-p",
            &closed,
            "127.0.0.1",
        ]);
        assert_eq!(code, 0, "{proto}: {out}{err}");
        let r = &json(&out)["results"][0];
        assert_eq!(r["status"], "ok");
        assert_eq!(r["destination_hop"], 1);
        assert_eq!(r["destination"]["port"], closed.parse::<u16>().unwrap());
    }
    // Names: 127.0.0.1 is localhost in /etc/hosts.
    let (_, out, _) = run(&["trace", "--unprivileged", "--proto", "udp", "127.0.0.1"]);
    assert!(out.contains("localhost (127.0.0.1)"), "{out}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (args, says) in [
        (
            vec!["trace", "-f", "9", "-m", "3", "127.0.0.1"],
            "--first-ttl 9 is above --max-ttl 3",
        ),
        (
            vec!["trace", "--flows", "4", "127.0.0.1"],
            "--flows needs --ecmp dublin",
        ),
        (
            vec!["trace", "127.0.0.1:80", "-p", "81"],
            "give the port once",
        ),
        (vec!["trace", "-m", "0", "127.0.0.1"], "--max-ttl"),
        (
            vec!["trace", "--proto", "sctp", "127.0.0.1"],
            "possible values: icmp, udp, tcp",
        ),
        (vec!["trace", "no such host!", "-n"], "invalid"),
    ] {
        common::bad_input(&args, says);
    }
}

#[test]
fn unreachable_networks_and_hosts_are_named() {
    let test = "unreachable_networks_and_hosts_are_named";
    if !can_netns(test) || !need_tool(test, "traceroute", "traceroute") {
        return;
    }
    let c = Chain::new("trun");
    // r2 has no route to 10.77.88.0/24 (a throw route: the lookup fails) nor to fd77:88::/64.
    c.routers[1].sh("ip route add throw 10.77.88.0/24 && ip -6 route add throw fd77:88::/64");
    for (dst, name, code, mark) in [
        ("10.77.88.1", "net-unreachable", 0, "!N"),
        ("fd77:88::1", "net-unreachable", 0, "!N"),
    ] {
        let (code_, r, _) = trace(&c.client, &[dst]);
        assert_eq!(code_, 1);
        assert_eq!(r["status"], "unreachable", "{r}");
        assert_eq!(r["hops"][1]["icmp"][0]["name"], name, "{r}");
        assert_eq!(r["hops"][1]["icmp"][0]["code"], code);
        assert_eq!(r["explanation"]["verdict"], "unreachable");
        assert!(r["explanation"]["fix"]
            .as_str()
            .unwrap()
            .contains("routes on"));
        let tr = traceroute(&c.client, &["-I", dst]);
        assert!(tr[1].1.contains(&mark.to_string()), "{tr:?}");
    }
    // 10.77.4.99 is on the server's link but nobody has it: r3 gives up on ARP (neighbour discovery) after
    // about 3 s and says host (address) unreachable.
    for (dst, name, hop, addr) in [
        ("10.77.4.99", "host-unreachable", 4, "10.77.3.2"),
        ("fd77:4::99", "host-unreachable", 4, "fd77:3::2"),
    ] {
        let (code, r, _) = trace(&c.client, &["-w", "6", dst]);
        assert_eq!(code, 1, "{r}");
        assert_eq!(r["status"], "unreachable", "{r}");
        assert_eq!(r["rejected_by"]["hop"], hop);
        assert_eq!(r["rejected_by"]["address"], addr);
        assert_eq!(r["hops"][hop - 1]["icmp"][0]["name"], name, "{r}");
        assert!(r["explanation"]["cause"]
            .as_str()
            .unwrap()
            .contains("neighbour discovery"));
    }
    let tr = traceroute(&c.client, &["-I", "-w", "6", "10.77.4.99"]);
    assert!(tr[3].1.contains(&"!H".to_string()), "{tr:?}");
}

/// Packets counted by an nftables rule of router `i` whose text contains `matching`.
fn nft_packets(c: &Chain, i: usize, matching: &str) -> u64 {
    let out = c.routers[i].sh("nft list ruleset");
    out.lines()
        .find(|l| l.contains(matching))
        .and_then(|l| l.split("packets ").nth(1))
        .and_then(|x| x.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter for {matching}: {out}"))
}

#[test]
fn first_ttl_and_source_port_are_used() {
    let test = "first_ttl_and_source_port_are_used";
    if !can_nft(test) {
        return;
    }
    let c = Chain::new("trsp");
    // r1 counts what it forwards from each source port.
    c.nft(
        0,
        "forward",
        "udp sport 40123 counter ; tcp sport 40124 counter ; tcp sport 40200-40260 counter",
    );
    let dst = c.server_ip.clone();
    let (code, r, _) = trace(
        &c.client,
        &["-f", "2", "--proto", "udp", "--source-port", "40123", &dst],
    );
    assert_eq!(code, 0);
    assert_eq!(r["first_ttl"], 2);
    assert_eq!(r["hops"][0]["hop"], 2);
    assert_eq!(first_hops(&r), all(&c.hops[1..]));
    // TTLs 2, 3 and 4 pass r1 (TTL 1 would stop there, and -f 2 sends none).
    assert_eq!(nft_packets(&c, 0, "udp sport 40123"), 3);
    let (code, r, _) = trace(
        &c.client,
        &["-f", "2", "--proto", "tcp", "--source-port", "40124", &dst],
    );
    assert_eq!((code, first_hops(&r)), (0, all(&c.hops[1..])));
    assert_eq!(nft_packets(&c, 0, "tcp sport 40124"), 3);
    // Routers answer every TTL up to -m 2: the destination is further, and the report says so.
    let (code, r, _) = trace(&c.client, &["-m", "2", &dst]);
    assert_eq!(code, 1);
    assert_eq!(r["status"], "filtered");
    assert_eq!(r["explanation"]["code"], "max-ttl", "{r}");
    assert_eq!(r["first_silent"], Value::Null);
    // A --size over the interface's MTU is bad input, said in one line.
    let (code, _, err) = c.client.run(&["trace", "-n", "--size", "9000", &dst]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--size 9000 is more than the interface toward"),
        "{err}"
    );
    // Without privilege each TTL connects from its own port, counted from --source-port.
    if let Some((code, out, _)) = c.client.run_as_nobody(&[
        "--json",
        "trace",
        "-n",
        "-f",
        "2",
        "--proto",
        "tcp",
        "--source-port",
        "40200",
        &dst,
    ]) {
        assert_eq!(code, 0, "{out}");
        assert_eq!(first_hops(&json(&out)["results"][0]), all(&c.hops[1..]));
        assert!(nft_packets(&c, 0, "tcp sport 40200-40260") >= 3);
    }
}
