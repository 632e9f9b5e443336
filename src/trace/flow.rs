//! Which probe is which: the flow fields each probe carries under the chosen ECMP strategy, and the way back
//! from what an ICMP error quotes (or what a reply carries) to the probe's sequence number.
//!
//! - classic: the flow changes with every probe, as traceroute's does (UDP destination port +1 per probe, TCP
//!   source port per probe, the ICMP checksum follows the sequence number). On an ECMP path each hop may show
//!   several routers, from different paths.
//! - paris (the default): one flow for the whole trace. The fields routers hash stay constant (addresses,
//!   protocol, ports; for ICMP type, code and checksum) and the probe is named by fields they do not hash: the
//!   ICMP sequence number (a payload word keeps the checksum), the UDP checksum (chosen through a payload
//!   word), the TCP sequence number.
//! - dublin: several Paris flows at once, one per source port (ICMP: one per checksum), so every ECMP path
//!   shows and each hop lists all its routers.

use std::net::IpAddr;

use super::model::{Ecmp, Protocol};
use super::wire::{self, ProbeFields, Quoted, TcpSegment};

/// Classic mode cycles the varying port over this many values.
pub const CLASSIC_SPAN: u32 = 1024;

/// What one probe is: its sequence number (unique among probes in flight), TTL, flow, and its place in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSpec {
    pub seq: u16,
    pub ttl: u8,
    pub flow: u16,
    /// How many probes were sent before this one.
    pub counter: u32,
}

/// The fields every probe of a trace shares, and how the varying ones vary.
#[derive(Debug, Clone)]
pub struct FlowPlan {
    pub protocol: Protocol,
    pub ecmp: Ecmp,
    /// Flows per round: 1 unless dublin.
    pub flows: u16,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Source port (UDP, TCP): the one port of a paris trace, the first of dublin's or classic TCP's.
    pub sport: u16,
    /// Destination port: classic UDP's first.
    pub dport: u16,
    /// ICMP echo identifier (the kernel's, on a datagram socket).
    pub icmp_id: u16,
    /// A random run token: in every payload's mark and in the TCP sequence numbers' high half.
    pub token: u32,
    /// Bytes of UDP or ICMP payload.
    pub payload_len: usize,
}

impl FlowPlan {
    fn token16(&self) -> u16 {
        (self.token >> 16) as u16
    }

    /// The source port of a probe.
    pub fn sport(&self, p: &ProbeSpec) -> u16 {
        match (self.ecmp, self.protocol) {
            (Ecmp::Dublin, _) => self.sport.wrapping_add(p.flow),
            (Ecmp::Classic, Protocol::Tcp) => {
                self.sport.wrapping_add((p.counter % CLASSIC_SPAN) as u16)
            }
            _ => self.sport,
        }
    }

    /// The destination port of a probe.
    pub fn dport(&self, p: &ProbeSpec) -> u16 {
        match (self.ecmp, self.protocol) {
            (Ecmp::Classic, Protocol::Udp) => {
                self.dport.wrapping_add((p.counter % CLASSIC_SPAN) as u16)
            }
            _ => self.dport,
        }
    }

    /// The constant ICMP checksum of a flow (paris, dublin), or none (classic).
    pub fn icmp_checksum(&self, flow: u16) -> Option<u16> {
        if self.ecmp == Ecmp::Classic {
            return None;
        }
        // Anything but 0 and 0xffff, distinct per flow.
        Some(0x1000 + (self.token16() & 0x7fff).wrapping_add(flow) % 0xd000)
    }

    /// The TCP sequence number of a probe: the run token, then the probe's sequence number.
    pub fn tcp_seq(&self, seq: u16) -> u32 {
        (u32::from(self.token16()) << 16) | u32::from(seq)
    }

