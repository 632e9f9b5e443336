//! Path verdicts for `trace` and `diagnose`: where on the way packets stop, which router rejects them and with
//! what ICMP code, in plain words with the likely fix. Part of the one explanation table ([`crate::explain`]).

use std::net::IpAddr;

use super::{Explanation, Verdict};

/// An ICMP error type and code as netdiag names it: a kebab-case name (the same word in tables and JSON),
/// traceroute's short annotation (`!X`, `!H`, `!F`), and plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpCode {
    pub name: &'static str,
    pub short: &'static str,
    pub words: &'static str,
}

const fn code(name: &'static str, short: &'static str, words: &'static str) -> IcmpCode {
    IcmpCode { name, short, words }
}

/// Names an ICMP (`v6` false) or ICMPv6 error by type and code.
pub fn icmp_code(v6: bool, icmp_type: u8, c: u8) -> IcmpCode {
    match (v6, icmp_type, c) {
        (false, 11, 0) | (true, 3, 0) => {
            code("ttl-exceeded", "", "time to live exceeded in transit")
        }
        (false, 11, 1) | (true, 3, 1) => code(
            "reassembly-time-exceeded",
            "!R",
            "fragment reassembly time exceeded",
        ),
        (false, 3, 0) => code("net-unreachable", "!N", "destination network unreachable"),
        (false, 3, 1) => code("host-unreachable", "!H", "destination host unreachable"),
        (false, 3, 2) => code(
            "protocol-unreachable",
            "!P",
            "destination protocol unreachable",
        ),
        (false, 3, 3) => code("port-unreachable", "!U", "destination port unreachable"),
        (false, 3, 4) => code("frag-needed", "!F", "fragmentation needed and DF set"),
        (false, 3, 5) => code("source-route-failed", "!S", "source route failed"),
        (false, 3, 6) => code("net-unknown", "!N", "destination network unknown"),
        (false, 3, 7) => code("host-unknown", "!H", "destination host unknown"),
        (false, 3, 8) => code("host-isolated", "!H", "source host isolated"),
        (false, 3, 9) => code(
            "net-prohibited",
            "!X",
            "network administratively prohibited",
        ),
        (false, 3, 10) => code("host-prohibited", "!X", "host administratively prohibited"),
        (false, 3, 11) => code(
            "net-unreachable-tos",
            "!N",
            "network unreachable for the type of service",
        ),
        (false, 3, 12) => code(
            "host-unreachable-tos",
            "!H",
            "host unreachable for the type of service",
        ),
        (false, 3, 13) => code(
            "admin-prohibited",
            "!X",
            "communication administratively prohibited",
        ),
        (false, 3, 14) => code(
            "host-precedence-violation",
            "!V",
            "host precedence violation",
        ),
        (false, 3, 15) => code("precedence-cutoff", "!C", "precedence cutoff in effect"),
        (false, 3, _) => code("unreachable", "!", "destination unreachable"),
        (true, 1, 0) => code("no-route", "!N", "no route to destination"),
        (true, 1, 1) => code(
            "admin-prohibited",
            "!X",
            "communication administratively prohibited",
        ),
        (true, 1, 2) => code(
            "beyond-scope",
            "!S",
            "beyond the scope of the source address",
        ),
        (true, 1, 3) => code("address-unreachable", "!H", "address unreachable"),
        (true, 1, 4) => code("port-unreachable", "!U", "port unreachable"),
        (true, 1, 5) => code(
            "source-policy-failed",
            "!X",
            "source address failed ingress/egress policy",
        ),
        (true, 1, 6) => code("reject-route", "!X", "reject route to destination"),
        (true, 1, _) => code("unreachable", "!", "destination unreachable"),
        (true, 2, _) => code("packet-too-big", "!F", "packet too big"),
        (false, 12, _) | (true, 4, _) => code("parameter-problem", "!P", "parameter problem"),
        _ => code("icmp-error", "!?", "an ICMP error"),
    }
}

fn join(addrs: &[IpAddr]) -> String {
    const SHOWN: usize = 8;
    let mut s: Vec<String> = addrs.iter().take(SHOWN).map(|a| a.to_string()).collect();
    if addrs.len() > SHOWN {
        s.push(format!("and {} more", addrs.len() - SHOWN));
    }
    s.join(", ")
}

