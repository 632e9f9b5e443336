//! Packet decoding for display and conversation analysis: link header (Ethernet, Linux cooked v1/v2, raw IP),
//! IPv4/IPv6 (IPv6 extension headers skipped), TCP, UDP, ICMP/ICMPv6 (with the flow of the packet an error
//! quotes) and ARP. Field access uses pnet_packet's types; offsets between layers are computed here, checked
//! against what was captured, so a truncated or malformed packet decodes as far as it goes and never panics.

use std::net::{IpAddr, Ipv4Addr};

use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::icmp::IcmpPacket;
use pnet_packet::icmpv6::Icmpv6Packet;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::sll::SLLPacket;
use pnet_packet::sll2::SLL2Packet;
use pnet_packet::tcp::TcpPacket;
use pnet_packet::udp::UdpPacket;
use pnet_packet::Packet as _;

use super::compile::Link;

/// A pcap link type netdiag reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    Raw,
    Ipv4,
    Ipv6,
    Sll,
    Sll2,
}

impl LinkType {
    pub fn from_pcap(v: u32) -> Option<LinkType> {
        Some(match v {
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::Sll,
            276 => LinkType::Sll2,
            _ => return None,
        })
    }

    pub fn pcap(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Sll => 113,
            LinkType::Sll2 => 276,
        }
    }

    /// tcpdump's words for it.
    pub fn describe(self) -> &'static str {
        match self {
            LinkType::Ethernet => "EN10MB (Ethernet)",
            LinkType::Raw => "RAW (Raw IP)",
            LinkType::Ipv4 => "IPV4 (Raw IPv4)",
            LinkType::Ipv6 => "IPV6 (Raw IPv6)",
            LinkType::Sll => "LINUX_SLL (Linux cooked v1)",
            LinkType::Sll2 => "LINUX_SLL2 (Linux cooked v2)",
        }
    }

    /// The filter's view of this link type.
    pub fn filter_link(self) -> Link {
        match self {
            LinkType::Ethernet => Link::Ethernet,
            LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Link::Raw,
            LinkType::Sll => Link::Sll,
            LinkType::Sll2 => Link::Sll2,
        }
    }
}

/// Which way a packet went, as the Linux packet type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// TCP options worth showing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSeg {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    /// Payload bytes per the IP length (what was sent, even if fewer were captured).
    pub len: u32,
    pub opts: TcpOptions,
}

/// The flow of the packet an ICMP error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMsg {
    pub v6: bool,
    pub ty: u8,
    pub code: u8,
    /// Echo identifier and sequence.
    pub echo: Option<(u16, u16)>,
    pub quoted: Option<Quoted>,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpMsg {
    pub op: u16,
    pub sha: [u8; 6],
    pub spa: Ipv4Addr,
    pub tpa: Ipv4Addr,
}

/// The transport (or ARP) layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp(TcpSeg),
    Udp {
        sport: u16,
        dport: u16,
        len: u32,
    },
    Icmp(IcmpMsg),
    Arp(ArpMsg),
    /// A later IPv4/IPv6 fragment: no transport header in it.
    Fragment {
        protocol: u8,
    },
    Other {
        protocol: u8,
    },
    /// Too short to read, or a network protocol netdiag does not decode.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHdr {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub id: Option<u16>,
    /// The IP packet's length (header included).
    pub len: u32,
    pub protocol: u8,
}

/// A decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    pub ifindex: Option<u32>,
    pub direction: Option<Direction>,
    pub ethertype: u16,
    pub src_mac: Option<[u8; 6]>,
    pub ip: Option<IpHdr>,
    pub l4: L4,
}

fn pkttype_dir(t: u8) -> Direction {
    if t == 4 {
        Direction::Out
    } else {
        Direction::In
    }
}

fn mac(b: &[u8]) -> Option<[u8; 6]> {
    b.get(..6).and_then(|s| s.try_into().ok())
}

