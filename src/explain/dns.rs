//! DNS verdicts, causes and fixes: rcodes, negative answers, extended DNS errors, a nameserver that does not
//! answer or cannot be reached, resolver configuration and /etc/hosts. Part of the one explanation table.

use std::net::SocketAddr;
use std::time::Duration;

use super::verdict::{Explanation, Verdict};
use crate::duration::fmt_ms;

fn x(verdict: Verdict, code: &str, cause: String, fix: &str) -> Explanation {
    Explanation::new(verdict, code, cause, fix)
}

/// The registered name of an extended DNS error code (RFC 8914 and the IANA registry).
pub fn ede_name(code: u16) -> &'static str {
    match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDOMAIN Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        25 => "Signature Expired before Valid",
        26 => "Too Early",
        27 => "Unsupported NSEC3 Iterations Value",
        28 => "Unable to conform to policy",
        29 => "Synthesized",
        30 => "Invalid Query Type",
        _ => "Unassigned",
    }
}

/// What an extended error suggests doing, for the codes where it is specific.
fn ede_fix(code: u16) -> Option<&'static str> {
    Some(match code {
        1..=2 | 5..=12 | 25 | 27 => {
            "the zone's DNSSEC is broken (or this resolver's trust anchor is wrong): check the signatures and DS records (e.g. with dig +dnssec +cd), or ask the zone's operator"
        }
        13 => "the resolver cached an earlier failure; wait for it to expire or flush the resolver's cache",
        14 => "the resolver is still starting; try again shortly",
        15..=18 => "this resolver's policy blocks the name; use another resolver or ask its operator",
        20 => "ask a server that is authoritative for the zone, or a recursive resolver",
        21 | 30 => "the server does not support this query type; ask another server",
        22 | 23 => "the resolver cannot reach the zone's nameservers: check its upstream/forwarders and its network",
        _ => return None,
    })
}

/// `nameserver 192.0.2.53 (UDP)`-style naming used in every cause.
fn ns(server: &str) -> String {
    format!("nameserver {server}")
}

/// NXDOMAIN: the name does not exist, and which zone said so (from the SOA in the authority section).
pub fn nxdomain(name: &str, zone: Option<(&str, &str, u32)>, server: &str) -> Explanation {
    let said = match zone {
        Some((zone, primary, serial)) => format!(
            ", says the zone {zone} (primary {primary}, serial {serial}), via {}",
            ns(server)
        ),
        None => format!(", says {}", ns(server)),
    };
    let fix = match zone {
        Some(_) => "check the spelling; if the name should exist, add it to that zone (or wait for the negative-cache TTL after adding it)",
        None => "check the spelling, and that this nameserver is the one that should know the name",
    };
    x(
        Verdict::NotFound,
        "NXDOMAIN",
        format!("the name {name} does not exist{said}"),
        fix,
    )
}

/// NODATA: the name exists, with no record of the type asked for.
pub fn nodata(name: &str, rtype: &str, zone: Option<&str>, server: &str) -> Explanation {
    let said = zone.map_or_else(String::new, |z| format!(" in the zone {z}"));
    x(
        Verdict::NotFound,
        "NODATA",
        format!(
            "the name {name} exists{said} but has no {rtype} record, says {}",
            ns(server)
        ),
        "ask for another type (AAAA instead of A, ANY), or add the record to the zone",
    )
}

/// SERVFAIL, sharpened by the extended DNS errors when the server sent any.
pub fn servfail(name: &str, ede: &[(u16, String, Option<String>)], server: &str) -> Explanation {
    let mut cause = format!(
        "{} failed to answer for {name} (server failure)",
        ns(server)
    );
    for (code, n, text) in ede {
        cause.push_str(&format!("; extended error {code} ({n})"));
        if let Some(t) = text {
            cause.push_str(&format!(": {t}"));
        }
    }
    let fix = ede
        .iter()
        .find_map(|(c, _, _)| ede_fix(*c))
        .unwrap_or("the resolver could not get an answer from the zone's nameservers, or DNSSEC validation failed: check the resolver's upstreams and logs, or ask another resolver");
    x(Verdict::Temporary, "SERVFAIL", cause, fix)
}

