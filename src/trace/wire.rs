//! Trace packets on the wire: ICMP echo, UDP and TCP SYN probes built with chosen flow fields, and what comes
//! back parsed: ICMP errors with the quoted probe (RFC 792, RFC 4443), RFC 4884 extension structures with
//! RFC 4950 MPLS label stacks, echo replies, and TCP SYN-ACK / RST.
//!
//! Every function is pure over bytes and never panics, whatever the input: these bytes come from the network.
//!
//! Flow fields: ECMP routers hash the addresses, the protocol and the first four bytes of the transport header
//! (the ports; for ICMP the type, code and checksum). A Paris-style probe keeps those constant and carries its
//! identity elsewhere: the ICMP sequence number (with a payload word that keeps the checksum constant), the UDP
//! checksum (chosen through a payload word), the TCP sequence number. [`compensate`] is the word.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// ICMP types netdiag's trace reads.
pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMP_PARAM_PROBLEM: u8 = 12;
pub const ICMP6_DEST_UNREACH: u8 = 1;
pub const ICMP6_PACKET_TOO_BIG: u8 = 2;
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
pub const ICMP6_PARAM_PROBLEM: u8 = 4;
pub const ICMP6_ECHO_REQUEST: u8 = 128;
pub const ICMP6_ECHO_REPLY: u8 = 129;

/// TCP flags.
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Bytes at the start of every UDP and ICMP probe payload that say whose probe it is: the probe's sequence
/// number (2 bytes), then a 4-byte run token. Then a 2-byte word that steers the checksum.
pub const MARK_LEN: usize = 6;
/// Smallest probe payload: the mark and the checksum word.
pub const MIN_PAYLOAD: usize = MARK_LEN + 2;

/// IPv4 and IPv6 header sizes of what we send (no options, no extension headers).
pub const IPV4_HEADER: usize = 20;
pub const IPV6_HEADER: usize = 40;
/// A TCP SYN probe: a 20-byte header and one MSS option.
pub const TCP_SYN_LEN: usize = 24;

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn v4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(Ipv4Addr::from(s))
}

fn v6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// The ones' complement sum of `data` as 16-bit big-endian words (an odd last byte padded with zero), unfolded.
fn sum_words(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The sum of the pseudo-header that TCP, UDP and ICMPv6 checksums cover.
fn pseudo_sum(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> u32 {
    let mut sum = 0u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum += sum_words(&s.octets()) + sum_words(&d.octets());
        }
        (s, d) => {
            sum += sum_words(&v6_of(s).octets()) + sum_words(&v6_of(d).octets());
        }
    }
    let len = len as u32;
    sum + (len >> 16) + (len & 0xffff) + u32::from(protocol)
}

fn v6_of(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// The Internet checksum of `data` plus an optional pseudo-header sum.
fn checksum(pseudo: u32, data: &[u8]) -> u16 {
    !fold(pseudo.wrapping_add(sum_words(data)))
}

/// The word that, written (at an even offset, in place of zero) into a message whose checksum is now `now`,
/// makes its checksum `want`. In ones' complement: the sum must grow by `!want - !now`.
pub fn compensate(now: u16, want: u16) -> u16 {
    // sum_now = !now; we need sum_now + w = !want, so w = !want + !sum_now = !want + now.
    fold(u32::from(!want) + u32::from(now))
}

/// The probe's identifying mark: its sequence number, then the run token.
fn mark(seq: u16, token: u32) -> [u8; MARK_LEN] {
    let mut m = [0u8; MARK_LEN];
    m[..2].copy_from_slice(&seq.to_be_bytes());
    m[2..].copy_from_slice(&token.to_be_bytes());
    m
}

/// Reads a probe mark from the start of a quoted payload: (sequence, token).
pub fn read_mark(payload: &[u8]) -> Option<(u16, u32)> {
    Some((be16(payload, 0)?, be32(payload, 2)?))
}

/// A probe payload of `len` bytes (at least [`MIN_PAYLOAD`]): the mark, a zero checksum word, a pattern.
fn payload(seq: u16, token: u32, len: usize) -> Vec<u8> {
    let len = len.max(MIN_PAYLOAD);
    let mut p: Vec<u8> = (0..len).map(|i| 0x40 + (i % 32) as u8).collect();
    p[..MARK_LEN].copy_from_slice(&mark(seq, token));
    p[MARK_LEN..MIN_PAYLOAD].fill(0);
    p
}

/// An ICMP (v4) or ICMPv6 echo request with identifier `id` and sequence `seq`, `data_len` bytes of data
/// starting with the probe's mark. With `want_checksum` the payload word is set so the checksum comes out
/// at that value, whatever the sequence (Paris); otherwise the word stays zero. The checksum field is filled:
/// for IPv6 it covers the pseudo-header of `src` → `dst` (the kernel recomputes it and finds the same value).
pub fn echo_request(
    v6: bool,
    (src, dst): (IpAddr, IpAddr),
    id: u16,
    seq: u16,
    token: u32,
    data_len: usize,
    want_checksum: Option<u16>,
) -> Vec<u8> {
    let data = payload(seq, token, data_len);
    let mut m = Vec::with_capacity(8 + data.len());
    m.push(if v6 {
        ICMP6_ECHO_REQUEST
    } else {
        ICMP_ECHO_REQUEST
    });
    m.extend_from_slice(&[0, 0, 0]);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&data);
    let pseudo = if v6 {
        pseudo_sum(src, dst, PROTO_ICMPV6, m.len())
    } else {
        0
    };
    set_checksum(&mut m, pseudo, 2, 8 + MARK_LEN, want_checksum);
    m
}

