//! Port probes: outcomes that are not an errno (a self-connect, a silent UDP port, a reply without the text
//! asked for).

use std::time::Duration;

use super::verdict::{Explanation, Verdict};
use crate::duration::fmt_ms;

/// A loopback connect that reached its own socket (the kernel picked the target port as the source port).
pub fn self_connect() -> Explanation {
    Explanation::new(
        Verdict::Closed,
        "self-connect",
        "nothing listens on that port: the connection looped back to its own socket (the kernel picked the \
         target port as the source port), which is not a server",
        "this is not an open port; start the service if one should listen there",
    )
}

/// A loopback connect that reached another of netdiag's own probe sockets (TCP simultaneous open).
pub fn cross_connect() -> Explanation {
    Explanation::new(
        Verdict::Closed,
        "self-connect",
        "nothing listens on that port: the connection reached another of netdiag's own probe sockets (TCP \
         simultaneous open), which is not a server",
        "this is not an open port; start the service if one should listen there",
    )
}

/// UDP: no reply and no refusal within `after`.
pub fn no_reply(after: Duration) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "no-reply",
        format!(
            "no reply and no refusal within {}: a UDP service may be listening and ignoring this payload, or a \
             firewall drops the packets",
            fmt_ms(after)
        ),
        "send a payload the service answers (--send), or check firewalls on the way",
    )
}

/// An IPv6 connect or datagram refused with EACCES and no ICMPv6 error queued to say more: on IPv6 that is how
/// an ICMPv6 administratively-prohibited arrives, so it is a firewall's reject, not a local permission problem.
pub fn denied_v6() -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "EACCES",
        "rejected by a firewall (ICMPv6 administratively prohibited, which the kernel reports as EACCES): this \
         is not a local permission problem",
        "a firewall rule on the host or on the way rejects this traffic; check its rules (nft list ruleset)",
    )
}

/// `--expect` was given and the reply did not contain the text.
pub fn unexpected_reply() -> Explanation {
    Explanation::new(
        Verdict::Protocol,
        "unexpected-reply",
        "unexpected reply: the reply did not contain the expected text (or nothing came back in time)",
        "check what is listening on that port and what it answers (see the reply)",
    )
}

/// SYN scan: the target answered the SYN with a RST (nmap -sS: closed).
pub fn syn_reset() -> Explanation {
    Explanation::new(
        Verdict::Closed,
        "tcp-reset",
        "the host answered the SYN with a reset: nothing listens on that port",
        "is the service running, or bound to another address?",
    )
}

/// SYN scan: an ICMP destination-unreachable about our SYN. nmap -sS calls every such port filtered; the code
/// and the sender say who stopped it.
pub fn syn_icmp(msg: super::icmp::Message, from: std::net::IpAddr, by_target: bool) -> Explanation {
    let e = super::icmp::about_probe(msg, from, by_target);
    Explanation::new(
        Verdict::Filtered,
        e.code,
        format!("the SYN was answered with ICMP, not TCP: {}", e.cause),
        e.fix,
    )
}

/// SYN scan: silence after every SYN (nmap -sS: filtered).
pub fn syn_no_answer(timeout: Duration, tries: u32) -> Explanation {
    Explanation::new(
        Verdict::Filtered,
        "timeout",
        format!(
            "no answer to {tries} SYN{} within {} each: a firewall drops them, or the host is down",
            if tries == 1 { "" } else { "s" },
            fmt_ms(timeout)
        ),
        "check firewalls on the way and on the host (nft list ruleset), and that the host is up",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_outcomes() {
        assert_eq!(self_connect().verdict, Verdict::Closed);
        assert_eq!(cross_connect().code, "self-connect");
        assert!(no_reply(Duration::from_secs(1))
            .cause
            .contains("within 1.000 s"));
        assert!(unexpected_reply().cause.contains("unexpected reply"));
    }
}