/// Decodes a packet of a link type.
pub fn decode(link: LinkType, data: &[u8]) -> Decoded {
    let mut d = Decoded {
        ifindex: None,
        direction: None,
        ethertype: 0,
        src_mac: None,
        ip: None,
        l4: L4::None,
    };
    let (ethertype, payload): (u16, &[u8]) = match link {
        LinkType::Ethernet => match EthernetPacket::new(data) {
            Some(e) => {
                d.src_mac = Some(e.get_source().octets());
                (e.get_ethertype().0, &data[14..])
            }
            None => return d,
        },
        LinkType::Sll => match SLLPacket::new(data).filter(|_| data.len() >= 16) {
            Some(s) => {
                d.direction = Some(pkttype_dir(s.get_packet_type() as u8));
                if s.get_link_layer_address_len() == 6 {
                    d.src_mac = mac(&data[6..]);
                }
                (s.get_protocol().0, &data[16..])
            }
            None => return d,
        },
        LinkType::Sll2 => match SLL2Packet::new(data).filter(|_| data.len() >= 20) {
            Some(s) => {
                d.direction = Some(pkttype_dir(s.get_packet_type()));
                d.ifindex = Some(s.get_interface_index());
                if s.get_link_layer_address_length() == 6 {
                    d.src_mac = mac(&data[12..]);
                }
                (s.get_protocol_type().0, &data[20..])
            }
            None => return d,
        },
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => match data.first().map(|b| b >> 4) {
            Some(4) => (0x0800, data),
            Some(6) => (0x86dd, data),
            _ => return d,
        },
    };
    network(ethertype, payload, &mut d);
    d
}

/// Decodes a packet read from a cooked socket: the network header first, the rest from the ring.
pub fn decode_cooked(protocol: u16, ifindex: u32, pkttype: u8, data: &[u8]) -> Decoded {
    let mut d = Decoded {
        ifindex: Some(ifindex),
        direction: Some(pkttype_dir(pkttype)),
        ethertype: 0,
        src_mac: None,
        ip: None,
        l4: L4::None,
    };
    network(protocol, data, &mut d);
    d
}

fn network(ethertype: u16, payload: &[u8], d: &mut Decoded) {
    d.ethertype = ethertype;
    match ethertype {
        0x0800 => ipv4(payload, d),
        0x86dd => ipv6(payload, d),
        0x0806 | 0x8035 => {
            if let Some(a) = ArpPacket::new(payload) {
                if a.get_hw_addr_len() == 6 && a.get_proto_addr_len() == 4 {
                    d.l4 = L4::Arp(ArpMsg {
                        op: a.get_operation().0,
                        sha: a.get_sender_hw_addr().octets(),
                        spa: a.get_sender_proto_addr(),
                        tpa: a.get_target_proto_addr(),
                    });
                }
            }
        }
        _ => {}
    }
}

fn ipv4(b: &[u8], d: &mut Decoded) {
    let Some(ip) = Ipv4Packet::new(b) else { return };
    let hl = usize::from(ip.get_header_length()) * 4;
    if ip.get_version() != 4 || hl < 20 {
        return;
    }
    let total = usize::from(ip.get_total_length());
    let proto = ip.get_next_level_protocol().0;
    d.ip = Some(IpHdr {
        src: IpAddr::V4(ip.get_source()),
        dst: IpAddr::V4(ip.get_destination()),
        ttl: ip.get_ttl(),
        id: Some(ip.get_identification()),
        len: total as u32,
        protocol: proto,
    });
    if ip.get_fragment_offset() != 0 {
        d.l4 = L4::Fragment { protocol: proto };
        return;
    }
    let Some(rest) = b.get(hl..) else { return };
    // A segmentation-offloaded packet may say 0 here: then what was captured is what there is.
    let (rest, sent) = if total >= hl && total > 0 {
        (&rest[..rest.len().min(total - hl)], (total - hl) as u32)
    } else {
        (rest, rest.len() as u32)
    };
    d.l4 = transport(proto, rest, sent, false);
}

