//! ICMP and ICMPv6 errors: what a router or the target said about a packet, named after who said it.
//!
//! Ping, trace, capture, UDP probes and SYN scans all receive the same messages (type and code, and the
//! address that sent them); [`Message`] names them and [`error`] explains them. The words say who sent the
//! error, because that is the diagnosis: "rejected by a firewall at 10.0.2.1" points at a machine, "host
//! unreachable, reported by router 10.0.3.1" at the last hop before the target.

use std::net::IpAddr;

use super::verdict::{Explanation, Verdict};

/// One ICMP (`v6 == false`) or ICMPv6 message: its type and code, as they arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
}

/// What an error message means, the same for ICMP and ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// No route to the target's network (v4 3/0, 3/6, 3/11; v6 1/0).
    NetUnreachable,
    /// The last router could not reach the host (v4 3/1, 3/7, 3/8, 3/12; v6 1/3).
    HostUnreachable,
    /// The host does not speak the protocol (v4 3/2; v6 4/1).
    ProtocolUnreachable,
    /// Nothing listens on the port (v4 3/3; v6 1/4).
    PortUnreachable,
    /// Too big for a link on the path, and not to be fragmented (v4 3/4; v6 2).
    TooBig,
    /// A source route could not be followed (v4 3/5; v6 1/7).
    SourceRouteFailed,
    /// A firewall or a policy rejected it (v4 3/9, 3/10, 3/13, 3/14, 3/15; v6 1/1, 1/5, 1/6).
    AdminProhibited,
    /// The destination is beyond the scope of the source address (v6 1/2).
    BeyondScope,
    /// The TTL (hop limit) ran out on the way (v4 11/0; v6 3/0).
    TtlExceeded,
    /// Fragments did not all arrive in time (v4 11/1; v6 3/1).
    ReassemblyTimeout,
    /// A header was malformed (v4 12; v6 4/0, 4/2).
    ParameterProblem,
    /// Any other type or code.
    Other,
}

impl Message {
    pub fn v4(icmp_type: u8, code: u8) -> Message {
        Message {
            v6: false,
            icmp_type,
            code,
        }
    }

    pub fn v6(icmp_type: u8, code: u8) -> Message {
        Message {
            v6: true,
            icmp_type,
            code,
        }
    }

    pub fn kind(self) -> Kind {
        use Kind::*;
        match (self.v6, self.icmp_type, self.code) {
            (false, 3, 0 | 6 | 11) | (true, 1, 0) => NetUnreachable,
            (false, 3, 1 | 7 | 8 | 12) | (true, 1, 3) => HostUnreachable,
            (false, 3, 2) | (true, 4, 1) => ProtocolUnreachable,
            (false, 3, 3) | (true, 1, 4) => PortUnreachable,
            (false, 3, 4) | (true, 2, _) => TooBig,
            (false, 3, 5) | (true, 1, 7) => SourceRouteFailed,
            (false, 3, 9 | 10 | 13 | 14 | 15) | (true, 1, 1 | 5 | 6) => AdminProhibited,
            (true, 1, 2) => BeyondScope,
            (false, 11, 0) | (true, 3, 0) => TtlExceeded,
            (false, 11, 1) | (true, 3, 1) => ReassemblyTimeout,
            (false, 12, _) | (true, 4, 0 | 2) => ParameterProblem,
            _ => Other,
        }
    }

