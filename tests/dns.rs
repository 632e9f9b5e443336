//! Direct DNS (`netdiag lookup NAME TYPE @SERVER`, `--all-servers`, `--trace`) against real servers in a
//! namespace of the test's own — knot (authoritative, a fake root and TLD), unbound (recursive, DNS over TLS,
//! SERVFAIL), dnsdist (DNS over HTTPS) — each answer compared with dig (or kdig) asking the same question in
//! the same test. Without root the namespace tests skip; the bad-input tests need no network at all.

mod common;

use common::dns::{
    parse_dig, Dig, DnsWorld, Parts, AUTH, AUTH6, DEAD, DEAD6, DOH, DROPPED, RESOLVER, ROOT,
    SERVFAIL, UNROUTED,
};
use common::steps;
use serde_json::Value;

type Rec = (String, u32, String, String, String);

fn world(test: &str, parts: Parts) -> Option<DnsWorld> {
    if !common::dns::can_dns(test, parts) {
        return None;
    }
    Some(DnsWorld::new("dns", parts))
}

/// The records of one section of a result.
fn section(r: &Value, name: &str) -> Vec<Rec> {
    r["response"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|rr| {
                    (
                        rr["name"].as_str().unwrap().to_string(),
                        rr["ttl"].as_u64().unwrap() as u32,
                        rr["class"].as_str().unwrap().to_string(),
                        rr["type"].as_str().unwrap().to_string(),
                        rr["data"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Records without their TTLs, sorted: what two answers must share.
fn data(v: &[Rec]) -> Vec<(String, String, String, String)> {
    let mut d: Vec<_> = v
        .iter()
        .map(|(n, _, c, t, x)| (n.to_lowercase(), c.clone(), t.clone(), x.clone()))
        .collect();
    d.sort();
    d
}

fn flags(r: &Value) -> Vec<String> {
    let mut f: Vec<String> = r["response"]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    f.sort();
    f
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// netdiag and dig asked the same question of the same server: the same rcode, flags and records; TTLs equal
/// from an authoritative server, within `ttl_slack` seconds from a cache (and never above the zone's).
fn same_as_dig(r: &Value, d: &Dig, ttl_slack: u32) {
    let what = format!("{}\n{}", r, d.text);
    assert_eq!(r["response"]["rcode"], d.status.as_str(), "{what}");
    assert_eq!(flags(r), sorted(d.flags.clone()), "{what}");
    let ours = section(r, "answer");
    assert_eq!(data(&ours), data(&d.answer), "{what}");
    for (a, b) in sorted_by_data(&ours).iter().zip(sorted_by_data(&d.answer)) {
        assert!(
            a.1.abs_diff(b.1) <= ttl_slack,
            "TTL {} vs dig {}: {what}",
            a.1,
            b.1
        );
    }
    assert_eq!(data(&section(r, "authority")), data(&d.authority), "{what}");
}

fn sorted_by_data(v: &[Rec]) -> Vec<Rec> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| (&a.3, &a.4, &a.0).cmp(&(&b.3, &b.4, &b.0)));
    v
}

/// Every record type of the zone, asked of the authoritative server, is what dig gets: rcode, flags, records
/// and TTLs; the large TXT set comes truncated over UDP and whole over TCP, as dig retries too.
#[test]
fn authoritative_answers_match_dig_for_every_type() {
    let Some(w) = world("authoritative_answers_match_dig", Parts::default()) else {
        return;
    };
    let at = format!("@{AUTH}");
    for (name, t) in [
        ("www.zone.test", "A"),
        ("www.zone.test", "AAAA"),
        ("alias.zone.test", "A"),
        ("alias.zone.test", "CNAME"),
        ("zone.test", "MX"),
        ("zone.test", "NS"),
        ("zone.test", "SOA"),
        ("zone.test", "TXT"),
        ("_sip._udp.zone.test", "SRV"),
        ("zone.test", "CAA"),
        ("svc.zone.test", "HTTPS"),
        ("many.zone.test", "A"),
        ("big.zone.test", "TXT"),
        ("zone.test", "ANY"),
    ] {
        let (code, v) = w.json(&["lookup", name, t, &at]);
        let r = &v["results"][0];
        assert_eq!(code, 0, "{name} {t}: {v}");
        assert_eq!(r["status"], "ok", "{name} {t}: {v}");
        let d = parse_dig(&w.dig(&["+norecurse", &at, name, t]));
        let mut d = d;
        // netdiag sends RD as dig does by default; compare with dig asking the same.
        if flags(r).contains(&"rd".to_string()) {
            d = parse_dig(&w.dig(&[&at, name, t]));
        }
        same_as_dig(r, &d, 0);
        assert_eq!(r["question"]["type"], t);
    }
    let (_, v) = w.json(&["lookup", "many.zone.test", &at]);
    assert_eq!(section(&v["results"][0], "answer").len(), 30);
    // The large TXT set: truncated over UDP, asked again over TCP.
    let (_, v) = w.json(&["lookup", "big.zone.test", "TXT", &at]);
    let r = &v["results"][0];
    assert_eq!(r["udp_truncated"], true, "{v}");
    assert_eq!(r["protocol"], "tcp", "{v}");
    assert_eq!(section(r, "answer").len(), 8);
    assert!(r["response"]["size"].as_u64().unwrap() > 1232, "{v}");
    let d = w.dig(&[&at, "big.zone.test", "TXT"]);
    assert!(d.contains("Truncated, retrying in TCP mode"), "{d}");
    // --ignore-tc shows the truncated answer as it came.
    let (_, v) = w.json(&["lookup", "big.zone.test", "TXT", &at, "--ignore-tc"]);
    let r = &v["results"][0];
    assert_eq!(r["protocol"], "udp");
    assert!(flags(r).contains(&"tc".to_string()), "{v}");
}

/// The text form shows the sections, TTLs, rcode, flags, EDNS, server, time and size, as dig does.
#[test]
fn text_shows_everything_dig_shows() {
    let Some(w) = world("text_shows_everything_dig_shows", Parts::default()) else {
        return;
    };
    let (code, out, err) = w.run(&["lookup", "alias.zone.test", &format!("@{AUTH}")]);
    assert_eq!(code, 0, "{out}{err}");
    for want in [
        "question  alias.zone.test. A",
        "server    10.53.0.1 (UDP)",
        "status    NOERROR: 3 answers, 0 authority, 0 additional",
        "flags     qr aa rd",
        "edns      version 0, udp 1232",
        "time ",
        "size      ",
        "SECTION  NAME",
        "answer   alias.zone.test.   300  IN     CNAME  alias2.zone.test.",
        "answer   www.zone.test.     300  IN     A      10.53.0.80",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    let d = w.dig(&[&format!("@{AUTH}"), "alias.zone.test"]);
    assert!(d.contains("MSG SIZE  rcvd: "), "{d}");
    let dig_size: u64 = d
        .split("MSG SIZE  rcvd: ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap();
    assert!(
        out.contains(&format!("size      {dig_size} bytes")),
        "{out}\n{d}"
    );
}

/// Through the recursive resolver: the CNAME chain is followed, RA is set, TTLs count down from the zone's
/// and stay within a second or two of dig's for the same cached record.
#[test]
fn recursive_answers_match_dig_and_ttls_count_down() {
    let Some(w) = world("recursive_answers_match_dig", Parts::RESOLVER) else {
        return;
    };
    let at = format!("@{RESOLVER}");
    for (name, t) in [
        ("alias.zone.test", "A"),
        ("zone.test", "MX"),
        ("www.zone.test", "AAAA"),
    ] {
        let (code, v) = w.json(&["lookup", name, t, &at]);
        assert_eq!(code, 0, "{v}");
        let r = &v["results"][0];
        let d = parse_dig(&w.dig(&[&at, name, t]));
        same_as_dig(r, &d, 2);
        assert!(flags(r).contains(&"ra".to_string()));
        for (_, ttl, _, _, _) in section(r, "answer") {
            assert!(ttl <= 300, "{v}");
        }
    }
    // A second later the cached TTL is lower, as dig sees it.
    let (_, first) = w.json(&["lookup", "www.zone.test", &at]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (_, second) = w.json(&["lookup", "www.zone.test", &at]);
    let t1 = section(&first["results"][0], "answer")[0].1;
    let t2 = section(&second["results"][0], "answer")[0].1;
    assert!(t2 < t1, "{t1} then {t2}");
    let d = parse_dig(&w.dig(&[&at, "www.zone.test"]));
    assert!(d.answer[0].1.abs_diff(t2) <= 2, "{t2} vs {:?}", d.answer);
}

/// NXDOMAIN names the zone that said so (from the SOA), NODATA says the name exists, REFUSED, SERVFAIL with
/// the extended error unbound sends, SERVFAIL from a resolver whose upstream is dead: each rcode as dig sees it.
#[test]
fn negative_answers_are_explained() {
    let Some(w) = world(
        "negative_answers_are_explained",
        Parts::RESOLVER_AND_SERVFAIL,
    ) else {
        return;
    };
    let cases = [
        (RESOLVER, "nope.zone.test", "A", "NXDOMAIN", "nxdomain"),
        (AUTH, "www.zone.test", "MX", "NOERROR", "nodata"),
        (AUTH, "www.elsewhere.test", "A", "REFUSED", "refused"),
        (RESOLVER, "signed.zone.test", "A", "SERVFAIL", "servfail"),
        (SERVFAIL, "www.zone.test", "A", "SERVFAIL", "servfail"),
    ];
    for (server, name, t, rcode, status) in cases {
        let at = format!("@{server}");
        let (code, v) = w.json(&["lookup", name, t, &at]);
        let r = &v["results"][0];
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["ok"], false);
        assert_eq!(r["status"], status, "{v}");
        let d = parse_dig(&w.dig(&[&at, name, t]));
        assert_eq!(r["response"]["rcode"], rcode, "{v}");
        assert_eq!(d.status, rcode, "{}", d.text);
        assert_eq!(flags(r), sorted(d.flags.clone()), "{v}\n{}", d.text);
        let e = &r["explanation"];
        assert!(
            e["cause"]
                .as_str()
                .unwrap()
                .contains(&format!("nameserver {server}")),
            "{v}"
        );
        assert!(!e["fix"].as_str().unwrap().is_empty());
    }
    let (_, v) = w.json(&["lookup", "nope.zone.test", &format!("@{RESOLVER}")]);
    let e = &v["results"][0]["explanation"];
    assert_eq!(e["code"], "NXDOMAIN");
    assert_eq!(e["verdict"], "not-found");
    assert!(
        e["cause"]
            .as_str()
            .unwrap()
            .contains("says the zone zone.test. (primary ns1.zone.test., serial 2024010101)"),
        "{e}"
    );
    let (_, v) = w.json(&["lookup", "www.zone.test", "MX", &format!("@{AUTH}")]);
    let e = &v["results"][0]["explanation"];
    assert_eq!(e["code"], "NODATA");
    assert!(
        e["cause"]
            .as_str()
            .unwrap()
            .contains("exists in the zone zone.test. but has no MX record"),
        "{e}"
    );
    // SERVFAIL with unbound's extended error, the same code dig shows.
    let (_, v) = w.json(&["lookup", "signed.zone.test", &format!("@{RESOLVER}")]);
    let r = &v["results"][0];
    let d = parse_dig(&w.dig(&[&format!("@{RESOLVER}"), "signed.zone.test"]));
    let ede = &r["response"]["edns"]["extended_errors"][0];
    let code = d.ede.expect("unbound sends an extended error");
    let name = d.ede_name.clone().unwrap_or_default();
    assert_eq!(
        ede["code"].as_u64(),
        Some(u64::from(code)),
        "{v}\n{}",
        d.text
    );
    assert_eq!(ede["name"], name.as_str(), "{v}\n{}", d.text);
    let cause = r["explanation"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("extended error {code} ({name})")),
        "{cause}"
    );
    assert!(r["explanation"]["fix"].as_str().unwrap().contains("DNSSEC"));
    let (_, out, _) = w.run(&["lookup", "signed.zone.test", &format!("@{RESOLVER}")]);
    assert!(
        out.contains(&format!(
            "edns      version 0, udp 1232, EDE {code} ({name})"
        )),
        "{out}"
    );
}

/// A nameserver with nothing listening, one whose packets are dropped, and one without a route: each named
/// with the precise cause, as dig words them (connection refused, timed out, network unreachable).
#[test]
fn dead_nameservers_are_named_precisely() {
    let Some(w) = world("dead_nameservers_are_named_precisely", Parts::default()) else {
        return;
    };
    let cases = [
        (DEAD, "closed", "port-unreachable", "connection refused"),
        (DROPPED, "timeout", "timeout", "timed out"),
        (
            UNROUTED,
            "unreachable",
            "ENETUNREACH",
            "network unreachable",
        ),
    ];
    for (server, status, code, dig_words) in cases {
        let at = format!("@{server}");
        let (rc, v) = w.json(&["lookup", "www.zone.test", &at, "--timeout", "1"]);
        let r = &v["results"][0];
        assert_eq!(rc, 1, "{v}");
        assert_eq!(r["status"], status, "{v}");
        assert_eq!(r["explanation"]["code"], code, "{v}");
        let cause = r["explanation"]["cause"].as_str().unwrap();
        assert!(cause.contains(&format!("nameserver {server}")), "{cause}");
        let d = w.dig(&[&at, "www.zone.test"]);
        assert!(d.contains(dig_words), "dig for {server}: {d}");
    }
    let (_, v) = w.json(&["lookup", "www.zone.test", &format!("@{DEAD}")]);
    let cause = v["results"][0]["explanation"]["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cause.contains(&format!("(ICMP from {DEAD})")), "{cause}");
    assert!(v["results"][0]["explanation"]["fix"]
        .as_str()
        .unwrap()
        .contains("resolv.conf"));
    // Over TCP the closed port is a refused connection, named the same way.
    let (_, v) = w.json(&["lookup", "www.zone.test", &format!("@{DEAD}"), "--tcp"]);
    assert_eq!(v["results"][0]["status"], "closed", "{v}");
}

/// Over IPv6: the same answer as dig from the server's IPv6 address; a closed port is named by the ICMPv6
/// port unreachable its sender returns.
#[test]
fn ipv6_servers_answer_and_fail_like_ipv4() {
    let Some(w) = world("ipv6_servers_answer_and_fail_like_ipv4", Parts::default()) else {
        return;
    };
    let (code, v) = w.json(&["lookup", "zone.test", "MX", &format!("@[{AUTH6}]:53")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["results"][0]["server"]["address"], AUTH6);
    let d = parse_dig(&w.dig(&[&format!("@{AUTH6}"), "zone.test", "MX"]));
    same_as_dig(&v["results"][0], &d, 0);
    let (code, v) = w.json(&["lookup", "zone.test", &format!("@{DEAD6}")]);
    assert_eq!(code, 1);
    let e = &v["results"][0]["explanation"];
    assert_eq!(e["code"], "port-unreachable", "{v}");
    assert!(
        e["cause"]
            .as_str()
            .unwrap()
            .contains(&format!("(ICMP from {DEAD6})")),
        "{v}"
    );
    assert!(w
        .dig(&[&format!("@{DEAD6}"), "zone.test"])
        .contains("connection refused"));
    // -6 asks only the IPv6 nameservers of resolv.conf.
    w.resolv_conf(&[AUTH, AUTH6], "");
    let (code, v) = w.json(&["lookup", "-6", "www.zone.test", "AAAA"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["results"][0]["server"]["address"], AUTH6, "{v}");
}

/// --short through the system resolver: the addresses alone.
#[test]
fn short_through_the_system_resolver() {
    let (code, out, err) = common::run(&["lookup", "--short", "localhost"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    for line in out.lines() {
        let ip: std::net::IpAddr = line.parse().unwrap_or_else(|_| panic!("{out}"));
        assert!(ip.is_loopback(), "{out}");
    }
}

/// Without a server, the nameservers of resolv.conf are asked in turn, as dig does: a dead first one is
/// listed under `tried`, the answer comes from the next.
#[test]
fn resolv_conf_servers_are_asked_in_turn() {
    let Some(w) = world("resolv_conf_servers_are_asked_in_turn", Parts::default()) else {
        return;
    };
    w.resolv_conf(&[DEAD, AUTH], "");
    let (code, v) = w.json(&["lookup", "www.zone.test", "A"]);
    assert_eq!(code, 0, "{v}");
    let r = &v["results"][0];
    assert_eq!(r["server"]["address"], AUTH);
    assert_eq!(r["tried"][0]["server_label"], DEAD, "{v}");
    assert_eq!(r["tried"][0]["status"], "closed");
    let d = parse_dig(&w.dig(&["www.zone.test", "A"]));
    assert_eq!(data(&section(r, "answer")), data(&d.answer));
    // No nameserver at all: said so, exit 1.
    w.resolv_conf(&[], "options timeout:1");
    let (code, v) = w.json(&["lookup", "www.zone.test", "MX"]);
    assert_eq!(code, 1);
    assert_eq!(
        v["results"][0]["explanation"]["code"], "no-nameserver",
        "{v}"
    );
}

/// TCP, TLS (unbound's DNS over TLS) and HTTPS (dnsdist's DNS over HTTPS) give the answer kdig gets over the
/// same transport; the certificate is checked against --cacert, and an unknown issuer is refused.
#[test]
fn tcp_tls_and_https_transports_match_kdig() {
    let Some(w) = world(
        "tcp_tls_and_https_transports_match_kdig",
        Parts {
            encrypted: true,
            ..Default::default()
        },
    ) else {
        return;
    };
    let ca = w.ca().display().to_string();
    let (code, v) = w.json(&[
        "lookup",
        "alias.zone.test",
        &format!("@{RESOLVER}"),
        "--tcp",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["results"][0]["protocol"], "tcp");
    let d = parse_dig(&w.dig(&["+tcp", &format!("@{RESOLVER}"), "alias.zone.test"]));
    same_as_dig(&v["results"][0], &d, 2);

    let (code, v) = w.json(&[
        "lookup",
        "alias.zone.test",
        &format!("@tls://{RESOLVER}"),
        "--cacert",
        &ca,
    ]);
    assert_eq!(code, 0, "{v}");
    let r = &v["results"][0];
    assert_eq!(r["protocol"], "tls");
    assert_eq!(r["server"]["port"], 853);
    assert_eq!(r["tls"]["verified"], true, "{v}");
    assert!(r["timings"]["tls_ms"].as_f64().unwrap() > 0.0);
    let k = parse_dig(&w.kdig(&[
        &format!("@{RESOLVER}"),
        "+tls",
        &format!("+tls-ca={ca}"),
        "alias.zone.test",
    ]));
    same_as_dig(r, &k, 2);

    let (code, v) = w.json(&[
        "lookup",
        "zone.test",
        "MX",
        &format!("@https://{DOH}/dns-query"),
        "--cacert",
        &ca,
    ]);
    assert_eq!(code, 0, "{v}");
    let r = &v["results"][0];
    assert_eq!(r["protocol"], "https");
    let k = parse_dig(&w.kdig(&[
        &format!("@{DOH}"),
        "+https",
        &format!("+tls-ca={ca}"),
        "zone.test",
        "MX",
    ]));
    assert_eq!(
        data(&section(r, "answer")),
        data(&k.answer),
        "{v}\n{}",
        k.text
    );
    // --https with a bare address means https://ADDRESS/dns-query.
    let (code, _) = w.json(&[
        "lookup",
        "zone.test",
        "MX",
        &format!("@{DOH}"),
        "--https",
        "--cacert",
        &ca,
    ]);
    assert_eq!(code, 0);
    // The bundled roots do not know the test CA: refused and explained; --insecure looks anyway.
    let (code, v) = w.json(&["lookup", "www.zone.test", &format!("@{RESOLVER}"), "--tls"]);
    assert_eq!(code, 1);
    assert_eq!(
        v["results"][0]["explanation"]["code"], "cert-unknown-issuer",
        "{v}"
    );
    let (code, v) = w.json(&[
        "lookup",
        "www.zone.test",
        &format!("@{RESOLVER}"),
        "--tls",
        "--insecure",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["results"][0]["tls"]["verified"], false);
}

/// --short prints what dig +short prints; -x asks the PTR record as dig -x does.
#[test]
fn short_and_reverse_match_dig() {
    let Some(w) = world("short_and_reverse_match_dig", Parts::default()) else {
        return;
    };
    let at = format!("@{AUTH}");
    for args in [
        vec!["alias.zone.test"],
        vec!["zone.test", "MX"],
        vec!["zone.test", "TXT"],
        vec!["_sip._udp.zone.test", "SRV"],
        vec!["svc.zone.test", "HTTPS"],
    ] {
        let mut a = vec!["lookup", "--short", at.as_str()];
        a.extend(&args);
        let (code, out, err) = w.run(&a);
        assert_eq!(code, 0, "{err}");
        let mut d = vec!["+short", at.as_str()];
        d.extend(&args);
        let dig = w.dig(&d);
        assert_eq!(
            sorted(out.lines().map(str::to_string).collect()),
            sorted(dig.lines().map(str::to_string).collect()),
            "{args:?}"
        );
    }
    let (code, out, _) = w.run(&["lookup", "-x", "10.53.0.80", &at, "--short"]);
    assert_eq!(code, 0);
    assert_eq!(out, w.dig(&["+short", "-x", "10.53.0.80", &at]));
    assert_eq!(out.trim(), "www.zone.test.");
    // A failure with --short: nothing on stdout, one line on stderr, exit 1.
    let (code, out, err) = w.run(&["lookup", "nope.zone.test", &at, "--short"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("netdiag: nope.zone.test. A @10.53.0.1:") && err.lines().count() == 1,
        "{err}"
    );
}

/// --trace from a private root: one row per delegation, the same zones and final answer dig +trace shows.
#[test]
fn trace_follows_the_delegations_like_dig() {
    let Some(w) = world("trace_follows_the_delegations_like_dig", Parts::RESOLVER) else {
        return;
    };
    let (code, v) = w.json(&["lookup", "www.zone.test", "--trace", "--root", ROOT]);
    assert_eq!(code, 0, "{v}");
    let steps = v["results"][0]["steps"].as_array().unwrap();
    let zones: Vec<&str> = steps.iter().map(|s| s["zone"].as_str().unwrap()).collect();
    assert_eq!(zones, [".", "test.", "zone.test."], "{v}");
    assert_eq!(steps[0]["referral"][0], "ns.nic.test.");
    assert_eq!(steps[1]["referral"][0], "ns1.zone.test.");
    assert_eq!(steps[2]["server"]["address"], AUTH);
    assert_eq!(steps[2]["status"], "ok");
    // dig +trace: the NS sets of each level and the same answer (dig finds the servers' addresses through
    // the namespace's resolver, unbound).
    let d = w.dig(&["+trace", &format!("@{ROOT}"), "www.zone.test"]);
    for want in [
        "test.\t\t\t86400\tIN\tNS\tns.nic.test.",
        "zone.test.\t\t3600\tIN\tNS\tns1.zone.test.",
        "www.zone.test.\t\t300\tIN\tA\t10.53.0.80",
    ] {
        assert!(d.contains(want), "{want:?} not in {d}");
    }
    let rec = &steps[2]["records"][0];
    assert_eq!(
        (rec["name"].as_str(), rec["data"].as_str()),
        (Some("www.zone.test."), Some("10.53.0.80"))
    );
    let (_, out, _) = w.run(&["lookup", "www.zone.test", "--trace", "--root", ROOT]);
    assert!(
        out.contains("referral to zone.test. (ns1.zone.test.)"),
        "{out}"
    );
    // A name that does not exist: the trace ends at the zone that says so.
    let (code, v) = w.json(&["lookup", "nope.zone.test", "--trace", "--root", ROOT]);
    assert_eq!(code, 1);
    assert_eq!(v["results"][0]["status"], "nxdomain", "{v}");
    // A dead root: the step says so.
    let (code, v) = w.json(&["lookup", "www.zone.test", "--trace", "--root", DEAD]);
    assert_eq!(code, 1);
    assert_eq!(v["results"][0]["steps"][0]["status"], "closed", "{v}");
}

/// --all-servers: every resolv.conf nameserver at once, side by side with the system resolver and
/// /etc/hosts; dead ones named; a stale cache that disagrees with the zone is found.
#[test]
fn all_servers_side_by_side() {
    let Some(w) = world("all_servers_side_by_side", Parts::RESOLVER) else {
        return;
    };
    w.resolv_conf(&[RESOLVER, DEAD, DROPPED], "options timeout:1 attempts:1");
    let (code, v) = w.json(&["lookup", "www.zone.test", "--all-servers", "--timeout", "1"]);
    assert_eq!(code, 1, "{v}");
    let c = &v["results"][0];
    let rows = c["servers"].as_array().unwrap();
    let row = |src: &str| {
        rows.iter()
            .find(|r| r["source"] == src)
            .unwrap_or_else(|| panic!("{src}: {v}"))
    };
    assert_eq!(row(RESOLVER)["status"], "ok");
    assert_eq!(row(RESOLVER)["answers"][0], "10.53.0.80");
    assert_eq!(row(DEAD)["status"], "closed");
    assert_eq!(row(DROPPED)["status"], "timeout");
    assert_eq!(row("system resolver")["status"], "ok");
    assert_eq!(row("/etc/hosts")["status"], "not-listed");
    assert_eq!(c["agree"], true);
    // Each row is what dig gets from that server alone.
    let d = w.dig(&[&format!("@{DEAD}"), "www.zone.test"]);
    assert!(d.contains("connection refused"), "{d}");
    let d = parse_dig(&w.dig(&[&format!("@{RESOLVER}"), "www.zone.test"]));
    assert_eq!(d.answer[0].4, "10.53.0.80");

    // /etc/hosts shadows DNS for programs: named as such.
    w.hosts("127.0.0.1 localhost\n10.53.0.99 www.zone.test\n");
    w.resolv_conf(&[RESOLVER, AUTH], "");
    let (code, v) = w.json(&["lookup", "www.zone.test", "--all-servers"]);
    let c = &v["results"][0];
    let rows = c["servers"].as_array().unwrap();
    let hosts = rows.iter().find(|r| r["source"] == "/etc/hosts").unwrap();
    assert_eq!(hosts["status"], "override", "{v}");
    assert_eq!(hosts["answers"][0], "10.53.0.99");
    let sys = rows
        .iter()
        .find(|r| r["source"] == "system resolver")
        .unwrap();
    assert_eq!(sys["answers"][0], "10.53.0.99", "{v}");
    let f = &c["findings"][0];
    assert_eq!(f["code"], "hosts-override", "{v}");
    assert!(
        f["cause"].as_str().unwrap().contains("DNS says 10.53.0.80"),
        "{f}"
    );
    assert_eq!(code, 0, "both nameservers answer and agree: {v}");

    // The zone changes; the resolver's cache still has the old address: they disagree.
    w.hosts("127.0.0.1 localhost\n");
    w.set_www("10.53.0.81");
    let (code, v) = w.json(&["lookup", "www.zone.test", "--all-servers"]);
    assert_eq!(code, 1, "{v}");
    let c = &v["results"][0];
    assert_eq!(c["agree"], false, "{v}");
    assert!(
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "servers-disagree"),
        "{v}"
    );
    let from_auth = parse_dig(&w.dig(&[&format!("@{AUTH}"), "www.zone.test"]));
    let from_cache = parse_dig(&w.dig(&[&format!("@{RESOLVER}"), "www.zone.test"]));
    assert_ne!(from_auth.answer[0].4, from_cache.answer[0].4);
    let (_, out, _) = w.run(&["lookup", "www.zone.test", "--all-servers"]);
    assert!(out.contains("they disagree"), "{out}");
}

/// Bad input: one line naming what is wrong and what would be right, exit 2, and nothing is sent.
#[test]
fn bad_input_exits_2_with_one_line() {
    let long_label = format!("{}.test", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 26].join(".");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["lookup", &long_label, "@127.0.0.1"],
            "at most 63 characters",
        ),
        (vec!["lookup", &long_name, "MX"], "at most 253 characters"),
        (
            vec!["lookup", "example.test", "--type", "FOO"],
            "unknown record type 'FOO'",
        ),
        (
            vec!["lookup", "example.test", "--type", "AXFR"],
            "zone transfer",
        ),
        (
            vec!["lookup", "example.test", "@127.0.0.1:0"],
            "invalid server",
        ),
        (
            vec!["lookup", "example.test", "@quic://127.0.0.1"],
            "unknown scheme",
        ),
        (
            vec!["lookup", "example.test", "--server", "a..b"],
            "invalid server",
        ),
        (
            vec!["lookup", "example.test", "--trace", "--root", "root.test"],
            "invalid --root",
        ),
        (
            vec!["lookup", "example.test", "--trace", "@127.0.0.1"],
            "--root ADDR",
        ),
        (
            vec!["lookup", "example.test", "--tcp", "--tls"],
            "cannot be used with",
        ),
        (
            vec!["lookup", "-x", "example.test", "@127.0.0.1"],
            "-x needs an address",
        ),
        (
            vec!["lookup", "example.test", "--class", "XX"],
            "unknown class",
        ),
        (
            vec!["lookup", "example.test", "--bufsize", "100"],
            "bufsize",
        ),
        (vec!["lookup", "@127.0.0.1"], "no name to look up"),
        (
            vec!["lookup", "example.test", "@tcp://127.0.0.1", "--tls"],
            "contradicts --tls",
        ),
    ];
    for (args, want) in cases {
        common::bad_input(&args, want);
    }
}

/// Every answer and failure is in --json with the shared conventions: top-level ok, results[].status,
/// durations in _ms, endpoints as objects, failures as an explanation.
#[test]
fn json_follows_the_conventions() {
    let Some(w) = world("json_follows_the_conventions", Parts::default()) else {
        return;
    };
    let (code, v) = w.json(&[
        "lookup",
        "www.zone.test",
        "AAAA",
        &format!("@{AUTH}"),
        &format!("@{DEAD}"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    let rs = v["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["status"], "ok");
    assert_eq!(
        rs[0]["server"],
        serde_json::json!({"address": AUTH, "port": 53})
    );
    assert!(rs[0]["timings"]["request_ms"].as_f64().unwrap() > 0.0);
    assert!(rs[0]["timings"]["total_ms"].as_f64().is_some());
    assert_eq!(rs[0]["explanation"], Value::Null);
    assert_eq!(rs[0]["response"]["answer"][0]["data"], "fd53::80");
    assert_eq!(rs[1]["status"], "closed");
    for k in ["verdict", "code", "cause", "fix"] {
        assert!(rs[1]["explanation"][k].is_string(), "{k}: {v}");
    }
    let (code, v) = w.json(&["lookup", "www.zone.test", &format!("@{AUTH}")]);
    assert_eq!((code, v["ok"].as_bool()), (0, Some(true)));
}

/// diagnose: when the system resolver fails, each nameserver is asked directly and the cause is named
/// precisely — the same rcode dig gets from that nameserver, or the transport failure dig reports.
#[test]
fn diagnose_names_why_a_name_does_not_resolve() {
    let Some(w) = world(
        "diagnose_names_why_a_name_does_not_resolve",
        Parts::RESOLVER_AND_SERVFAIL,
    ) else {
        return;
    };
    let cases: Vec<(&str, &str, &[&str], &str, &str)> = vec![
        ("nope.zone.test", "", &[RESOLVER], "NXDOMAIN", "NXDOMAIN"),
        ("mail.zone.test", "-6", &[RESOLVER], "NODATA", "NOERROR"),
        ("www.zone.test", "", &[SERVFAIL], "SERVFAIL", "SERVFAIL"),
        ("signed.zone.test", "", &[RESOLVER], "SERVFAIL", "SERVFAIL"),
        ("www.elsewhere.test", "", &[AUTH], "REFUSED", "REFUSED"),
        (
            "www.zone.test",
            "",
            &[DEAD],
            "port-unreachable",
            "connection refused",
        ),
        ("www.zone.test", "", &[DROPPED], "timeout", "timed out"),
        (
            "www.zone.test",
            "",
            &[UNROUTED],
            "ENETUNREACH",
            "network unreachable",
        ),
    ];
    for (name, fam, servers, code, dig_says) in cases {
        w.resolv_conf(servers, "options timeout:1 attempts:1");
        let mut args = vec!["diagnose", name, "--timeout", "2"];
        if !fam.is_empty() {
            args.push(fam);
        }
        let (rc, v) = w.json(&args);
        assert_eq!(rc, 1, "{name}: {v}");
        assert_eq!(v["failed_step"], "resolve", "{name}: {v}");
        let e = &steps(&v, "resolve")[0]["explanation"];
        assert_eq!(e["code"], code, "{name} via {servers:?}: {v}");
        assert!(
            e["cause"]
                .as_str()
                .unwrap()
                .contains(&format!("nameserver {}", servers[0])),
            "{e}"
        );
        let ns = steps(&v, "nameserver");
        assert_eq!(ns.len(), 1, "{v}");
        assert!(ns[0]["tried"].as_str().unwrap().contains(servers[0]));
        let t = if fam == "-6" { "AAAA" } else { "A" };
        let d = w.dig(&[&format!("@{}", servers[0]), name, t]);
        assert!(d.contains(dig_says), "dig {name} {t} @{}: {d}", servers[0]);
    }
    // The NXDOMAIN names the zone that said so; the SERVFAIL carries unbound's extended error.
    w.resolv_conf(&[RESOLVER], "options timeout:1 attempts:1");
    let (_, v) = w.json(&["diagnose", "nope.zone.test"]);
    let cause = steps(&v, "resolve")[0]["explanation"]["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cause.contains("says the zone zone.test. (primary ns1.zone.test., serial 2024010101)"),
        "{cause}"
    );
    let (_, v) = w.json(&["diagnose", "signed.zone.test"]);
    let cause = steps(&v, "resolve")[0]["explanation"]["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cause.contains("extended error"), "{cause}");
    // No nameserver configured.
    w.resolv_conf(&[], "options timeout:1 attempts:1");
    let (rc, v) = w.json(&["diagnose", "www.zone.test", "--timeout", "2"]);
    assert_eq!(rc, 1);
    assert_eq!(
        steps(&v, "resolve")[0]["explanation"]["code"],
        "no-nameserver",
        "{v}"
    );
    // Two dead nameservers: both named.
    w.resolv_conf(&[DEAD, UNROUTED], "options timeout:1 attempts:1");
    let (_, out, _) = w.run(&["diagnose", "www.zone.test", "--timeout", "2"]);
    assert!(
        out.contains("nameserver 10.53.0.4") && out.contains("10.99.0.1 unreachable"),
        "{out}"
    );
}

/// diagnose: a dead first nameserver makes resolution slow; the resolve step (bounded by --timeout) flags it
/// and names the dead server, later steps use its addresses instead of resolving again, and the target
/// works end to end with a warning.
#[test]
fn diagnose_flags_slow_resolution_and_resolves_once() {
    let Some(w) = world("diagnose_flags_slow_resolution", Parts::RESOLVER) else {
        return;
    };
    w.http_server("10.53.0.80");
    // glibc's default: 5 s per nameserver, longer than diagnose's --timeout.
    w.resolv_conf(&[DROPPED, RESOLVER], "options timeout:5 attempts:1");
    let (rc, v) = w.json(&["diagnose", "-4", "http://www.zone.test/", "--timeout", "3"]);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["ok"], true);
    let r = steps(&v, "resolve")[0];
    assert_eq!(r["warning"], true, "{v}");
    assert_eq!(r["explanation"]["code"], "slow-dns", "{v}");
    assert!(
        r["explanation"]["cause"]
            .as_str()
            .unwrap()
            .contains(DROPPED),
        "{v}"
    );
    assert!(r["result"].as_str().unwrap().contains("10.53.0.80"), "{v}");
    let talk = steps(&v, "talk")[0];
    assert_eq!(talk["status"], "ok", "{v}");
    assert!(
        talk["tried"].as_str().unwrap().contains("via 10.53.0.80"),
        "{v}"
    );
    assert!(
        talk["result"].as_str().unwrap().starts_with("HTTP/1.1 200"),
        "{v}"
    );
    // With a short resolver timeout the system resolver succeeds, late: flagged all the same.
    w.resolv_conf(&[DROPPED, RESOLVER], "options timeout:1 attempts:1");
    let (rc, v) = w.json(&["diagnose", "-4", "http://www.zone.test/", "--timeout", "3"]);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(
        steps(&v, "resolve")[0]["explanation"]["code"],
        "slow-dns",
        "{v}"
    );
    let (_, out, _) = w.run(&["diagnose", "-4", "http://www.zone.test/", "--timeout", "3"]);
    assert!(out.contains("resolve warn: name resolution took"), "{out}");
    assert!(out.contains("10.53.0.5 did not answer"), "{out}");
}

/// diagnose: /etc/hosts answering for a name that DNS knows otherwise is named as shadowing DNS.
#[test]
fn diagnose_names_hosts_shadowing() {
    let Some(w) = world("diagnose_names_hosts_shadowing", Parts::RESOLVER) else {
        return;
    };
    w.hosts("127.0.0.1 localhost\n10.53.0.99 www.zone.test\n");
    let (_, v) = w.json(&["diagnose", "-4", "www.zone.test:8080", "--timeout", "1"]);
    let r = steps(&v, "resolve");
    assert!(
        r[0]["result"]
            .as_str()
            .unwrap()
            .contains("10.53.0.99 (from /etc/hosts)"),
        "{v}"
    );
    let shadow = r
        .iter()
        .find(|s| s["explanation"]["code"] == "hosts-override")
        .expect("a shadowing row");
    assert_eq!(shadow["warning"], true);
    assert!(
        shadow["explanation"]["cause"]
            .as_str()
            .unwrap()
            .contains("DNS says 10.53.0.80"),
        "{v}"
    );
    let d = parse_dig(&w.dig(&[&format!("@{RESOLVER}"), "www.zone.test"]));
    assert_eq!(d.answer[0].4, "10.53.0.80");
}

/// diagnose with no target asks each configured nameserver: which answer, how fast, which are dead.
#[test]
fn diagnose_machine_tests_each_nameserver() {
    let Some(w) = world("diagnose_machine_tests_each_nameserver", Parts::RESOLVER) else {
        return;
    };
    w.resolv_conf(&[RESOLVER, DEAD, UNROUTED], "options timeout:1 attempts:1");
    let (_, v) = w.json(&["diagnose", "--timeout", "1"]);
    let ns = steps(&v, "nameserver");
    assert_eq!(ns.len(), 3, "{v}");
    assert_eq!(ns[0]["status"], "ok", "{v}");
    assert!(ns[0]["result"]
        .as_str()
        .unwrap()
        .starts_with("answers (NOERROR)"));
    assert!(ns[0]["elapsed_ms"].as_f64().is_some());
    assert_eq!(ns[1]["warning"], true);
    assert_eq!(ns[1]["explanation"]["code"], "port-unreachable", "{v}");
    assert_eq!(ns[2]["explanation"]["code"], "ENETUNREACH", "{v}");
    assert!(ns[2]["explanation"]["cause"]
        .as_str()
        .unwrap()
        .contains("no route to nameserver 10.99.0.1"));
    assert!(w
        .dig(&[&format!("@{UNROUTED}"), ".", "NS"])
        .contains("network unreachable"));
    // None answers: a failure.
    w.resolv_conf(&[DEAD], "");
    let (_, v) = w.json(&["diagnose", "--timeout", "1"]);
    let dead = steps(&v, "nameserver")[0];
    assert_eq!(dead["status"], "closed", "{v}");
    assert_eq!(dead["warning"], false, "{v}");
}

/// The CNAME links of dig's answer section, without trailing dots.
fn dig_cnames(d: &Dig) -> Vec<(String, String)> {
    d.answer
        .iter()
        .filter(|r| r.3 == "CNAME")
        .map(|r| {
            (
                r.0.trim_end_matches('.').to_string(),
                r.4.trim_end_matches('.').to_string(),
            )
        })
        .collect()
}

/// Issue 17 item 11: `lookup` through the system resolver shows a CNAME only where DNS has one — not for an
/// absolute name (`www.zone.test.`), not for a search-list expansion (`www` asked as `www.zone.test`, named as
/// the expansion) — and shows a real chain (alias → alias2 → www) link by link, as dig does, against unbound
/// forwarding to knot in the test's namespace.
#[test]
fn cname_rows_only_where_dns_has_them() {
    let Some(w) = world("cname_rows_only_where_dns_has_them", Parts::RESOLVER) else {
        return;
    };
    w.resolv_conf(
        &[RESOLVER],
        "search zone.test\noptions timeout:1 attempts:1",
    );
    for (query, dig_args, queried, links) in [
        ("www.zone.test.", vec!["www.zone.test."], None, 0),
        ("www.zone.test", vec!["www.zone.test"], None, 0),
        ("www", vec!["+search", "www"], Some("www.zone.test"), 0),
        ("alias.zone.test", vec!["alias.zone.test"], None, 2),
        ("alias.zone.test.", vec!["alias.zone.test."], None, 2),
        (
            "alias",
            vec!["+search", "alias"],
            Some("alias.zone.test"),
            2,
        ),
    ] {
        let (code, v) = w.json(&["lookup", query]);
        assert_eq!(code, 0, "{query}: {v}");
        let r = &v["results"][0];
        let d = parse_dig(&w.dig(&dig_args));
        assert_eq!(d.status, "NOERROR", "{}", d.text);
        let chain: Vec<(String, String)> = r["cname_chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].as_str().unwrap().to_string(),
                    l["target"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(chain, dig_cnames(&d), "{query}: {r}\n{}", d.text);
        assert_eq!(chain.len(), links, "{query}: {r}");
        assert_eq!(r["queried_name"].as_str(), queried, "{query}: {r}");
        assert_eq!(r["canonical_name"], "www.zone.test", "{query}: {r}");
        let dig_a: Vec<&str> = d
            .answer
            .iter()
            .filter(|x| x.3 == "A")
            .map(|x| x.4.as_str())
            .collect();
        assert_eq!(dig_a, ["10.53.0.80"], "{}", d.text);
        assert!(
            r["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == "10.53.0.80"),
            "{r}"
        );
        let (code, out, err) = w.run(&["lookup", query]);
        assert_eq!(code, 0, "{err}");
        let kinds: Vec<&str> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "CNAME").count(),
            links,
            "{query}:\n{out}"
        );
        assert!(!kinds.contains(&"CANONICAL"), "{query}:\n{out}");
        assert_eq!(
            kinds.contains(&"SEARCH"),
            queried.is_some(),
            "{query}:\n{out}"
        );
        if links == 2 {
            assert!(
                out.contains("alias.zone.test -> alias2.zone.test")
                    && out.contains("alias2.zone.test -> www.zone.test"),
                "{out}"
            );
        }
        if let Some(q) = queried {
            assert!(
                out.contains(&format!("{q} (search list expansion of {query})")),
                "{out}"
            );
        }
    }
}
