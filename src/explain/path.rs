//! Path verdicts for `trace` and `diagnose`: where on the way packets stop, which router rejects them and with
//! what ICMP code, in plain words with the likely fix. Part of the one explanation table ([`crate::explain`]).

use std::net::IpAddr;

use super::icmp::{Kind, Message};
use super::verdict::{Explanation, Verdict};

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
    Explanation::new(
        Verdict::Filtered,
        "silent-after-hop",
        format!(
            "{probe} passes {}; nothing after {last} (hop {last_hop}): a firewall at or after {last} drops it",
            join(passed)
        ),
        fix,
    )
}

/// Routers answered every TTL up to the last one probed: the destination is further away.
pub fn beyond_max_ttl(probe: &str, max_ttl: u8, last: IpAddr) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "max-ttl",
        format!(
            "{probe}: routers answer up to the last TTL probed ({max_ttl}, {last}): the destination is further than {max_ttl} hops (or the path loops)"
        ),
        format!("raise --max-ttl (it is {max_ttl}; the limit is 255)"),
    )
}

/// Nothing answers, not even the first router.
pub fn silent_from_start(probe: &str, what: &str) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "silent-path",
        format!(
            "{probe}: no router on the way and not the destination answered: a firewall on this machine or the first router drops it (or the routers send no ICMP)"
        ),
        format!(
            "check this machine's firewall (nft list ruleset) and the gateway's for {what}; try another protocol (--proto icmp, udp or tcp)"
        ),
    )
}

/// A router (or, with `by_destination`, the target itself) rejected the probe with an ICMP error: the code is
/// the ICMP table's (`icmp-admin-prohibited`), the words name the hop.
pub fn rejected(
    probe: &str,
    by: IpAddr,
    hop: u8,
    by_destination: bool,
    msg: Message,
    mtu: Option<u32>,
    what: &str,
) -> Explanation {
    let who = if by_destination {
        format!("the destination {by} (hop {hop})")
    } else {
        format!("{by} (hop {hop})")
    };
    let icmp = if msg.v6 { "ICMPv6" } else { "ICMP" };
    let head = format!(
        "{who} rejects the {probe} with {icmp} {} (type {} code {})",
        msg.name(),
        msg.icmp_type,
        msg.code
    );
    let (verdict, cause, fix) = rejected_words(msg, &head, by, by_destination, mtu, what);
    Explanation::new(verdict, format!("icmp-{}", msg.name()), cause, fix)
}

/// The verdict, cause and fix of a rejection, by the kind of ICMP error; `head` says who rejected what.
fn rejected_words(
    msg: Message,
    head: &str,
    by: IpAddr,
    by_destination: bool,
    mtu: Option<u32>,
    what: &str,
) -> (Verdict, String, String) {
    match msg.kind() {
        Kind::AdminProhibited => (
            Verdict::Filtered,
            format!("{head}: a firewall rule there refuses it"),
            format!("ask whoever runs {by} to allow {what}"),
        ),
        Kind::PortUnreachable if !by_destination => (
            Verdict::Filtered,
            format!("{head}: a firewall's reject rule answers so for traffic it refuses"),
            format!("ask whoever runs {by} to allow {what}"),
        ),
        Kind::PortUnreachable | Kind::ProtocolUnreachable => (
            Verdict::Closed,
            format!("{head}: nothing there takes {what}"),
            "check that the service runs on that host and port".into(),
        ),
        Kind::NetUnreachable => (
            Verdict::Unreachable,
            format!("{head}: that router has no route to the destination's network"),
            format!("check the routes on {by} (or the network is down beyond it)"),
        ),
        Kind::HostUnreachable => (
            Verdict::Unreachable,
            format!(
                "{head}: that router cannot deliver to the host (no answer to ARP or neighbour discovery on its network, or a route there marks it unreachable)"
            ),
            "check that the host is up and that the address is right".into(),
        ),
        Kind::TooBig => {
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
            super::icmp::error(msg, by, None).verdict,
            head.to_string(),
            format!("check the router at {by}"),
        ),
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
            Message::v4(3, 13),
            None,
            "tcp port 443",
        );
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Filtered, "icmp-admin-prohibited")
        );
        assert_eq!(
            e.cause,
            "10.0.2.2 (hop 3) rejects the SYN to 10.0.4.2:443 with ICMP admin-prohibited (type 3 code 13): a firewall rule there refuses it"
        );
        assert!(e.fix.contains("allow tcp port 443"));
        let e = rejected("x", ip("fd00::1"), 2, false, Message::v6(1, 1), None, "y");
        assert_eq!(e.code, "icmp-admin-prohibited");
        assert!(e.cause.contains("ICMPv6"));
        let e = rejected(
            "x",
            ip("10.0.2.2"),
            3,
            false,
            Message::v4(3, 4),
            Some(1300),
            "y",
        );
        assert_eq!(e.code, "icmp-frag-needed");
        assert!(e.cause.contains("MTU is 1300"), "{}", e.cause);
        assert!(e.fix.contains("--size 1300"));
        let e = rejected(
            "x",
            ip("10.0.4.2"),
            4,
            true,
            Message::v4(3, 3),
            None,
            "tcp port 443",
        );
        assert_eq!(e.verdict, Verdict::Closed);
        let e = rejected(
            "x",
            ip("10.0.2.2"),
            2,
            false,
            Message::v4(3, 3),
            None,
            "tcp port 443",
        );
        assert_eq!(e.verdict, Verdict::Filtered);
        assert!(e.cause.contains("reject rule"));
        let e = rejected("x", ip("10.0.2.2"), 2, false, Message::v4(3, 1), None, "y");
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "icmp-host-unreachable")
        );
        assert!(e.cause.contains("ARP"));
    }
}