    /// The error's name, kebab-case, as the explanation code says it after `icmp-`: `host-unreachable`,
    /// `admin-prohibited`, `ttl-exceeded`, ...
    pub fn name(self) -> &'static str {
        match self.kind() {
            Kind::NetUnreachable => "net-unreachable",
            Kind::HostUnreachable => "host-unreachable",
            Kind::ProtocolUnreachable => "protocol-unreachable",
            Kind::PortUnreachable => "port-unreachable",
            Kind::TooBig if self.v6 => "packet-too-big",
            Kind::TooBig => "frag-needed",
            Kind::SourceRouteFailed => "source-route-failed",
            Kind::AdminProhibited => "admin-prohibited",
            Kind::BeyondScope => "beyond-scope",
            Kind::TtlExceeded => "ttl-exceeded",
            Kind::ReassemblyTimeout => "reassembly-timeout",
            Kind::ParameterProblem => "parameter-problem",
            Kind::Other => "other",
        }
    }

    /// The message type's name: `destination-unreachable`, `time-exceeded`, `packet-too-big`,
    /// `parameter-problem`, or `type-N`.
    pub fn type_name(self) -> &'static str {
        match (self.v6, self.icmp_type) {
            (false, 3) | (true, 1) => "destination-unreachable",
            (false, 11) | (true, 3) => "time-exceeded",
            (true, 2) => "packet-too-big",
            (false, 12) | (true, 4) => "parameter-problem",
            (false, 0) | (true, 129) => "echo-reply",
            _ => "other",
        }
    }

    /// traceroute's mark for an error that ends a probe's way: `!N`, `!H`, `!X`, `!F`, ...; empty for time
    /// exceeded (the normal answer of a hop).
    pub fn mark(self) -> &'static str {
        match self.kind() {
            Kind::NetUnreachable => "!N",
            Kind::HostUnreachable => "!H",
            Kind::ProtocolUnreachable => "!P",
            Kind::PortUnreachable => "!U",
            Kind::TooBig => "!F",
            Kind::SourceRouteFailed | Kind::BeyondScope => "!S",
            Kind::AdminProhibited => "!X",
            Kind::TtlExceeded => "",
            Kind::ReassemblyTimeout | Kind::ParameterProblem | Kind::Other => "!?",
        }
    }

    /// How `ping` words it: `Destination Host Unreachable`, `Time to live exceeded`, ...
    pub fn ping_words(self) -> &'static str {
        match (self.v6, self.icmp_type, self.code) {
            (false, 3, 0) => "Destination Net Unreachable",
            (false, 3, 1) => "Destination Host Unreachable",
            (false, 3, 2) => "Destination Protocol Unreachable",
            (false, 3, 3) => "Destination Port Unreachable",
            (false, 3, 4) => "Frag needed and DF set",
            (false, 3, 9 | 10 | 13) => "Communication administratively prohibited",
            (false, 3, _) => "Destination Unreachable",
            (true, 1, 0) => "Destination unreachable: No route",
            (true, 1, 1) => "Destination unreachable: Administratively prohibited",
            (true, 1, 3) => "Destination unreachable: Address unreachable",
            (true, 1, 4) => "Destination unreachable: Port unreachable",
            (true, 1, _) => "Destination unreachable",
            (false, 11, 1) | (true, 3, 1) => "Frag reassembly time exceeded",
            (true, 3, _) => "Time exceeded: Hop limit",
            (false, 11, _) => "Time to live exceeded",
            (true, 2, _) => "Packet too big",
            (false, 12, _) | (true, 4, _) => "Parameter problem",
            _ => "ICMP error",
        }
    }
}

