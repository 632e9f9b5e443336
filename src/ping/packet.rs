//! ICMP and ICMPv6 echo packets: building requests (pnet_packet) and parsing what a raw or datagram ICMP socket
//! delivers. [`parse_reply`] is a pure function over untrusted bytes: it never panics, whatever the input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::{self, IcmpCode, IcmpPacket, IcmpTypes};
use pnet_packet::icmpv6::{Icmpv6Code, Icmpv6Types};

/// Bytes of our own data at the start of every echo payload (when the payload is long enough): an 8-byte run
/// token, so replies to other programs' pings with the same identifier and sequence are not taken for ours.
pub const TOKEN_LEN: usize = 8;

/// What an ICMP error says, in the terms `ping` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpErrorKind {
    /// ICMP type 3 / ICMPv6 type 1, with its code.
    DestinationUnreachable,
    /// ICMP type 11 / ICMPv6 type 3: TTL (hop limit) exceeded in transit or reassembly.
    TimeExceeded,
    /// ICMPv6 type 2.
    PacketTooBig,
    /// ICMP type 12 / ICMPv6 type 4.
    ParameterProblem,
}

/// One ICMP message that concerns an echo request: a reply, or an error quoting the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// An echo reply (type 0 / ICMPv6 129).
    EchoReply {
        id: u16,
        seq: u16,
        /// Length of the ICMP message (header + data), as `ping` prints it ("64 bytes from").
        icmp_len: usize,
        /// The first [`TOKEN_LEN`] bytes of the data, when there are that many.
        token: Option<[u8; TOKEN_LEN]>,
        /// TTL from the IPv4 header, when the packet came with one.
        ttl: Option<u8>,
        /// Source address from the IPv4 header, when the packet came with one.
        source: Option<IpAddr>,
    },
    /// An ICMP error quoting one of our echo requests.
    Error {
        kind: IcmpErrorKind,
        code: u8,
        /// Destination of the quoted (original) echo request: the target.
        original_destination: IpAddr,
        id: u16,
        seq: u16,
        /// Source address from the IPv4 header (the router or host that sent the error), when present.
        source: Option<IpAddr>,
    },
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn v4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(Ipv4Addr::from(s))
}

fn v6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// Splits an IPv4 packet into (header fields, payload): returns (ttl, protocol, source, destination, payload).
fn ipv4_split(b: &[u8]) -> Option<(u8, u8, Ipv4Addr, Ipv4Addr, &[u8])> {
    let first = *b.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    let payload = b.get(ihl..)?;
    Some((
        *b.get(8)?,
        *b.get(9)?,
        v4_at(b, 12)?,
        v4_at(b, 16)?,
        payload,
    ))
}

/// Parses what an ICMP socket delivered.
///
/// - `v6`: the bytes are an ICMPv6 message (raw and datagram ICMPv6 sockets deliver no IPv6 header).
/// - `with_ip_header`: IPv4 only; raw IPv4 ICMP sockets deliver the IPv4 header first, datagram (ping) sockets
///   do not.
///
/// Returns `None` for anything that is not an echo reply or an error quoting an echo request: echo requests
/// (a raw socket on loopback sees its own), neighbour discovery, truncated or malformed packets. Never panics.
pub fn parse_reply(buf: &[u8], v6: bool, with_ip_header: bool) -> Option<Parsed> {
    let (ttl, source, icmp) = if !v6 && with_ip_header {
        let (ttl, proto, src, _dst, payload) = ipv4_split(buf)?;
        if proto != 1 {
            return None;
        }
        (Some(ttl), Some(IpAddr::V4(src)), payload)
    } else {
        (None, None, buf)
    };
    if icmp.len() < 8 {
        return None;
    }
    let (typ, code) = (icmp[0], icmp[1]);
    let echo_reply = if v6 {
        Icmpv6Types::EchoReply.0
    } else {
        IcmpTypes::EchoReply.0
    };
    if typ == echo_reply {
        let data = &icmp[8..];
        return Some(Parsed::EchoReply {
            id: be16(icmp, 4)?,
            seq: be16(icmp, 6)?,
            icmp_len: icmp.len(),
            token: data.get(..TOKEN_LEN).and_then(|t| t.try_into().ok()),
            ttl,
            source,
        });
    }
    let kind = error_kind(typ, v6)?;
    let quoted = &icmp[8..];
    let (original_destination, inner) = if v6 {
        // The quoted IPv6 header (40 bytes), then the ICMPv6 echo request (no extension headers on ours).
        if *quoted.get(6)? != 58 {
            return None;
        }
        (IpAddr::V6(v6_at(quoted, 24)?), quoted.get(40..)?)
    } else {
        let (_, proto, _, dst, payload) = ipv4_split(quoted)?;
        if proto != 1 {
            return None;
        }
        (IpAddr::V4(dst), payload)
    };
    let echo_request = if v6 {
        Icmpv6Types::EchoRequest.0
    } else {
        IcmpTypes::EchoRequest.0
    };
    if *inner.first()? != echo_request {
        return None;
    }
    Some(Parsed::Error {
        kind,
        code,
        original_destination,
        id: be16(inner, 4)?,
        seq: be16(inner, 6)?,
        source,
    })
}