/// REFUSED: the server will not answer this client or this name.
pub fn refused(name: &str, ede: &[(u16, String, Option<String>)], server: &str) -> Explanation {
    let mut cause = format!(
        "{} refused to answer for {name}: it does not serve that zone, or does not recurse for this client",
        ns(server)
    );
    for (code, n, _) in ede {
        cause.push_str(&format!("; extended error {code} ({n})"));
    }
    x(
        Verdict::Denied,
        "REFUSED",
        cause,
        "ask a recursive resolver that allows this client (check its access-control/allow-query), or a server authoritative for the zone",
    )
}

/// Any other error rcode.
pub fn rcode(rcode: &str, name: &str, server: &str) -> Explanation {
    let (why, fix) = match rcode {
        "FORMERR" => (
            "says the query is malformed (FORMERR)",
            "the server may not understand EDNS: try --no-edns",
        ),
        "NOTIMP" => (
            "does not implement this kind of query (NOTIMP)",
            "ask another server",
        ),
        "BADVERS" => (
            "does not support this EDNS version (BADVERS)",
            "try --no-edns",
        ),
        "BADCOOKIE" => ("rejected the DNS cookie (BADCOOKIE)", "try again"),
        _ => ("answered with an error code", "check the server's logs"),
    };
    x(
        Verdict::Protocol,
        rcode,
        format!("{} {why} for {name}", ns(server)),
        fix,
    )
}

/// A referral from a server asked to recurse: it is authoritative-only (or recursion is off for this client).
pub fn no_recursion(name: &str, zone: &str, server: &str) -> Explanation {
    x(
        Verdict::Denied,
        "no-recursion",
        format!(
            "{} does not recurse: instead of an answer for {name} it referred to the nameservers of {zone}",
            ns(server)
        ),
        "ask a recursive resolver, or use --trace to follow the referrals",
    )
}

/// No answer before the deadline.
pub fn timeout(server: &str, after: Duration) -> Explanation {
    x(
        Verdict::Filtered,
        "timeout",
        format!(
            "no answer from {} within {}: the server is down, overloaded, or a firewall drops DNS to or from it",
            ns(server),
            fmt_ms(after)
        ),
        "check that the nameserver runs and that port 53 is open on the way; remove dead nameservers from /etc/resolv.conf",
    )
}

/// How an ICMP error about a DNS query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    Port,
    Host,
    Net,
    Prohibited,
    Other,
}

/// An ICMP error came back: naming the server, what it said and who sent it.
pub fn icmp(server: &str, kind: Unreachable, from: Option<std::net::IpAddr>) -> Explanation {
    let by = from.map_or_else(String::new, |f| format!(" (ICMP from {f})"));
    let (v, code, cause, fix) = match kind {
        Unreachable::Port => (
            Verdict::Closed,
            "port-unreachable",
            format!(
                "{} is up but nothing listens for DNS there: port unreachable{by}",
                ns(server)
            ),
            "start the DNS server there, or remove that nameserver from /etc/resolv.conf",
        ),
        Unreachable::Host => (
            Verdict::Unreachable,
            "EHOSTUNREACH",
            format!("{} cannot be reached: host unreachable{by}", ns(server)),
            "check that the nameserver's host is up and the address in /etc/resolv.conf is right",
        ),
        Unreachable::Net => (
            Verdict::Unreachable,
            "ENETUNREACH",
            format!("no route to {}: network unreachable{by}", ns(server)),
            "check the routing table (ip route) and the nameserver's address in /etc/resolv.conf",
        ),
        Unreachable::Prohibited => (
            Verdict::Denied,
            "admin-prohibited",
            format!(
                "a firewall rejects DNS to {}: administratively prohibited{by}",
                ns(server)
            ),
            "allow DNS (port 53) to the nameserver in the firewall that sent the rejection",
        ),
        Unreachable::Other => (
            Verdict::Unreachable,
            "unreachable",
            format!(
                "{} cannot be reached: destination unreachable{by}",
                ns(server)
            ),
            "check the route to the nameserver",
        ),
    };
    x(v, code, cause, fix)
}

/// A socket error on the way to a nameserver (no route, connection refused over TCP, ...), naming the server.
pub fn socket(server: &str, e: &std::io::Error) -> Explanation {
    let mut base = super::io_error(e);
    match e.raw_os_error() {
        Some(libc::ENETUNREACH) => return icmp(server, Unreachable::Net, None),
        Some(libc::EHOSTUNREACH) => return icmp(server, Unreachable::Host, None),
        Some(libc::ECONNREFUSED) => return icmp(server, Unreachable::Port, None),
        _ => {}
    }
    base.cause = format!("{}: {}", ns(server), base.cause);
    base
}