/// The words for each kind of error: the verdict, the cause and the fix, where `{reporter}` is who reported it
/// (the host itself, or a router), `{from}` the sender's address and `{name}` the error's name.
fn words(kind: Kind) -> (Verdict, &'static str, &'static str) {
    match kind {
        Kind::NetUnreachable => (
            Verdict::Unreachable,
            "network unreachable, reported by {reporter}: it has no route toward the target's network",
            "check the routes on the way (ip route on each hop; netdiag diagnose)",
        ),
        Kind::HostUnreachable => (
            Verdict::Unreachable,
            "host unreachable, reported by {reporter}: the last router could not reach the host (no ARP or neighbour answer)",
            "check that the host is up and on its network, and the address is right",
        ),
        Kind::ProtocolUnreachable => (
            Verdict::Closed,
            "protocol unreachable, reported by {reporter}: the host does not speak this protocol",
            "use a protocol the host supports (TCP instead of UDP, or ICMP)",
        ),
        Kind::PortUnreachable => (
            Verdict::Closed,
            "port unreachable, reported by {reporter}: nothing listens on that port",
            "is the service running, or bound to another address?",
        ),
        Kind::TooBig => (
            Verdict::Unreachable,
            "packet too big for the path, reported by {reporter} (ICMP {name}): a link on the way has a smaller MTU",
            "send smaller packets (-s), or check that path-MTU discovery works (ICMP must not be dropped on the way)",
        ),
        Kind::SourceRouteFailed => (
            Verdict::Unreachable,
            "source route failed, reported by {reporter}",
            "send without a source route",
        ),
        Kind::AdminProhibited => (
            Verdict::Filtered,
            "rejected by a firewall at {from} (ICMP {name})",
            "a firewall rule on {from} rejects this traffic; check its rules (nft list ruleset) or ask who runs it",
        ),
        Kind::BeyondScope => (
            Verdict::Unreachable,
            "destination beyond the scope of the source address, reported by {reporter}",
            "use a source address of a wider scope (not link-local)",
        ),
        Kind::TtlExceeded => (
            Verdict::Unreachable,
            "time to live exceeded at {reporter}: the packet ran out of hops",
            "a routing loop, or a --ttl too small for the path; trace the route to see where",
        ),
        Kind::ReassemblyTimeout => (
            Verdict::Unreachable,
            "fragment reassembly time exceeded at {reporter}: not every fragment arrived",
            "send smaller packets (-s) so they need no fragments",
        ),
        Kind::ParameterProblem => (
            Verdict::Protocol,
            "parameter problem, reported by {reporter}: it found a malformed header",
            "a device on the way rewrites or rejects these packets; check middleboxes",
        ),
        Kind::Other => (Verdict::Error, "{name} from {from}", ""),
    }
}

/// Explains an ICMP error sent by `from` about a packet to `target` (when known): the verdict, the code
/// `icmp-NAME`, and a cause that names the sender: "rejected by a firewall at 10.0.2.1 (ICMP admin-prohibited)",
/// "host unreachable, reported by router 10.0.3.1".
pub fn error(msg: Message, from: IpAddr, target: Option<IpAddr>) -> Explanation {
    // Who said it: the target itself, or a router on the way.
    let reporter = match target {
        Some(t) if t == from => format!("the host itself ({from})"),
        Some(_) => format!("router {from}"),
        None => from.to_string(),
    };
    let (name, code) = match msg.kind() {
        Kind::Other => (
            format!(
                "ICMP{} type {} code {}",
                if msg.v6 { "v6" } else { "" },
                msg.icmp_type,
                msg.code
            ),
            format!("icmp-type-{}-code-{}", msg.icmp_type, msg.code),
        ),
        _ => (msg.name().to_string(), format!("icmp-{}", msg.name())),
    };
    let fill = |t: &str| {
        t.replace("{reporter}", &reporter)
            .replace("{from}", &from.to_string())
            .replace("{name}", &name)
    };
    let by_target = target == Some(from);
    let (verdict, cause, fix) = match msg.kind() {
        // A host does not report itself unreachable: that is a firewall rule on it rejecting with this type
        // (nftables `reject with icmp type host-unreachable`), as nmap's "filtered host-unreach" says.
        Kind::HostUnreachable | Kind::NetUnreachable if by_target => (
            Verdict::Filtered,
            "rejected by a firewall on the host itself ({from}), which answers ICMP {name}: a host does not report itself unreachable",
            "a firewall rule on {from} rejects this traffic; check its rules (nft list ruleset)",
        ),
        k => words(k),
    };
    Explanation::new(verdict, code, fill(cause), fill(fix))
}

