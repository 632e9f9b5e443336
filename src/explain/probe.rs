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