/// No nameserver gave an answer: the first one's failure, naming how the others failed.
pub fn none_answered(first: Explanation, others: &[String]) -> Explanation {
    if others.is_empty() {
        return first;
    }
    Explanation {
        cause: format!(
            "{}; the other nameservers: {}",
            first.cause,
            others.join(", ")
        ),
        ..first
    }
}

/// Any other failure on the way to a nameserver (connect refused over HTTPS, a TLS problem, ...): the same
/// explanation, naming the server.
pub fn at_server(server: &str, e: Explanation) -> Explanation {
    if e.cause.contains(server) {
        return e;
    }
    Explanation {
        cause: format!("{}: {}", ns(server), e.cause),
        ..e
    }
}

/// The answer is not a valid response to the query.
pub fn bad_response(server: &str, detail: &str) -> Explanation {
    x(
        Verdict::Protocol,
        "bad-response",
        format!(
            "{} sent something that is not a valid answer: {detail}",
            ns(server)
        ),
        "the port may not speak DNS, or something on the way rewrites DNS; compare with dig",
    )
}

/// The answer stayed truncated over TCP, or TCP failed after a truncated UDP answer.
pub fn truncated(server: &str, tcp: &Explanation) -> Explanation {
    x(
        tcp.verdict,
        "truncated",
        format!(
            "{} sent a truncated answer over UDP (TC) and the retry over TCP failed: {}",
            ns(server),
            tcp.cause
        ),
        "allow DNS over TCP (port 53) to the nameserver; large answers need it",
    )
}

/// DNS over HTTPS: the HTTP exchange worked but is not a DNS answer.
pub fn doh_not_dns(server: &str, detail: &str) -> Explanation {
    x(
        Verdict::Protocol,
        "doh-not-dns",
        format!(
            "{} (DNS over HTTPS) did not answer with a DNS message: {detail}",
            ns(server)
        ),
        "check the URL path (usually /dns-query) and that the server speaks RFC 8484",
    )
}

/// resolv.conf lists no nameserver (or none netdiag can use).
pub fn no_nameserver(path: &str) -> Explanation {
    x(
        Verdict::Error,
        "no-nameserver",
        format!("{path} lists no nameserver: the system resolver falls back to 127.0.0.1, where nothing may listen"),
        "add a 'nameserver ADDRESS' line to /etc/resolv.conf (or start the local resolver), or give a server with @SERVER",
    )
}

/// /etc/hosts answers for the name, so programs never ask DNS.
pub fn hosts_override(name: &str, hosts: &[String], dns: Option<&[String]>) -> Explanation {
    let dns_part = match dns {
        Some([]) => "; DNS has no address for it".to_string(),
        Some(d) if d.iter().all(|a| hosts.contains(a)) => "; DNS agrees".to_string(),
        Some(d) => format!("; DNS says {}", d.join(", ")),
        None => String::new(),
    };
    x(
        Verdict::Error,
        "hosts-override",
        format!(
            "/etc/hosts maps {name} to {}: programs get that, not DNS{dns_part}",
            hosts.join(", ")
        ),
        "remove or fix the line in /etc/hosts if DNS should decide",
    )
}

/// The system resolver took long although it worked: a dead nameserver first in resolv.conf, typically.
pub fn slow(elapsed: Duration, dead: &[String]) -> Explanation {
    let why = if dead.is_empty() {
        "the nameservers are slow to answer".to_string()
    } else {
        format!(
            "{} did not answer, so the resolver waited for its timeout before asking the next",
            dead.join(", ")
        )
    };
    x(
        Verdict::Filtered,
        "slow-dns",
        format!("name resolution took {}: {why}", fmt_ms(elapsed)),
        "remove or fix the dead nameservers in /etc/resolv.conf, or put a working one first",
    )
}