    /// The probe as a raw socket sends it (the transport header onwards; the kernel writes the IP header).
    pub fn raw_packet(&self, p: &ProbeSpec) -> Vec<u8> {
        let pair = (self.src, self.dst);
        let v6 = self.dst.is_ipv6();
        match self.protocol {
            Protocol::Icmp => wire::echo_request(
                v6,
                pair,
                self.icmp_id,
                p.seq,
                self.token,
                self.payload_len,
                self.icmp_checksum(p.flow),
            ),
            // The checksum names the probe; routers quote it even when they quote only 8 bytes.
            Protocol::Udp => wire::udp_probe(
                pair,
                (self.sport(p), self.dport(p)),
                p.seq,
                self.token,
                self.payload_len,
                Some(p.seq),
            ),
            Protocol::Tcp => {
                wire::tcp_syn(pair, (self.sport(p), self.dport(p)), self.tcp_seq(p.seq))
            }
        }
    }

    /// The ICMP echo request an unprivileged datagram socket sends (the kernel keeps our identifier only if it
    /// is its own, which `icmp_id` is then).
    pub fn echo_request(&self, p: &ProbeSpec) -> Vec<u8> {
        self.raw_packet(p)
    }

    fn sport_ours(&self, port: u16) -> bool {
        let span = match (self.ecmp, self.protocol) {
            (Ecmp::Dublin, _) => u32::from(self.flows),
            (Ecmp::Classic, Protocol::Tcp) => CLASSIC_SPAN,
            _ => 1,
        };
        u32::from(port.wrapping_sub(self.sport)) < span
    }

    fn dport_ours(&self, port: u16) -> bool {
        let span = match (self.ecmp, self.protocol) {
            (Ecmp::Classic, Protocol::Udp) => CLASSIC_SPAN,
            _ => 1,
        };
        u32::from(port.wrapping_sub(self.dport)) < span
    }

    fn mark_ok(&self, mark: Option<(u16, u32)>, seq: u16) -> bool {
        mark.is_none_or(|(s, t)| s == seq && t == self.token)
    }

    /// The probe an ICMP error is about, from the packet it quotes; None when it is not one of ours.
    pub fn match_quoted(&self, q: &Quoted<'_>) -> Option<u16> {
        if q.dst != self.dst || q.src.is_ipv6() != self.dst.is_ipv6() {
            return None;
        }
        let v6 = self.dst.is_ipv6();
        match (
            self.protocol,
            wire::probe_fields(q.protocol, q.transport, v6)?,
        ) {
            (Protocol::Icmp, ProbeFields::Echo { id, seq, mark, .. }) => {
                (id == self.icmp_id && self.mark_ok(mark, seq)).then_some(seq)
            }
            (
                Protocol::Udp,
                ProbeFields::Udp {
                    sport,
                    dport,
                    checksum,
                    mark,
                },
            ) => {
                if !self.sport_ours(sport) || !self.dport_ours(dport) {
                    return None;
                }
                // The mark, when quoted, is the authority (a NAT on the way rewrites the checksum).
                match mark {
                    Some((seq, token)) => (token == self.token).then_some(seq),
                    None => Some(checksum),
                }
            }
            (Protocol::Tcp, ProbeFields::Tcp { sport, dport, seq }) => {
                let ours = self.sport_ours(sport)
                    && self.dport_ours(dport)
                    && (seq >> 16) as u16 == self.token16();
                ours.then_some(seq as u16)
            }
            _ => None,
        }
    }

    /// The probe an echo reply answers.
    pub fn match_echo_reply(&self, id: u16, seq: u16) -> Option<u16> {
        (self.protocol == Protocol::Icmp && id == self.icmp_id).then_some(seq)
    }