/// Parses an ICMP error that a datagram (ping) socket queued with IP_RECVERR / IPV6_RECVERR: `original` is our
/// echo request as the kernel returns it (ICMP header first), `icmp_type`/`code` come from the extended error,
/// `original_destination` from the message's address and `offender` is who sent the error. Never panics.
pub fn parse_queued_error(
    original: &[u8],
    v6: bool,
    icmp_type: u8,
    code: u8,
    original_destination: IpAddr,
    offender: Option<IpAddr>,
) -> Option<Parsed> {
    let kind = error_kind(icmp_type, v6)?;
    let echo_request = if v6 {
        Icmpv6Types::EchoRequest.0
    } else {
        IcmpTypes::EchoRequest.0
    };
    if *original.first()? != echo_request {
        return None;
    }
    Some(Parsed::Error {
        kind,
        code,
        original_destination,
        id: be16(original, 4)?,
        seq: be16(original, 6)?,
        source: offender,
    })
}

impl IcmpErrorKind {
    /// The message type number on the wire, for ICMP (`v6` false) or ICMPv6.
    pub fn icmp_type(self, v6: bool) -> u8 {
        match (self, v6) {
            (IcmpErrorKind::DestinationUnreachable, false) => 3,
            (IcmpErrorKind::DestinationUnreachable, true) => 1,
            (IcmpErrorKind::TimeExceeded, false) => 11,
            (IcmpErrorKind::TimeExceeded, true) => 3,
            (IcmpErrorKind::PacketTooBig, _) => 2,
            (IcmpErrorKind::ParameterProblem, false) => 12,
            (IcmpErrorKind::ParameterProblem, true) => 4,
        }
    }
}

fn error_kind(typ: u8, v6: bool) -> Option<IcmpErrorKind> {
    use IcmpErrorKind::*;
    Some(match (v6, typ) {
        (false, 3) | (true, 1) => DestinationUnreachable,
        (false, 11) | (true, 3) => TimeExceeded,
        (true, 2) => PacketTooBig,
        (false, 12) | (true, 4) => ParameterProblem,
        _ => return None,
    })
}

/// The data of an echo request: the run token, then a fixed pattern, `size` bytes in all.
pub fn payload(token: [u8; TOKEN_LEN], size: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..size).map(|i| (i % 256) as u8).collect();
    let n = size.min(TOKEN_LEN);
    data[..n].copy_from_slice(&token[..n]);
    data
}