/// Nameservers that answered disagree.
pub fn disagree(name: &str, groups: &[(String, String)]) -> Explanation {
    let parts: Vec<String> = groups
        .iter()
        .map(|(servers, answer)| format!("{servers}: {answer}"))
        .collect();
    x(
        Verdict::Error,
        "servers-disagree",
        format!(
            "the nameservers give different answers for {name}: {}",
            parts.join("; ")
        ),
        "programs get different answers depending on which nameserver the resolver asks: make them serve the same data (or check for a stale cache or split DNS)",
    )
}

/// --trace: a server referred back up, sideways, or to the same zone.
pub fn trace_bad_referral(server: &str, zone: &str, to: &str) -> Explanation {
    x(
        Verdict::Protocol,
        "lame-delegation",
        format!(
            "{} was asked as a server of {zone} but referred to {to}, which is not below {zone} (a lame or looping delegation)",
            ns(server)
        ),
        "fix the delegation: the parent's NS records must name servers that are authoritative for the zone",
    )
}

/// --trace: a referral without addresses for any of the named servers.
pub fn trace_no_address(zone: &str, names: &[String]) -> Explanation {
    x(
        Verdict::NotFound,
        "no-glue",
        format!(
            "the delegation to {zone} names {} but no address for them could be found",
            names.join(", ")
        ),
        "add glue records (A/AAAA) for in-zone nameservers at the parent, or fix the nameserver names",
    )
}

/// --trace: too many steps.
pub fn trace_too_long(steps: usize) -> Explanation {
    x(
        Verdict::Protocol,
        "too-many-referrals",
        format!("still no answer after {steps} referrals: the delegations loop"),
        "check the delegation chain (NS records at each level)",
    )
}

/// Which nameserver address, for the causes above: `10.0.0.53`, or with its port when not 53, plus the
/// transport when not UDP.
pub fn server_label(addr: SocketAddr, protocol: &str) -> String {
    let a = if addr.port() == 53 || (protocol == "tls" && addr.port() == 853) {
        addr.ip().to_string()
    } else {
        addr.to_string()
    };
    if protocol == "udp" {
        a
    } else {
        format!("{a} over {}", protocol.to_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nxdomain_names_the_zone_from_the_soa() {
        let e = nxdomain(
            "nope.zone.test.",
            Some(("zone.test.", "ns1.zone.test.", 7)),
            "10.53.0.2",
        );
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::NotFound, "NXDOMAIN")
        );
        assert!(
            e.cause
                .contains("says the zone zone.test. (primary ns1.zone.test., serial 7)"),
            "{}",
            e.cause
        );
        assert!(e.cause.contains("nameserver 10.53.0.2"));
    }

    #[test]
    fn servfail_carries_the_extended_error_and_its_fix() {
        let e = servfail("x.test.", &[(9, "DNSKEY Missing".into(), None)], "10.0.0.1");
        assert!(
            e.cause.contains("extended error 9 (DNSKEY Missing)"),
            "{}",
            e.cause
        );
        assert!(e.fix.contains("DNSSEC"));
        assert_eq!(e.verdict, Verdict::Temporary);
        assert!(servfail("x.", &[], "s").fix.contains("upstreams"));
    }

    #[test]
    fn unreachable_kinds_name_the_server_and_the_sender() {
        let from = Some("10.0.0.9".parse().unwrap());
        let e = icmp("10.0.0.9", Unreachable::Port, from);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Closed, "port-unreachable")
        );
        assert!(e.cause.contains("nameserver 10.0.0.9") && e.cause.contains("ICMP from 10.0.0.9"));
        let e = socket(
            "10.99.0.1",
            &std::io::Error::from_raw_os_error(libc::ENETUNREACH),
        );
        assert_eq!(e.code, "ENETUNREACH");
        assert!(
            e.cause.starts_with("no route to nameserver 10.99.0.1"),
            "{}",
            e.cause
        );
    }

    #[test]
    fn ede_names_follow_the_registry() {
        assert_eq!(ede_name(22), "No Reachable Authority");
        assert_eq!(ede_name(999), "Unassigned");
    }

    #[test]
    fn server_labels_hide_default_ports() {
        let a: SocketAddr = "10.0.0.1:53".parse().unwrap();
        assert_eq!(server_label(a, "udp"), "10.0.0.1");
        assert_eq!(server_label(a, "tcp"), "10.0.0.1 over TCP");
        let b: SocketAddr = "[::1]:5353".parse().unwrap();
        assert_eq!(server_label(b, "udp"), "[::1]:5353");
    }
}