    /// The probe a TCP segment from the target answers: a SYN-ACK (open port) or a RST (closed port), whose
    /// acknowledgment number is our sequence number plus one.
    pub fn match_tcp(&self, seg: &TcpSegment, from: IpAddr) -> Option<u16> {
        let answer = seg.flags & wire::TCP_RST != 0
            || seg.flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN | wire::TCP_ACK;
        if self.protocol != Protocol::Tcp
            || from != self.dst
            || !answer
            || seg.flags & wire::TCP_ACK == 0
            || !self.dport_ours(seg.sport)
            || !self.sport_ours(seg.dport)
        {
            return None;
        }
        let ours = seg.ack.wrapping_sub(1);
        ((ours >> 16) as u16 == self.token16()).then_some(ours as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::wire::{IcmpMessage, PROTO_UDP};

    fn plan(protocol: Protocol, ecmp: Ecmp) -> FlowPlan {
        FlowPlan {
            protocol,
            ecmp,
            flows: if ecmp == Ecmp::Dublin { 4 } else { 1 },
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.4.2".parse().unwrap(),
            sport: 41000,
            dport: 33434,
            icmp_id: 0x4e44,
            token: 0xa1b2_c3d4,
            payload_len: 24,
        }
    }

    fn spec(seq: u16, ttl: u8, flow: u16, counter: u32) -> ProbeSpec {
        ProbeSpec {
            seq,
            ttl,
            flow,
            counter,
        }
    }

    /// The first 8 transport bytes a router quotes, as an ICMP error would.
    fn quote<'a>(p: &FlowPlan, transport: &'a [u8], proto: u8) -> Quoted<'a> {
        Quoted {
            src: p.src,
            dst: p.dst,
            protocol: proto,
            transport,
        }
    }