/// Writes the checksum at `at`, first steering it to `want` through the zero word at `word` when asked.
fn set_checksum(m: &mut [u8], pseudo: u32, at: usize, word: usize, want: Option<u16>) {
    m[at..at + 2].fill(0);
    if let Some(want) = want {
        m[word..word + 2].fill(0);
        let now = checksum(pseudo, m);
        m[word..word + 2].copy_from_slice(&compensate(now, want).to_be_bytes());
    }
    let c = checksum(pseudo, m);
    m[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// A UDP probe (header and payload) from `src:sport` to `dst:dport` with `payload_len` bytes of payload
/// starting with the mark; the checksum is `want_checksum` (steered through the payload word), or the natural
/// one. `want_checksum` must not be 0 or 0xffff (0 means "no checksum" on the wire).
pub fn udp_probe(
    (src, dst): (IpAddr, IpAddr),
    (sport, dport): (u16, u16),
    seq: u16,
    token: u32,
    payload_len: usize,
    want_checksum: Option<u16>,
) -> Vec<u8> {
    let data = payload(seq, token, payload_len);
    let len = 8 + data.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&sport.to_be_bytes());
    m.extend_from_slice(&dport.to_be_bytes());
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&data);
    let pseudo = pseudo_sum(src, dst, PROTO_UDP, len);
    set_checksum(&mut m, pseudo, 6, 8 + MARK_LEN, want_checksum);
    if m[6..8] == [0, 0] {
        // A computed zero goes on the wire as all ones (zero means "no checksum").
        m[6..8].copy_from_slice(&[0xff, 0xff]);
    }
    m
}

/// The UDP payload an ordinary socket sends (the kernel adds the header and its checksum): the mark and a
/// pattern, `len` bytes.
pub fn udp_payload(seq: u16, token: u32, len: usize) -> Vec<u8> {
    payload(seq, token, len)
}

/// A TCP SYN from `src:sport` to `dst:dport` with sequence number `seq_no`, a 64 KiB window and an MSS option,
/// checksum filled.
pub fn tcp_syn((src, dst): (IpAddr, IpAddr), (sport, dport): (u16, u16), seq_no: u32) -> Vec<u8> {
    let mss: u16 = if dst.is_ipv6() { 1440 } else { 1460 };
    let mut m = Vec::with_capacity(TCP_SYN_LEN);
    m.extend_from_slice(&sport.to_be_bytes());
    m.extend_from_slice(&dport.to_be_bytes());
    m.extend_from_slice(&seq_no.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    m.push(((TCP_SYN_LEN / 4) as u8) << 4);
    m.push(TCP_SYN);
    m.extend_from_slice(&0xffffu16.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    m.extend_from_slice(&[2, 4]);
    m.extend_from_slice(&mss.to_be_bytes());
    let pseudo = pseudo_sum(src, dst, PROTO_TCP, m.len());
    let c = checksum(pseudo, &m);
    m[16..18].copy_from_slice(&c.to_be_bytes());
    m
}

/// The packet an ICMP error quotes: the original IP header's fields and as much of the transport header and
/// data as the router sent (RFC 792 asks for 8 bytes, RFC 1812 and RFC 4443 for as much as fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// The transport header onwards.
    pub transport: &'a [u8],
}

/// An RFC 4950 MPLS label stack entry, as a router in an MPLS network reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MplsLabel {
    pub label: u32,
    /// Traffic class (formerly EXP), 3 bits.
    pub tc: u8,
    /// Bottom of stack.
    pub bottom: bool,
    pub ttl: u8,
}