/// [`error`] for a probe's error read from the socket's error queue, where only whether the target itself
/// sent it is kept (`by_target`), not the target's address.
pub fn about_probe(msg: Message, from: IpAddr, by_target: bool) -> Explanation {
    let target = if by_target {
        from
    } else if from.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u8; 16])
    };
    error(msg, from, Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_firewall_reject_names_the_firewall() {
        let e = error(Message::v4(3, 13), ip("10.0.2.1"), Some(ip("10.0.9.9")));
        assert_eq!(e.verdict, Verdict::Filtered);
        assert_eq!(e.code, "icmp-admin-prohibited");
        assert_eq!(
            e.cause,
            "rejected by a firewall at 10.0.2.1 (ICMP admin-prohibited)"
        );
        for m in [Message::v4(3, 9), Message::v4(3, 10), Message::v6(1, 1)] {
            assert_eq!(m.kind(), Kind::AdminProhibited, "{m:?}");
        }
    }

    #[test]
    fn host_unreachable_names_the_router_or_the_host() {
        let e = error(Message::v4(3, 1), ip("10.0.3.1"), Some(ip("10.0.3.7")));
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Unreachable, "icmp-host-unreachable")
        );
        assert!(
            e.cause
                .starts_with("host unreachable, reported by router 10.0.3.1"),
            "{}",
            e.cause
        );
        let e = error(Message::v6(1, 3), ip("fd00::1"), None);
        assert!(
            e.cause.starts_with("host unreachable, reported by fd00::1"),
            "{}",
            e.cause
        );
        let e = error(Message::v4(3, 1), ip("10.0.3.7"), Some(ip("10.0.3.7")));
        assert_eq!(e.verdict, Verdict::Filtered);
        assert!(
            e.cause
                .starts_with("rejected by a firewall on the host itself (10.0.3.7)"),
            "{}",
            e.cause
        );
        let e = error(Message::v4(3, 3), ip("10.0.3.7"), Some(ip("10.0.3.7")));
        assert_eq!(e.verdict, Verdict::Closed);
        assert!(
            e.cause.contains("the host itself (10.0.3.7)"),
            "{}",
            e.cause
        );
    }

    #[test]
    fn v4_and_v6_name_the_same_errors_alike() {
        for (a, b) in [
            (Message::v4(3, 0), Message::v6(1, 0)),
            (Message::v4(3, 1), Message::v6(1, 3)),
            (Message::v4(3, 3), Message::v6(1, 4)),
            (Message::v4(11, 0), Message::v6(3, 0)),
            (Message::v4(11, 1), Message::v6(3, 1)),
            (Message::v4(12, 0), Message::v6(4, 0)),
        ] {
            assert_eq!(a.kind(), b.kind(), "{a:?} {b:?}");
            assert_eq!(a.type_name(), b.type_name(), "{a:?} {b:?}");
        }
        assert_eq!(Message::v4(3, 4).name(), "frag-needed");
        assert_eq!(Message::v4(3, 13).mark(), "!X");
        assert_eq!(Message::v6(1, 1).mark(), "!X");
        assert_eq!(Message::v4(11, 0).mark(), "");
        assert_eq!(Message::v6(2, 0).name(), "packet-too-big");
    }

    #[test]
    fn ttl_exceeded_points_at_loops_and_ttl() {
        let e = error(Message::v4(11, 0), ip("10.0.1.1"), Some(ip("10.0.5.5")));
        assert_eq!(e.code, "icmp-ttl-exceeded");
        assert!(e.cause.contains("router 10.0.1.1"), "{}", e.cause);
        assert!(e.fix.contains("--ttl"));
    }

    #[test]
    fn ping_words_match_iputils() {
        assert_eq!(
            Message::v4(3, 1).ping_words(),
            "Destination Host Unreachable"
        );
        assert_eq!(Message::v4(11, 0).ping_words(), "Time to live exceeded");
        assert_eq!(Message::v6(3, 0).ping_words(), "Time exceeded: Hop limit");
        assert_eq!(
            Message::v6(1, 4).ping_words(),
            "Destination unreachable: Port unreachable"
        );
    }

    #[test]
    fn every_type_and_code_is_explained_without_panicking() {
        for v6 in [false, true] {
            for t in 0..=255u8 {
                for c in 0..=255u8 {
                    let e = error(
                        Message {
                            v6,
                            icmp_type: t,
                            code: c,
                        },
                        ip("10.0.0.1"),
                        None,
                    );
                    assert!(e.code.starts_with("icmp-") && !e.cause.is_empty());
                }
            }
        }
        let e = error(Message::v4(5, 1), ip("10.0.0.1"), None);
        assert_eq!(
            (e.verdict, e.code.as_str()),
            (Verdict::Error, "icmp-type-5-code-1")
        );
    }
}