    #[test]
    fn paris_keeps_the_hashed_fields_constant() {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let p = plan(proto, Ecmp::Paris);
            let first4: std::collections::HashSet<Vec<u8>> = (0..30u16)
                .map(|i| p.raw_packet(&spec(100 + i, (i + 1) as u8, 0, u32::from(i)))[..4].to_vec())
                .collect();
            assert_eq!(
                first4.len(),
                1,
                "{proto:?}: ports / type, code and checksum vary"
            );
        }
    }

    #[test]
    fn classic_varies_the_flow_per_probe() {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let p = plan(proto, Ecmp::Classic);
            let first4: std::collections::HashSet<Vec<u8>> = (0..30u16)
                .map(|i| p.raw_packet(&spec(100 + i, 1, 0, u32::from(i)))[..4].to_vec())
                .collect();
            assert_eq!(first4.len(), 30, "{proto:?}");
        }
    }

    #[test]
    fn dublin_has_one_flow_per_flow_index() {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let p = plan(proto, Ecmp::Dublin);
            let mut per_flow = std::collections::HashMap::new();
            for flow in 0..4u16 {
                for ttl in 1..10u8 {
                    let seq = flow * 100 + u16::from(ttl);
                    let pkt = p.raw_packet(&spec(seq, ttl, flow, 0));
                    per_flow
                        .entry(flow)
                        .or_insert_with(std::collections::HashSet::new)
                        .insert(pkt[..4].to_vec());
                }
            }
            let all: std::collections::HashSet<_> = per_flow.values().flatten().collect();
            assert!(per_flow.values().all(|s| s.len() == 1), "{proto:?}");
            assert_eq!(all.len(), 4, "{proto:?}");
        }
    }

    #[test]
    fn every_probe_is_found_from_an_8_byte_quote() {
        for ecmp in [Ecmp::Classic, Ecmp::Paris, Ecmp::Dublin] {
            for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
                let p = plan(proto, ecmp);
                let wire_proto = match proto {
                    Protocol::Icmp => 1,
                    Protocol::Udp => PROTO_UDP,
                    Protocol::Tcp => 6,
                };
                for (i, seq) in [1u16, 2, 999, 40000, 65534].into_iter().enumerate() {
                    let s = spec(seq, 3, (i % 4) as u16, 2000 + i as u32);
                    let pkt = p.raw_packet(&s);
                    assert_eq!(
                        p.match_quoted(&quote(&p, &pkt[..8], wire_proto)),
                        Some(seq),
                        "{ecmp:?} {proto:?} seq {seq}"
                    );
                    assert_eq!(
                        p.match_quoted(&quote(&p, &pkt, wire_proto)),
                        Some(seq),
                        "{ecmp:?} {proto:?} seq {seq}, whole"
                    );
                }
            }
        }
    }

    #[test]
    fn other_programs_probes_are_not_ours() {
        let p = plan(Protocol::Udp, Ecmp::Paris);
        let mut other = p.clone();
        other.token = 1;
        let pkt = other.raw_packet(&spec(5, 1, 0, 0));
        assert_eq!(p.match_quoted(&quote(&p, &pkt, PROTO_UDP)), None);
        let mut port = p.clone();
        port.sport = 9;
        let pkt = port.raw_packet(&spec(5, 1, 0, 0));
        assert_eq!(p.match_quoted(&quote(&p, &pkt, PROTO_UDP)), None);
        // To another destination.
        let pkt = p.raw_packet(&spec(5, 1, 0, 0));
        let mut q = quote(&p, &pkt, PROTO_UDP);
        q.dst = "10.9.9.9".parse().unwrap();
        assert_eq!(p.match_quoted(&q), None);
        // Another protocol.
        assert_eq!(p.match_quoted(&quote(&p, &pkt, 6)), None);
        let t = plan(Protocol::Tcp, Ecmp::Paris);
        let mut tother = t.clone();
        tother.token = 0x0001_0000;
        let pkt = tother.raw_packet(&spec(5, 1, 0, 0));
        assert_eq!(t.match_quoted(&quote(&t, &pkt, 6)), None);
    }

    #[test]
    fn syn_ack_and_rst_from_the_target_match() {
        let p = plan(Protocol::Tcp, Ecmp::Paris);
        let seq_no = p.tcp_seq(77);
        let seg = TcpSegment {
            from: None,
            ttl: None,
            sport: 33434,
            dport: 41000,
            seq: 1,
            ack: seq_no.wrapping_add(1),
            flags: wire::TCP_SYN | wire::TCP_ACK,
        };
        assert_eq!(p.match_tcp(&seg, p.dst), Some(77));
        let rst = TcpSegment {
            flags: wire::TCP_RST | wire::TCP_ACK,
            ..seg
        };
        assert_eq!(p.match_tcp(&rst, p.dst), Some(77));
        // From elsewhere, to another port, or a bare ACK: not an answer.
        assert_eq!(p.match_tcp(&seg, p.src), None);
        let other_port = TcpSegment {
            dport: 41001,
            ..seg
        };
        assert_eq!(p.match_tcp(&other_port, p.dst), None);
        let ack = TcpSegment {
            flags: wire::TCP_ACK,
            ..seg
        };
        assert_eq!(p.match_tcp(&ack, p.dst), None);
    }

    #[test]
    fn a_router_quote_parsed_end_to_end_finds_the_probe() {
        // An ICMPv6 time exceeded quoting a whole UDP probe.
        let mut p = plan(Protocol::Udp, Ecmp::Paris);
        p.src = "fd00::1".parse().unwrap();
        p.dst = "fd00:4::2".parse().unwrap();
        let pkt = p.raw_packet(&spec(321, 2, 0, 0));
        let mut msg = vec![3, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0];
        msg.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
        msg.extend_from_slice(&[PROTO_UDP, 1]);
        for a in [p.src, p.dst] {
            let IpAddr::V6(a) = a else { unreachable!() };
            msg.extend_from_slice(&a.octets());
        }
        msg.extend_from_slice(&pkt);
        let Some(IcmpMessage::Error(e)) = wire::parse_icmp(&msg, true) else {
            panic!("not parsed")
        };
        assert_eq!(p.match_quoted(&e.quoted), Some(321));
    }
}