/// An ICMP or ICMPv6 error about a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpError<'a> {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The sender, from the IPv4 header when the socket delivered one.
    pub from: Option<IpAddr>,
    /// TTL of the error packet, from the IPv4 header when present.
    pub ttl: Option<u8>,
    /// Next-hop MTU of "fragmentation needed" (ICMP 3/4) or "packet too big" (ICMPv6 2).
    pub mtu: Option<u32>,
    pub quoted: Quoted<'a>,
    pub mpls: Vec<MplsLabel>,
}

/// What a trace receives on a raw ICMP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcmpMessage<'a> {
    EchoReply {
        id: u16,
        seq: u16,
        /// From the IPv4 header when present.
        from: Option<IpAddr>,
        ttl: Option<u8>,
    },
    Error(IcmpError<'a>),
}

/// Splits an IPv4 packet: (TTL, protocol, source, destination, payload). The payload ends where the packet says
/// it ends, or where the bytes do.
fn ipv4_split(b: &[u8]) -> Option<(u8, u8, Ipv4Addr, Ipv4Addr, &[u8])> {
    let first = *b.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < IPV4_HEADER || b.len() < ihl {
        return None;
    }
    let total = usize::from(be16(b, 2)?);
    let end = if total >= ihl {
        total.min(b.len())
    } else {
        b.len()
    };
    Some((b[8], b[9], v4_at(b, 12)?, v4_at(b, 16)?, &b[ihl..end]))
}

/// Parses a quoted IPv4 or IPv6 packet (ours carry no options or extension headers; others are not ours).
fn quoted(b: &[u8], v6: bool) -> Option<Quoted<'_>> {
    if v6 {
        if *b.first()? >> 4 != 6 {
            return None;
        }
        Some(Quoted {
            src: IpAddr::V6(v6_at(b, 8)?),
            dst: IpAddr::V6(v6_at(b, 24)?),
            protocol: *b.get(6)?,
            transport: b.get(IPV6_HEADER..)?,
        })
    } else {
        let (_, protocol, src, dst, transport) = ipv4_split(b)?;
        Some(Quoted {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            protocol,
            transport,
        })
    }
}

/// Parses what a raw ICMP socket delivered: an IPv4 packet (`v6` false: raw IPv4 sockets include the header)
/// or an ICMPv6 message alone (`v6` true). Echo replies and errors; `None` for everything else.
pub fn parse_icmp(buf: &[u8], v6: bool) -> Option<IcmpMessage<'_>> {
    parse_icmp_from(buf, v6, !v6)
}

/// Parses an ICMP message, after an IPv4 header when `with_ip_header` (raw IPv4 sockets), alone otherwise
/// (ICMPv6, and datagram "ping" sockets of both families).
pub fn parse_icmp_from(buf: &[u8], v6: bool, with_ip_header: bool) -> Option<IcmpMessage<'_>> {
    let (from, ttl, icmp) = if v6 || !with_ip_header {
        (None, None, buf)
    } else {
        let (ttl, proto, src, _, payload) = ipv4_split(buf)?;
        if proto != PROTO_ICMP {
            return None;
        }
        (Some(IpAddr::V4(src)), Some(ttl), payload)
    };
    let (typ, code) = (*icmp.first()?, *icmp.get(1)?);
    let echo_reply = if v6 {
        ICMP6_ECHO_REPLY
    } else {
        ICMP_ECHO_REPLY
    };
    if typ == echo_reply {
        return Some(IcmpMessage::EchoReply {
            id: be16(icmp, 4)?,
            seq: be16(icmp, 6)?,
            from,
            ttl,
        });
    }
    if !is_error_type(typ, v6) {
        return None;
    }
    let body = icmp.get(8..)?;
    let (original, mpls) = split_extensions(icmp, v6);
    let quoted = quoted(original.unwrap_or(body), v6)?;
    let mtu = match (v6, typ, code) {
        (false, ICMP_DEST_UNREACH, 4) => be16(icmp, 6).map(u32::from).filter(|m| *m > 0),
        (true, ICMP6_PACKET_TOO_BIG, _) => be32(icmp, 4).filter(|m| *m > 0),
        _ => None,
    };
    Some(IcmpMessage::Error(IcmpError {
        v6,
        icmp_type: typ,
        code,
        from,
        ttl,
        mtu,
        quoted,
        mpls,
    }))
}