fn ipv6(b: &[u8], d: &mut Decoded) {
    let Some(ip) = Ipv6Packet::new(b) else { return };
    if ip.get_version() != 6 {
        return;
    }
    let mut nh = ip.get_next_header().0;
    let mut off = 40usize;
    let plen = usize::from(ip.get_payload_length());
    let mut fragment = false;
    // Skip hop-by-hop, routing, fragment and destination options headers (at most a few).
    for _ in 0..8 {
        match nh {
            0 | 43 | 60 => {
                let (Some(&n), Some(&l)) = (b.get(off), b.get(off + 1)) else {
                    break;
                };
                nh = n;
                off += 8 + usize::from(l) * 8;
            }
            44 => {
                let (Some(&n), Some(fo)) = (b.get(off), b.get(off + 2..off + 4)) else {
                    break;
                };
                nh = n;
                fragment = u16::from_be_bytes([fo[0], fo[1]]) & 0xfff8 != 0;
                off += 8;
            }
            _ => break,
        }
    }
    d.ip = Some(IpHdr {
        src: IpAddr::V6(ip.get_source()),
        dst: IpAddr::V6(ip.get_destination()),
        ttl: ip.get_hop_limit(),
        id: None,
        len: (plen + 40) as u32,
        protocol: nh,
    });
    if fragment {
        d.l4 = L4::Fragment { protocol: nh };
        return;
    }
    let Some(rest) = b.get(off..) else { return };
    let sent = (plen + 40).saturating_sub(off) as u32;
    d.l4 = transport(nh, rest, sent, true);
}

fn transport(proto: u8, b: &[u8], sent: u32, v6: bool) -> L4 {
    match proto {
        6 => match TcpPacket::new(b) {
            Some(t) if t.get_data_offset() >= 5 => {
                let hl = u32::from(t.get_data_offset()) * 4;
                L4::Tcp(TcpSeg {
                    sport: t.get_source(),
                    dport: t.get_destination(),
                    seq: t.get_sequence(),
                    ack: t.get_acknowledgement(),
                    flags: t.get_flags(),
                    win: t.get_window(),
                    len: sent.saturating_sub(hl),
                    opts: tcp_options(b.get(20..hl as usize).unwrap_or(&[])),
                })
            }
            _ => L4::None,
        },
        17 => match UdpPacket::new(b) {
            Some(u) => L4::Udp {
                sport: u.get_source(),
                dport: u.get_destination(),
                len: u32::from(u.get_length()).saturating_sub(8),
            },
            None => L4::None,
        },
        1 if !v6 => match IcmpPacket::new(b) {
            Some(i) => L4::Icmp(icmp(
                false,
                i.get_icmp_type().0,
                i.get_icmp_code().0,
                i.payload(),
                sent,
            )),
            None => L4::None,
        },
        58 if v6 => match Icmpv6Packet::new(b) {
            Some(i) => L4::Icmp(icmp(
                true,
                i.get_icmpv6_type().0,
                i.get_icmpv6_code().0,
                i.payload(),
                sent,
            )),
            None => L4::None,
        },
        p => L4::Other { protocol: p },
    }
}

/// True for ICMP/ICMPv6 types that carry the packet they complain about.
pub fn is_icmp_error(v6: bool, ty: u8) -> bool {
    if v6 {
        matches!(ty, 1..=4)
    } else {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    }
}

fn icmp(v6: bool, ty: u8, code: u8, rest: &[u8], sent: u32) -> IcmpMsg {
    // `rest` starts at the 4 bytes after type, code and checksum.
    let echo = matches!((v6, ty), (false, 0 | 8) | (true, 128 | 129))
        .then(|| {
            Some((
                u16::from_be_bytes([*rest.first()?, *rest.get(1)?]),
                u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]),
            ))
        })
        .flatten();
    let quoted = if is_icmp_error(v6, ty) {
        rest.get(4..).and_then(|q| quoted(q, v6))
    } else {
        None
    };
    IcmpMsg {
        v6,
        ty,
        code,
        echo,
        quoted,
        len: sent,
    }
}

/// The flow of the IP packet quoted in an ICMP error: addresses, protocol and (when present) ports.
fn quoted(b: &[u8], v6: bool) -> Option<Quoted> {
    let (src, dst, proto, rest) = if v6 {
        let ip = Ipv6Packet::new(b)?;
        (
            IpAddr::V6(ip.get_source()),
            IpAddr::V6(ip.get_destination()),
            ip.get_next_header().0,
            b.get(40..),
        )
    } else {
        let ip = Ipv4Packet::new(b)?;
        let hl = usize::from(ip.get_header_length()) * 4;
        if hl < 20 {
            return None;
        }
        (
            IpAddr::V4(ip.get_source()),
            IpAddr::V4(ip.get_destination()),
            ip.get_next_level_protocol().0,
            b.get(hl..),
        )
    };
    let ports = rest
        .filter(|r| matches!(proto, 6 | 17 | 132) && r.len() >= 4)
        .map(|r| {
            (
                u16::from_be_bytes([r[0], r[1]]),
                u16::from_be_bytes([r[2], r[3]]),
            )
        });
    Some(Quoted {
        protocol: proto,
        src,
        dst,
        sport: ports.map(|p| p.0),
        dport: ports.map(|p| p.1),
    })
}