/// Packets pass `passed` (the routers that answered, in hop order; the last at hop `last_hop`) and nothing
/// answers after: something at or after the last one drops them. `probe` reads like "SYN to 10.0.3.2:443";
/// `what` like "tcp port 443" (for the fix), `icmp_hint` a command that shows whether other traffic passes.
pub fn silent_after(
    probe: &str,
    passed: &[IpAddr],
    last_hop: u8,
    what: &str,
    icmp_hint: Option<&str>,
) -> Explanation {
    let Some(last) = passed.last() else {
        return silent_from_start(probe, what);
    };
    let mut fix = format!(
        "check the firewall rules of {last} and of the router after it (hop {}) for {what}",
        u16::from(last_hop) + 1
    );
    if let Some(h) = icmp_hint {
        fix.push_str(&format!("; '{h}' shows whether other traffic gets further"));
    }
    Explanation {
        verdict: Verdict::Filtered,
        code: "silent-after-hop".into(),
        cause: format!(
            "{probe} passes {}; nothing after {last} (hop {last_hop}): a firewall at or after {last} drops it",
            join(passed)
        ),
        fix,
    }
}

/// Routers answered every TTL up to the last one probed: the destination is further away.
pub fn beyond_max_ttl(probe: &str, max_ttl: u8, last: IpAddr) -> Explanation {
    Explanation {
        verdict: Verdict::Filtered,
        code: "max-ttl".into(),
        cause: format!(
            "{probe}: routers answer up to the last TTL probed ({max_ttl}, {last}): the destination is further than {max_ttl} hops (or the path loops)"
        ),
        fix: format!("raise --max-ttl (it is {max_ttl}; the limit is 255)"),
    }
}

/// Nothing answers, not even the first router.
pub fn silent_from_start(probe: &str, what: &str) -> Explanation {
    Explanation {
        verdict: Verdict::Filtered,
        code: "silent-path".into(),
        cause: format!(
            "{probe}: no router on the way and not the destination answered: a firewall on this machine or the first router drops it (or the routers send no ICMP)"
        ),
        fix: format!(
            "check this machine's firewall (nft list ruleset) and the gateway's for {what}; try another protocol (--proto icmp, udp or tcp)"
        ),
    }
}

/// A router (or, with `by_destination`, the target itself) rejected the probe with an ICMP error.
pub fn rejected(
    probe: &str,
    by: IpAddr,
    hop: u8,
    by_destination: bool,
    (v6, icmp_type, c): (bool, u8, u8),
    mtu: Option<u32>,
    what: &str,
) -> Explanation {
    let name = icmp_code(v6, icmp_type, c);
    let who = if by_destination {
        format!("the destination {by} (hop {hop})")
    } else {
        format!("{by} (hop {hop})")
    };
    let icmp = if v6 { "ICMPv6" } else { "ICMP" };
    let head = format!(
        "{who} rejects the {probe} with {icmp} {} (type {icmp_type} code {c})",
        name.words
    );
    let (verdict, cause, fix) = match name.name {
        "admin-prohibited" | "net-prohibited" | "host-prohibited" | "source-policy-failed"
        | "reject-route" => (
            Verdict::Unreachable,
            format!("{head}: a firewall rule there refuses it"),
            format!("ask whoever runs {by} to allow {what}"),
        ),
        "port-unreachable" if !by_destination => (
            Verdict::Unreachable,
            format!("{head}: a firewall's reject rule answers so for traffic it refuses"),
            format!("ask whoever runs {by} to allow {what}"),
        ),
        "port-unreachable" | "protocol-unreachable" => (
            Verdict::Closed,
            format!("{head}: nothing there takes {what}"),
            "check that the service runs on that host and port".into(),
        ),
        "net-unreachable" | "no-route" | "net-unknown" | "net-unreachable-tos" => (
            Verdict::Unreachable,
            format!("{head}: that router has no route to the destination's network"),
            format!("check the routes on {by} (or the network is down beyond it)"),
        ),
        "host-unreachable" | "address-unreachable" | "host-unknown" | "host-unreachable-tos" => (
            Verdict::Unreachable,
            format!(
                "{head}: that router cannot deliver to the host (no answer to ARP or neighbour discovery on its network, or a route there marks it unreachable)"
            ),
            "check that the host is up and that the address is right".into(),
        ),
        "frag-needed" | "packet-too-big" => {
            let m = mtu.map_or("smaller".to_string(), |m| m.to_string());
            (
                Verdict::Unreachable,
                format!("{head}: the next link's MTU is {m} bytes and the packet may not be fragmented"),
                format!(
                    "send smaller packets (--size {m}); if connections stall there, path-MTU discovery or MSS clamping is broken on the path"
                ),
            )
        }
        _ => (
            Verdict::Unreachable,
            head,
            format!("check the router at {by}"),
        ),
    };
    Explanation {
        verdict,
        code: name.name.into(),
        cause,
        fix,
    }
}