/// True for the ICMP types that quote the packet they are about.
pub fn is_error_type(typ: u8, v6: bool) -> bool {
    if v6 {
        matches!(
            typ,
            ICMP6_DEST_UNREACH | ICMP6_PACKET_TOO_BIG | ICMP6_TIME_EXCEEDED | ICMP6_PARAM_PROBLEM
        )
    } else {
        matches!(
            typ,
            ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED | ICMP_PARAM_PROBLEM
        )
    }
}

/// Smallest "original datagram" field before an RFC 4884 extension structure.
const EXT_MIN_OFFSET: usize = 128;

/// RFC 4884: the original-datagram field (when the length attribute bounds it) and the MPLS labels of the
/// extension structure after it. Routers that predate RFC 4884 put the structure after a fixed 128 bytes and
/// leave the length at zero (RFC 4884 §5); that form is accepted when its checksum holds.
fn split_extensions(icmp: &[u8], v6: bool) -> (Option<&[u8]>, Vec<MplsLabel>) {
    let body = icmp.get(8..).unwrap_or(&[]);
    // The length attribute: ICMPv4 byte 5 in 32-bit words; ICMPv6 byte 4 in 64-bit words. Packet too big has
    // none (its bytes 4-7 are the MTU).
    let typ = icmp.first().copied().unwrap_or(0);
    let words = if v6 {
        if typ == ICMP6_PACKET_TOO_BIG {
            0
        } else {
            usize::from(icmp.get(4).copied().unwrap_or(0)) * 8
        }
    } else {
        usize::from(icmp.get(5).copied().unwrap_or(0)) * 4
    };
    if words > 0 {
        if words < EXT_MIN_OFFSET || words > body.len() {
            return (None, Vec::new());
        }
        let labels = parse_extensions(&body[words..], false).unwrap_or_default();
        return (Some(&body[..words]), labels);
    }
    if body.len() > EXT_MIN_OFFSET + 4 {
        if let Some(labels) = parse_extensions(&body[EXT_MIN_OFFSET..], true) {
            return (Some(&body[..EXT_MIN_OFFSET]), labels);
        }
    }
    (None, Vec::new())
}

/// Finds an extension structure at `off` in an error-queue payload (which starts `skipped` bytes into the
/// original datagram: the kernel strips the IP and, for UDP, the UDP header). `off` is the kernel's RFC 4884
/// offset when it gave one, else the 128-byte compatibility position is tried.
pub fn queued_extensions(
    payload: &[u8],
    rfc4884_offset: Option<usize>,
    skipped: usize,
) -> Vec<MplsLabel> {
    match rfc4884_offset {
        Some(off) => payload
            .get(off..)
            .and_then(|b| parse_extensions(b, false))
            .unwrap_or_default(),
        None => EXT_MIN_OFFSET
            .checked_sub(skipped)
            .and_then(|off| payload.get(off..))
            .filter(|b| b.len() > 4)
            .and_then(|b| parse_extensions(b, true))
            .unwrap_or_default(),
    }
}

/// Parses an ICMP extension structure (RFC 4884 §7): a version-2 header with a checksum, then objects; returns
/// the MPLS labels (class 1, c-type 1) found. `strict` (for structures found by position, not by the length
/// attribute) demands a non-zero, valid checksum, so 128 bytes of quoted payload are not taken for one.
fn parse_extensions(ext: &[u8], strict: bool) -> Option<Vec<MplsLabel>> {
    let version = *ext.first()? >> 4;
    if version != 2 {
        return None;
    }
    let sum = be16(ext, 2)?;
    if (sum != 0 || strict) && checksum(0, ext) != 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 4;
    // Objects: length (header included), class-num, c-type, payload. At most 64, so a hostile packet cannot
    // make this loop long.
    for _ in 0..64 {
        let Some(len) = be16(ext, at).map(usize::from) else {
            break;
        };
        if len < 4 {
            break;
        }
        let (class, ctype) = (*ext.get(at + 2)?, *ext.get(at + 3)?);
        let Some(obj) = ext.get(at + 4..at + len) else {
            break;
        };
        if class == 1 && ctype == 1 {
            for e in obj.chunks_exact(4) {
                let v = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                labels.push(MplsLabel {
                    label: v >> 12,
                    tc: ((v >> 9) & 0x7) as u8,
                    bottom: (v >> 8) & 1 == 1,
                    ttl: (v & 0xff) as u8,
                });
            }
        }
        at += len;
    }
    Some(labels)
}