fn tcp_options(mut b: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    // Each step consumes at least one byte, so this ends.
    while let Some(&kind) = b.first() {
        match kind {
            0 => break,
            1 => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else { break };
        let len = usize::from(len);
        if len < 2 || len > b.len() {
            break;
        }
        let v = &b[2..len];
        match (kind, v.len()) {
            (2, 2) => o.mss = Some(u16::from_be_bytes([v[0], v[1]])),
            (3, 1) => o.wscale = Some(v[0]),
            (4, 0) => o.sack_ok = true,
            (8, 8) => {
                o.ts = Some((
                    u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                ))
            }
            _ => {}
        }
        b = &b[len..];
    }
    o
}

/// Builds the Linux cooked v2 header (LINKTYPE_LINUX_SLL2) for a packet read from a cooked socket.
pub fn sll2_header(
    protocol: u16,
    ifindex: u32,
    hatype: u16,
    pkttype: u8,
    addr: &[u8; 8],
    addr_len: u8,
) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..2].copy_from_slice(&protocol.to_be_bytes());
    h[4..8].copy_from_slice(&ifindex.to_be_bytes());
    h[8..10].copy_from_slice(&hatype.to_be_bytes());
    h[10] = pkttype;
    h[11] = addr_len;
    h[12..20].copy_from_slice(addr);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_v4() -> Vec<u8> {
        let mut p = vec![0u8; 14 + 20 + 24 + 5];
        p[12] = 8;
        let ip = &mut p[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(20u16 + 24 + 5).to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let t = &mut ip[20..];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 6 << 4;
        t[13] = 0x02;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        p
    }

    #[test]
    fn decodes_tcp_over_ipv4_over_ethernet() {
        let d = decode(LinkType::Ethernet, &tcp_v4());
        let ip = d.ip.unwrap();
        assert_eq!(ip.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        match d.l4 {
            L4::Tcp(t) => {
                assert_eq!(
                    (t.sport, t.dport, t.seq, t.flags, t.win, t.len),
                    (40000, 80, 1000, 2, 64240, 5)
                );
                assert_eq!(t.opts.mss, Some(1460));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_and_garbage_packets_decode_as_far_as_they_go() {
        let p = tcp_v4();
        for n in 0..p.len() {
            let _ = decode(LinkType::Ethernet, &p[..n]);
            let _ = decode(LinkType::Sll2, &p[..n]);
            let _ = decode(LinkType::Raw, &p[14..n.max(14)]);
        }
        let mut bad = p.clone();
        bad[14] = 0x41; // header length 4 words
        assert_eq!(decode(LinkType::Ethernet, &bad).ip, None);
    }

    #[test]
    fn icmp_errors_quote_the_flow() {
        // ICMP port unreachable quoting a UDP datagram 10.0.0.1:5000 -> 10.0.0.2:9.
        let mut q = vec![0u8; 20 + 8];
        q[0] = 0x45;
        q[9] = 17;
        q[12..16].copy_from_slice(&[10, 0, 0, 1]);
        q[16..20].copy_from_slice(&[10, 0, 0, 2]);
        q[20..22].copy_from_slice(&5000u16.to_be_bytes());
        q[22..24].copy_from_slice(&9u16.to_be_bytes());
        let mut icmp = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&q);
        let mut ip = vec![
            0x45u8, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        let total = (ip.len() + icmp.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&icmp);
        let d = decode(LinkType::Raw, &ip);
        match d.l4 {
            L4::Icmp(m) => {
                let q = m.quoted.unwrap();
                assert_eq!(
                    (m.ty, m.code, q.protocol, q.sport, q.dport),
                    (3, 3, 17, Some(5000), Some(9))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