/// A hop that never answers while later ones do: many routers send no "time exceeded" (or rate-limit it).
/// Not a failure; said so the table's silent line is not read as one.
pub fn silent_hop(hop: u8) -> String {
    format!(
        "hop {hop} sends no time exceeded (common: the router is configured not to, or rate-limits ICMP); packets pass it"
    )
}

/// Loss at a hop that does not carry on to later hops is the router's ICMP rate limit, not packet loss.
pub fn loss_not_forwarded(hop: u8, loss: f64) -> String {
    format!(
        "hop {hop} answers {:.0}% fewer probes than it forwards: its ICMP rate limit (or control-plane load), not loss on the path",
        loss
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn silent_after_names_the_last_hop_that_answered() {
        let e = silent_after(
            "SYN to 10.0.3.2:443",
            &[ip("10.0.1.1"), ip("10.0.2.1")],
            2,
            "tcp port 443",
            Some("netdiag trace --proto icmp 10.0.3.2"),
        );
        assert_eq!(e.verdict, Verdict::Filtered);
        assert_eq!(e.code, "silent-after-hop");
        assert_eq!(
            e.cause,
            "SYN to 10.0.3.2:443 passes 10.0.1.1, 10.0.2.1; nothing after 10.0.2.1 (hop 2): a firewall at or after 10.0.2.1 drops it"
        );
        assert!(
            e.fix.contains("hop 3") && e.fix.contains("tcp port 443"),
            "{}",
            e.fix
        );
        assert!(e.fix.contains("--proto icmp"));
        let e = silent_after("UDP to 10.0.3.2:33434", &[], 0, "udp port 33434", None);
        assert_eq!(e.code, "silent-path");
        assert!(e.fix.contains("nft list ruleset"));
    }

    #[test]
    fn running_out_of_ttls_says_so() {
        let e = beyond_max_ttl("ICMP echo to 10.0.3.2", 2, ip("10.0.2.2"));
        assert_eq!((e.verdict, e.code.as_str()), (Verdict::Filtered, "max-ttl"));
        assert!(e.cause.contains("further than 2 hops"));
        assert!(e.fix.contains("--max-ttl"));
    }

    #[test]
    fn rejections_name_the_router_and_the_code() {
        let e = rejected(
            "SYN to 10.0.4.2:443",
            ip("10.0.2.2"),
            3,
            false,
            (false, 3, 13),
            None,
            "tcp port 443",
        );
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "admin-prohibited")
        );
        assert_eq!(
            e.cause,
            "10.0.2.2 (hop 3) rejects the SYN to 10.0.4.2:443 with ICMP communication administratively prohibited (type 3 code 13): a firewall rule there refuses it"
        );
        assert!(e.fix.contains("allow tcp port 443"));
        let e = rejected("x", ip("fd00::1"), 2, false, (true, 1, 1), None, "y");
        assert_eq!(e.code, "admin-prohibited");
        assert!(e.cause.contains("ICMPv6"));
        let e = rejected(
            "x",
            ip("10.0.2.2"),
            3,
            false,
            (false, 3, 4),
            Some(1300),
            "y",
        );
        assert_eq!(e.code, "frag-needed");
        assert!(e.cause.contains("MTU is 1300"), "{}", e.cause);
        assert!(e.fix.contains("--size 1300"));
        let e = rejected(
            "x",
            ip("10.0.4.2"),
            4,
            true,
            (false, 3, 3),
            None,
            "tcp port 443",
        );
        assert_eq!(e.verdict, Verdict::Closed);
        let e = rejected(
            "x",
            ip("10.0.2.2"),
            2,
            false,
            (false, 3, 3),
            None,
            "tcp port 443",
        );
        assert_eq!(e.verdict, Verdict::Unreachable);
        assert!(e.cause.contains("reject rule"));
        let e = rejected("x", ip("10.0.2.2"), 2, false, (false, 3, 1), None, "y");
        assert_eq!(e.code, "host-unreachable");
        assert!(e.cause.contains("ARP"));
    }

    #[test]
    fn every_unreachable_code_has_a_distinct_name() {
        let v4: std::collections::HashSet<&str> =
            (0..=15).map(|c| icmp_code(false, 3, c).name).collect();
        // 0-15 with admin-prohibited and friends distinct; all kebab-case.
        assert_eq!(v4.len(), 16);
        for c in 0..=15 {
            let n = icmp_code(false, 3, c);
            assert!(
                n.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{}",
                n.name
            );
            assert!(n.short.starts_with('!'));
        }
        assert_eq!(icmp_code(false, 3, 13).short, "!X");
        assert_eq!(icmp_code(true, 2, 0).name, "packet-too-big");
        assert_eq!(icmp_code(false, 11, 0).name, "ttl-exceeded");
        assert_eq!(icmp_code(true, 1, 4).name, "port-unreachable");
    }
}