/// An RFC 4884 extension structure with one MPLS label stack object, checksum filled (for tests and for the
/// test suite's MPLS router).
pub fn mpls_extension(labels: &[MplsLabel]) -> Vec<u8> {
    let mut e = vec![0x20, 0, 0, 0];
    e.extend_from_slice(&((4 + 4 * labels.len()) as u16).to_be_bytes());
    e.extend_from_slice(&[1, 1]);
    for l in labels {
        let v = (l.label << 12)
            | (u32::from(l.tc & 7) << 9)
            | (u32::from(l.bottom) << 8)
            | u32::from(l.ttl);
        e.extend_from_slice(&v.to_be_bytes());
    }
    let c = checksum(0, &e);
    e[2..4].copy_from_slice(&c.to_be_bytes());
    e
}

/// A TCP segment as a raw TCP socket delivers it: IPv4 with its header (`v6` false), IPv6 without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment {
    /// From the IPv4 header when present.
    pub from: Option<IpAddr>,
    pub ttl: Option<u8>,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

/// Parses a TCP segment from a raw TCP socket. Never panics.
pub fn parse_tcp(buf: &[u8], v6: bool) -> Option<TcpSegment> {
    let (from, ttl, tcp) = if v6 {
        (None, None, buf)
    } else {
        let (ttl, proto, src, _, payload) = ipv4_split(buf)?;
        if proto != PROTO_TCP {
            return None;
        }
        (Some(IpAddr::V4(src)), Some(ttl), payload)
    };
    Some(TcpSegment {
        from,
        ttl,
        sport: be16(tcp, 0)?,
        dport: be16(tcp, 2)?,
        seq: be32(tcp, 4)?,
        ack: be32(tcp, 8)?,
        flags: *tcp.get(13)?,
    })
}

/// The fields of a quoted probe that identify it, by protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFields {
    Echo {
        id: u16,
        seq: u16,
        checksum: u16,
        mark: Option<(u16, u32)>,
    },
    Udp {
        sport: u16,
        dport: u16,
        checksum: u16,
        mark: Option<(u16, u32)>,
    },
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
    },
}