/// An ICMP (v4) echo request with its checksum, or an ICMPv6 one whose checksum the kernel fills in (it always
/// does for ICMPv6 sockets, since it covers the pseudo-header).
pub fn echo_request(v6: bool, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + data.len()];
    if let Some(mut p) = MutableEchoRequestPacket::new(&mut buf) {
        if v6 {
            p.set_icmp_type(icmp::IcmpType(Icmpv6Types::EchoRequest.0));
            p.set_icmp_code(IcmpCode(Icmpv6Code(0).0));
        } else {
            p.set_icmp_type(IcmpTypes::EchoRequest);
            p.set_icmp_code(IcmpCode(0));
        }
        p.set_identifier(id);
        p.set_sequence_number(seq);
        p.set_payload(data);
    }
    if !v6 {
        if let Some(view) = IcmpPacket::new(&buf) {
            let sum = icmp::checksum(&view);
            buf[2..4].copy_from_slice(&sum.to_be_bytes());
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: [u8; 8] = *b"netdiag!";

    fn ipv4_header(proto: u8, ttl: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
        let total = (20 + payload_len) as u16;
        let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, ttl, proto, 0, 0];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h
    }

    fn with_ip(src: [u8; 4], dst: [u8; 4], ttl: u8, icmp: &[u8]) -> Vec<u8> {
        let mut p = ipv4_header(1, ttl, src, dst, icmp.len());
        p.extend_from_slice(icmp);
        p
    }

    /// An echo reply as the kernel answers ours: same data, type 0, checksum recomputed.
    fn v4_reply(id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let mut m = echo_request(false, id, seq, data);
        m[0] = 0;
        m[2] = 0;
        m[3] = 0;
        let sum = icmp::checksum(&IcmpPacket::new(&m).unwrap());
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    #[test]
    fn echo_request_v4_has_a_valid_checksum() {
        let m = echo_request(false, 0x1234, 7, &payload(TOKEN, 56));
        assert_eq!(m.len(), 64);
        assert_eq!((m[0], m[1]), (8, 0));
        assert_eq!(be16(&m, 4), Some(0x1234));
        assert_eq!(be16(&m, 6), Some(7));
        // The ones' complement sum over a message with a correct checksum is 0xffff.
        let mut sum: u32 = m
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert_eq!(&m[8..16], &TOKEN);
    }

    #[test]
    fn v4_echo_reply_with_ip_header() {
        let pkt = with_ip(
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            64,
            &v4_reply(0xbeef, 3, &payload(TOKEN, 56)),
        );
        assert_eq!(
            parse_reply(&pkt, false, true),
            Some(Parsed::EchoReply {
                id: 0xbeef,
                seq: 3,
                icmp_len: 64,
                token: Some(TOKEN),
                ttl: Some(64),
                source: Some("127.0.0.1".parse().unwrap()),
            })
        );
    }

    #[test]
    fn v4_echo_reply_without_ip_header_from_a_ping_socket() {
        let m = v4_reply(9, 1, &payload(TOKEN, 4));
        match parse_reply(&m, false, false) {
            Some(Parsed::EchoReply {
                id: 9,
                seq: 1,
                icmp_len: 12,
                token: None,
                ttl: None,
                source: None,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v6_echo_reply_without_ip_header() {
        // As a raw ICMPv6 socket delivers it: type 129, code 0, checksum, id, seq, data.
        let mut m = vec![129, 0, 0xab, 0xcd, 0x43, 0x21, 0x00, 0x05];
        m.extend_from_slice(&payload(TOKEN, 56));
        assert_eq!(
            parse_reply(&m, true, false),
            Some(Parsed::EchoReply {
                id: 0x4321,
                seq: 5,
                icmp_len: 64,
                token: Some(TOKEN),
                ttl: None,
                source: None,
            })
        );
        // The same bytes read as ICMPv4 are type 129: not ours.
        assert_eq!(parse_reply(&m, false, false), None);
    }

    #[test]
    fn v4_destination_unreachable_quoting_our_request() {
        let req = echo_request(false, 0x0101, 2, &payload(TOKEN, 56));
        let original = with_ip([10, 1, 0, 1], [10, 9, 9, 9], 63, &req);
        // Routers quote the IP header and the first 8 bytes of the ICMP message.
        let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&original[..28]);
        let pkt = with_ip([10, 1, 0, 254], [10, 1, 0, 1], 64, &err);
        assert_eq!(
            parse_reply(&pkt, false, true),
            Some(Parsed::Error {
                kind: IcmpErrorKind::DestinationUnreachable,
                code: 1,
                original_destination: "10.9.9.9".parse().unwrap(),
                id: 0x0101,
                seq: 2,
                source: Some("10.1.0.254".parse().unwrap()),
            })
        );
        assert_eq!(
            crate::explain::icmp::Message::v4(
                IcmpErrorKind::DestinationUnreachable.icmp_type(false),
                1
            )
            .ping_words(),
            "Destination Host Unreachable"
        );
    }

    #[test]
    fn v4_time_exceeded() {
        let req = echo_request(false, 77, 9, &payload(TOKEN, 56));
        let original = with_ip([10, 1, 0, 1], [10, 2, 0, 5], 1, &req);
        let mut err = vec![11, 0, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&original);
        let pkt = with_ip([10, 1, 0, 254], [10, 1, 0, 1], 64, &err);
        match parse_reply(&pkt, false, true) {
            Some(Parsed::Error {
                kind: IcmpErrorKind::TimeExceeded,
                code: 0,
                id: 77,
                seq: 9,
                original_destination,
                ..
            }) => assert_eq!(original_destination, "10.2.0.5".parse::<IpAddr>().unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v6_destination_unreachable_quoting_our_request() {
        let mut inner_ip = vec![0x60, 0, 0, 0, 0, 64, 58, 64];
        inner_ip.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        inner_ip.extend_from_slice(&"fd00::99".parse::<Ipv6Addr>().unwrap().octets());
        let mut err = vec![1, 3, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&inner_ip);
        err.extend_from_slice(&echo_request(true, 0x0a0b, 4, &payload(TOKEN, 56)));
        match parse_reply(&err, true, false) {
            Some(Parsed::Error {
                kind: IcmpErrorKind::DestinationUnreachable,
                code: 3,
                id: 0x0a0b,
                seq: 4,
                original_destination,
                source: None,
            }) => assert_eq!(original_destination, "fd00::99".parse::<IpAddr>().unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn own_echo_requests_and_unrelated_icmp_are_ignored() {
        let req = with_ip(
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            64,
            &echo_request(false, 1, 1, &[]),
        );
        assert_eq!(parse_reply(&req, false, true), None);
        // ICMPv6 neighbour solicitation (135).
        assert_eq!(
            parse_reply(&[135, 0, 0, 0, 0, 0, 0, 0, 0, 0], true, false),
            None
        );
        // A destination unreachable quoting a UDP datagram, not an echo request.
        let udp = ipv4_header(17, 64, [10, 0, 0, 1], [10, 0, 0, 2], 8);
        let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&udp);
        err.extend_from_slice(&[0; 8]);
        assert_eq!(
            parse_reply(
                &with_ip([10, 0, 0, 2], [10, 0, 0, 1], 64, &err),
                false,
                true
            ),
            None
        );
        // Not ICMP at all (protocol 6) in the outer header.
        let mut tcp = ipv4_header(6, 64, [127, 0, 0, 1], [127, 0, 0, 1], 20);
        tcp.extend_from_slice(&[0; 20]);
        assert_eq!(parse_reply(&tcp, false, true), None);
    }

    #[test]
    fn foreign_reply_parses_but_carries_its_own_id_and_token() {
        // Another program's ping: it parses, and the engine's matching rejects it by id/token.
        let pkt = with_ip(
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            64,
            &v4_reply(0x9999, 1, b"someone else's data"),
        );
        match parse_reply(&pkt, false, true) {
            Some(Parsed::EchoReply { id, token, .. }) => {
                assert_eq!(id, 0x9999);
                assert_eq!(token, Some(*b"someone "));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_and_malformed_packets_give_none() {
        let full = with_ip(
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            64,
            &v4_reply(1, 1, &payload(TOKEN, 56)),
        );
        for n in 0..28 {
            assert_eq!(parse_reply(&full[..n], false, true), None, "length {n}");
        }
        // An IHL that points past the end, an IHL below 5, and a version 6 nibble.
        let mut bad = full.clone();
        bad[0] = 0x4f;
        assert_eq!(parse_reply(&bad[..40], false, true), None);
        bad[0] = 0x44;
        assert_eq!(parse_reply(&bad, false, true), None);
        bad[0] = 0x65;
        assert_eq!(parse_reply(&bad, false, true), None);
        // Errors with a truncated quote.
        let req = echo_request(false, 5, 5, &[]);
        let original = with_ip([10, 1, 0, 1], [10, 9, 9, 9], 63, &req);
        let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&original);
        for n in 8..err.len() - 2 {
            let pkt = with_ip([10, 1, 0, 254], [10, 1, 0, 1], 64, &err[..n]);
            let _ = parse_reply(&pkt, false, true);
        }
        assert_eq!(
            parse_reply(
                &with_ip([1, 1, 1, 1], [1, 1, 1, 1], 1, &err[..8 + 20 + 4]),
                false,
                true
            ),
            None
        );
        for n in 0..48 {
            assert_eq!(parse_reply(&[1u8; 48][..n], true, false), None);
        }
    }

    #[test]
    fn queued_errors_from_a_ping_socket() {
        let req = echo_request(false, 0x55, 3, &payload(TOKEN, 56));
        let dst: IpAddr = "10.77.1.1".parse().unwrap();
        let from: IpAddr = "10.1.0.2".parse().unwrap();
        assert_eq!(
            parse_queued_error(&req, false, 3, 0, dst, Some(from)),
            Some(Parsed::Error {
                kind: IcmpErrorKind::DestinationUnreachable,
                code: 0,
                original_destination: dst,
                id: 0x55,
                seq: 3,
                source: Some(from),
            })
        );
        // Not an echo request, unknown type, truncated: nothing.
        assert_eq!(parse_queued_error(&req, false, 5, 0, dst, None), None);
        assert_eq!(parse_queued_error(&req[..6], false, 3, 0, dst, None), None);
        assert_eq!(parse_queued_error(&[], false, 3, 0, dst, None), None);
        let req6 = echo_request(true, 1, 1, &[]);
        assert!(matches!(
            parse_queued_error(&req6, true, 3, 0, dst, None),
            Some(Parsed::Error {
                kind: IcmpErrorKind::TimeExceeded,
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
                               v6 in proptest::bool::ANY, hdr in proptest::bool::ANY, t in 0u8..=255) {
            let _ = parse_reply(&bytes, v6, hdr);
            let _ = parse_queued_error(&bytes, v6, t, t, IpAddr::V6(Ipv6Addr::LOCALHOST), None);
        }

        #[test]
        fn our_echo_round_trips(id in 0u16.., seq in 0u16.., size in 0usize..300, ttl in 1u8..) {
            let data = payload(TOKEN, size);
            let pkt = with_ip([127, 0, 0, 1], [127, 0, 0, 1], ttl, &v4_reply(id, seq, &data));
            let want_token = (size >= TOKEN_LEN).then_some(TOKEN);
            proptest::prop_assert_eq!(
                parse_reply(&pkt, false, true),
                Some(Parsed::EchoReply {
                    id,
                    seq,
                    icmp_len: 8 + size,
                    token: want_token,
                    ttl: Some(ttl),
                    source: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                })
            );
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic sweep; the fuzzer covers the rest.
        let mut x: u32 = 0x1234_5678;
        for len in 0..200usize {
            for _ in 0..20 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x as u8
                    })
                    .collect();
                for (v6, hdr) in [(false, true), (false, false), (true, false), (true, true)] {
                    let _ = parse_reply(&bytes, v6, hdr);
                    let t = bytes.first().copied().unwrap_or(0);
                    let _ =
                        parse_queued_error(&bytes, v6, t, t, IpAddr::V4(Ipv4Addr::LOCALHOST), None);
                }
            }
        }
    }
}