/// Reads the identifying fields of a quoted transport header of `protocol` (an ICMP echo request, a UDP
/// datagram, a TCP segment); at least the first 8 bytes must be there.
pub fn probe_fields(protocol: u8, transport: &[u8], v6: bool) -> Option<ProbeFields> {
    match protocol {
        PROTO_ICMP | PROTO_ICMPV6 => {
            let want = if v6 {
                ICMP6_ECHO_REQUEST
            } else {
                ICMP_ECHO_REQUEST
            };
            if *transport.first()? != want || (protocol == PROTO_ICMPV6) != v6 {
                return None;
            }
            Some(ProbeFields::Echo {
                id: be16(transport, 4)?,
                seq: be16(transport, 6)?,
                checksum: be16(transport, 2)?,
                mark: transport.get(8..).and_then(read_mark),
            })
        }
        PROTO_UDP => Some(ProbeFields::Udp {
            sport: be16(transport, 0)?,
            dport: be16(transport, 2)?,
            checksum: be16(transport, 6)?,
            mark: transport.get(8..).and_then(read_mark),
        }),
        PROTO_TCP => Some(ProbeFields::Tcp {
            sport: be16(transport, 0)?,
            dport: be16(transport, 2)?,
            seq: be32(transport, 4)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ipv4_packet(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    fn ipv6_packet(src: &str, dst: &str, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 1]);
        p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(payload);
        p
    }

    /// An ICMPv4 error of `typ`/`code` from `from` quoting `original`, with an optional RFC 4884 extension.
    fn icmp_error_v4(
        from: [u8; 4],
        typ: u8,
        code: u8,
        original: &[u8],
        ext: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut icmp = vec![typ, code, 0, 0, 0, 0, 0, 0];
        let mut quoted = original.to_vec();
        if let Some(ext) = ext {
            quoted.resize(quoted.len().max(128), 0);
            icmp[5] = (quoted.len() / 4) as u8;
            quoted.extend_from_slice(ext);
        }
        icmp.extend_from_slice(&quoted);
        let c = checksum(0, &icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        ipv4_packet(from, [10, 0, 0, 1], PROTO_ICMP, 250, &icmp)
    }

    #[test]
    fn compensation_steers_the_checksum() {
        let pair = (v4("10.0.0.1"), v4("10.0.4.2"));
        for seq in [1u16, 2, 77, 40000, 65534] {
            let m = echo_request(false, pair, 0x4e44, seq, 0xdeadbeef, 32, Some(0x1234));
            assert_eq!(be16(&m, 2), Some(0x1234), "seq {seq}");
            // The checksum is a valid Internet checksum of the message.
            assert_eq!(checksum(0, &m), 0);
            assert_eq!(be16(&m, 6), Some(seq));
            assert_eq!(read_mark(&m[8..]), Some((seq, 0xdeadbeef)));
        }
        // Without steering the checksum follows the sequence (classic traceroute).
        let a = echo_request(false, pair, 1, 1, 7, 32, None);
        let b = echo_request(false, pair, 1, 2, 7, 32, None);
        assert_ne!(be16(&a, 2), be16(&b, 2));
        assert_eq!(checksum(0, &a), 0);
    }

    #[test]
    fn icmpv6_checksum_covers_the_pseudo_header() {
        let pair = (v4("fd00::1"), v4("fd00:4::2"));
        let m = echo_request(true, pair, 9, 3, 1, 16, Some(0xbeef));
        assert_eq!(m[0], ICMP6_ECHO_REQUEST);
        assert_eq!(be16(&m, 2), Some(0xbeef));
        let pseudo = pseudo_sum(pair.0, pair.1, PROTO_ICMPV6, m.len());
        assert_eq!(checksum(pseudo, &m), 0);
    }

    #[test]
    fn udp_probe_carries_its_sequence_in_the_checksum() {
        let pair = (v4("10.0.0.1"), v4("10.0.4.2"));
        for seq in [2u16, 3, 1000, 65533] {
            let m = udp_probe(pair, (40000, 33434), seq, 0xabcd, 24, Some(seq));
            assert_eq!(be16(&m, 6), Some(seq));
            assert_eq!(be16(&m, 4), Some(32));
            let pseudo = pseudo_sum(pair.0, pair.1, PROTO_UDP, m.len());
            assert_eq!(checksum(pseudo, &m), 0, "valid UDP checksum for seq {seq}");
            let f = probe_fields(PROTO_UDP, &m, false).unwrap();
            assert_eq!(
                f,
                ProbeFields::Udp {
                    sport: 40000,
                    dport: 33434,
                    checksum: seq,
                    mark: Some((seq, 0xabcd))
                }
            );
        }
        let six = (v4("fd00::1"), v4("fd00:4::2"));
        let m = udp_probe(six, (1, 2), 5, 6, 8, None);
        let pseudo = pseudo_sum(six.0, six.1, PROTO_UDP, m.len());
        assert_eq!(checksum(pseudo, &m), 0);
    }

    #[test]
    fn tcp_syn_is_valid() {
        let pair = (v4("10.0.0.1"), v4("10.0.4.2"));
        let m = tcp_syn(pair, (45000, 443), 0x5a5a_0007);
        assert_eq!(m.len(), TCP_SYN_LEN);
        assert_eq!(m[13], TCP_SYN);
        let pseudo = pseudo_sum(pair.0, pair.1, PROTO_TCP, m.len());
        assert_eq!(checksum(pseudo, &m), 0);
        assert_eq!(
            probe_fields(PROTO_TCP, &m[..8], false),
            Some(ProbeFields::Tcp {
                sport: 45000,
                dport: 443,
                seq: 0x5a5a_0007
            })
        );
    }

    #[test]
    fn time_exceeded_quoting_a_udp_probe() {
        let pair = (v4("10.0.0.1"), v4("10.0.4.2"));
        let probe = udp_probe(pair, (40000, 33434), 42, 1, 24, Some(42));
        let original = ipv4_packet([10, 0, 0, 1], [10, 0, 4, 2], PROTO_UDP, 1, &probe);
        // RFC 792: only 8 bytes after the IP header.
        let pkt = icmp_error_v4([10, 0, 2, 2], ICMP_TIME_EXCEEDED, 0, &original[..28], None);
        let IcmpMessage::Error(e) = parse_icmp(&pkt, false).unwrap() else {
            panic!("not an error");
        };
        assert_eq!((e.icmp_type, e.code), (11, 0));
        assert_eq!(e.from, Some(v4("10.0.2.2")));
        assert_eq!(e.quoted.dst, v4("10.0.4.2"));
        assert_eq!(e.quoted.protocol, PROTO_UDP);
        assert!(e.mpls.is_empty());
        let f = probe_fields(e.quoted.protocol, e.quoted.transport, false).unwrap();
        assert_eq!(
            f,
            ProbeFields::Udp {
                sport: 40000,
                dport: 33434,
                checksum: 42,
                mark: None
            }
        );
    }

    #[test]
    fn frag_needed_carries_the_mtu() {
        let original = ipv4_packet(
            [10, 0, 0, 1],
            [10, 0, 4, 2],
            PROTO_ICMP,
            3,
            &[8, 0, 0, 0, 0, 1, 0, 2],
        );
        let mut pkt = icmp_error_v4([10, 0, 2, 2], ICMP_DEST_UNREACH, 4, &original, None);
        // Next-hop MTU in bytes 6-7 of the ICMP header (20-byte IP header first).
        pkt[26..28].copy_from_slice(&1300u16.to_be_bytes());
        let IcmpMessage::Error(e) = parse_icmp(&pkt, false).unwrap() else {
            panic!()
        };
        assert_eq!(e.mtu, Some(1300));
        assert_eq!(
            probe_fields(e.quoted.protocol, e.quoted.transport, false),
            Some(ProbeFields::Echo {
                id: 1,
                seq: 2,
                checksum: 0,
                mark: None
            })
        );
    }

    fn labels() -> Vec<MplsLabel> {
        vec![
            MplsLabel {
                label: 24001,
                tc: 0,
                bottom: false,
                ttl: 1,
            },
            MplsLabel {
                label: 1048575,
                tc: 5,
                bottom: true,
                ttl: 254,
            },
        ]
    }

    #[test]
    fn rfc4950_labels_after_an_rfc4884_length() {
        let pair = (v4("10.0.0.1"), v4("10.0.4.2"));
        let probe = tcp_syn(pair, (45000, 443), 7);
        let original = ipv4_packet([10, 0, 0, 1], [10, 0, 4, 2], PROTO_TCP, 1, &probe);
        let ext = mpls_extension(&labels());
        let pkt = icmp_error_v4([10, 0, 2, 2], ICMP_TIME_EXCEEDED, 0, &original, Some(&ext));
        let IcmpMessage::Error(e) = parse_icmp(&pkt, false).unwrap() else {
            panic!()
        };
        assert_eq!(e.mpls, labels());
        // The quoted packet ends where its IPv4 header says, before the padding and the extension.
        assert_eq!(e.quoted.transport.len(), TCP_SYN_LEN);
        assert_eq!(
            probe_fields(e.quoted.protocol, e.quoted.transport, false),
            Some(ProbeFields::Tcp {
                sport: 45000,
                dport: 443,
                seq: 7
            })
        );
    }

    #[test]
    fn pre_rfc4884_extensions_at_128_bytes_need_a_valid_checksum() {
        let original = ipv4_packet([10, 0, 0, 1], [10, 0, 4, 2], PROTO_UDP, 1, &[0u8; 40]);
        let mut quoted = original.clone();
        quoted.resize(128, 0);
        let ext = mpls_extension(&labels());
        quoted.extend_from_slice(&ext);
        let pkt = icmp_error_v4([10, 0, 2, 2], ICMP_TIME_EXCEEDED, 0, &quoted, None);
        let IcmpMessage::Error(e) = parse_icmp(&pkt, false).unwrap() else {
            panic!()
        };
        assert_eq!(e.mpls, labels());
        // The same bytes with a broken checksum are just quoted payload.
        let mut bad = quoted.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        let pkt = icmp_error_v4([10, 0, 2, 2], ICMP_TIME_EXCEEDED, 0, &bad, None);
        let IcmpMessage::Error(e) = parse_icmp(&pkt, false).unwrap() else {
            panic!()
        };
        assert!(e.mpls.is_empty());
    }

    #[test]
    fn queued_payloads_find_their_extensions() {
        let ext = mpls_extension(&labels());
        // A UDP error-queue payload starts after 20 + 8 bytes of headers.
        let mut payload = vec![0u8; 100];
        payload.extend_from_slice(&ext);
        assert_eq!(queued_extensions(&payload, None, 28), labels());
        assert_eq!(queued_extensions(&payload, Some(100), 28), labels());
        assert!(queued_extensions(&payload[..100], None, 28).is_empty());
        assert!(queued_extensions(&payload, Some(3), 28).is_empty());
    }

    #[test]
    fn icmpv6_time_exceeded_and_packet_too_big() {
        let pair = (v4("fd00::1"), v4("fd00:4::2"));
        let probe = udp_probe(pair, (40000, 33434), 9, 1, 16, Some(9));
        let original = ipv6_packet("fd00::1", "fd00:4::2", PROTO_UDP, &probe);
        let mut te = vec![ICMP6_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
        te.extend_from_slice(&original);
        let IcmpMessage::Error(e) = parse_icmp(&te, true).unwrap() else {
            panic!()
        };
        assert_eq!(e.quoted.dst, v4("fd00:4::2"));
        assert_eq!(e.from, None);
        assert!(matches!(
            probe_fields(e.quoted.protocol, e.quoted.transport, true),
            Some(ProbeFields::Udp { checksum: 9, .. })
        ));
        let mut ptb = vec![ICMP6_PACKET_TOO_BIG, 0, 0, 0];
        ptb.extend_from_slice(&1280u32.to_be_bytes());
        ptb.extend_from_slice(&original);
        let IcmpMessage::Error(e) = parse_icmp(&ptb, true).unwrap() else {
            panic!()
        };
        assert_eq!(e.mtu, Some(1280));
        // With an RFC 4884 length (64-bit words) and MPLS labels.
        let mut quoted = original.clone();
        quoted.resize(128, 0);
        let mut te = vec![ICMP6_TIME_EXCEEDED, 0, 0, 0, 16, 0, 0, 0];
        te.extend_from_slice(&quoted);
        te.extend_from_slice(&mpls_extension(&labels()));
        let IcmpMessage::Error(e) = parse_icmp(&te, true).unwrap() else {
            panic!()
        };
        assert_eq!(e.mpls, labels());
    }

    #[test]
    fn echo_replies_and_tcp_segments() {
        let reply = ipv4_packet(
            [10, 0, 4, 2],
            [10, 0, 0, 1],
            PROTO_ICMP,
            61,
            &[0, 0, 0, 0, 0, 5, 0, 6],
        );
        assert_eq!(
            parse_icmp(&reply, false),
            Some(IcmpMessage::EchoReply {
                id: 5,
                seq: 6,
                from: Some(v4("10.0.4.2")),
                ttl: Some(61)
            })
        );
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&443u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&45000u16.to_be_bytes());
        tcp[8..12].copy_from_slice(&8u32.to_be_bytes());
        tcp[13] = TCP_SYN | TCP_ACK;
        let seg = parse_tcp(
            &ipv4_packet([10, 0, 4, 2], [10, 0, 0, 1], PROTO_TCP, 61, &tcp),
            false,
        )
        .unwrap();
        assert_eq!(
            (seg.sport, seg.dport, seg.ack, seg.flags),
            (443, 45000, 8, 0x12)
        );
        assert_eq!(seg.from, Some(v4("10.0.4.2")));
        assert_eq!(parse_tcp(&tcp, true).unwrap().ack, 8);
        // Our own echo requests (a raw socket on loopback sees them) and other types are not replies.
        let req = ipv4_packet(
            [10, 0, 0, 1],
            [10, 0, 4, 2],
            PROTO_ICMP,
            64,
            &[8, 0, 0, 0, 0, 5, 0, 6],
        );
        assert_eq!(parse_icmp(&req, false), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), v6 in any::<bool>()) {
            let _ = parse_icmp(&bytes, v6);
            let _ = parse_tcp(&bytes, v6);
            let _ = queued_extensions(&bytes, Some(bytes.len() / 2), 28);
            let _ = queued_extensions(&bytes, None, 8);
            for proto in [PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP, PROTO_TCP] {
                let _ = probe_fields(proto, &bytes, v6);
            }
        }

        #[test]
        fn any_target_checksum_is_reached(seq in any::<u16>(), want in 1u16..0xffff, len in 8usize..200) {
            let pair = (v4("192.0.2.1"), v4("198.51.100.7"));
            let m = udp_probe(pair, (1234, 33434), seq, 99, len, Some(want));
            prop_assert_eq!(be16(&m, 6), Some(want));
            prop_assert_eq!(checksum(pseudo_sum(pair.0, pair.1, PROTO_UDP, m.len()), &m), 0);
        }
    }
}
