//! Conversations: packets grouped by flow, with Wireshark's TCP analysis (handshake times, RTT, retransmissions,
//! duplicate ACKs, zero-window periods, FIN/RST) and the ICMP errors that quote the flow, ending in a verdict per
//! flow from the shared explanation table ([`crate::explain::capture`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::decode::{is_icmp_error, Decoded, L4};
use super::model::{Endpoint, Flow, Handshake, IcmpError};
use crate::explain::{self, Explanation};

/// Per direction (0: client → server, 1: server → client).
#[derive(Debug, Default, Clone)]
struct Side {
    packets: u64,
    bytes: u64,
    payload: u64,
    syns: u64,
    data_segments: u64,
    retrans: u64,
    dup_acks: u64,
    next_seq: Option<u32>,
    last_ack: Option<u32>,
    last_win: Option<u16>,
    fin: Option<f64>,
    rst: Option<f64>,
    /// Packets sent before this side's first RST.
    packets_before_rst: u64,
    zero_since: Option<f64>,
    zero_events: u64,
    zero_longest: f64,
    zero_total: f64,
    /// Segments in flight: (end sequence, time sent), for RTT samples (Karn: cleared on retransmission).
    in_flight: VecDeque<(u32, f64)>,
}

#[derive(Debug, Clone)]
struct Track {
    protocol: u8,
    v6: bool,
    client: Endpoint,
    server: Endpoint,
    first: f64,
    last: f64,
    sides: [Side; 2],
    syn: Option<f64>,
    syn_ack: Option<f64>,
    ack: Option<f64>,
    rtt: Vec<f64>,
    icmp: Vec<IcmpError>,
    order: usize,
}

impl Track {
    fn new(
        protocol: u8,
        v6: bool,
        client: Endpoint,
        server: Endpoint,
        t: f64,
        order: usize,
    ) -> Track {
        Track {
            protocol,
            v6,
            client,
            server,
            first: t,
            last: t,
            sides: Default::default(),
            syn: None,
            syn_ack: None,
            ack: None,
            rtt: Vec::new(),
            icmp: Vec::new(),
            order,
        }
    }
}

/// Sequence number comparison modulo 2^32.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A flow key that is the same both ways.
type Key = (u8, Endpoint, Endpoint);

fn key(protocol: u8, a: Endpoint, b: Endpoint) -> Key {
    if a <= b {
        (protocol, a, b)
    } else {
        (protocol, b, a)
    }
}

/// The most flows tracked at once; more are counted as one "other" line instead of growing without bound.
const MAX_FLOWS: usize = 100_000;

/// Collects packets into flows.
#[derive(Debug, Default)]
pub struct Tracker {
    flows: HashMap<Key, Track>,
    dropped_flows: u64,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Adds one packet (time in seconds and nanoseconds since the epoch; `wire_len` bytes on the wire).
    pub fn add(&mut self, sec: u64, nsec: u32, d: &Decoded, wire_len: u32) {
        let Some(ip) = d.ip else { return };
        let t = sec as f64 + f64::from(nsec) / 1e9;
        let v6 = ip.src.is_ipv6();
        // Ports for TCP and UDP; the echo identifier stands for them in ICMP echo.
        let (sport, dport) = match d.l4 {
            L4::Tcp(s) => (Some(s.sport), Some(s.dport)),
            L4::Udp { sport, dport, .. } => (Some(sport), Some(dport)),
            L4::Icmp(m) if is_icmp_error(m.v6, m.ty) => {
                self.icmp_error(t, ip.src, &m);
                return;
            }
            L4::Icmp(m) => (m.echo.map(|e| e.0), m.echo.map(|e| e.0)),
            _ => (None, None),
        };
        let src = Endpoint {
            address: ip.src,
            port: sport,
        };
        let dst = Endpoint {
            address: ip.dst,
            port: dport,
        };
        let k = key(ip.protocol, src, dst);
        let order = self.flows.len();
        if !self.flows.contains_key(&k) && self.flows.len() >= MAX_FLOWS {
            self.dropped_flows += 1;
            return;
        }
        let tr = self.flows.entry(k).or_insert_with(|| {
            let (client, server) = pick_client(d, src, dst);
            Track::new(ip.protocol, v6, client, server, t, order)
        });
        tr.last = tr.last.max(t);
        // Echo replies go back to the client even when both ends share an address (loopback).
        let dir = match d.l4 {
            L4::Icmp(m) if m.echo.is_some() => {
                usize::from(matches!((m.v6, m.ty), (false, 0) | (true, 129)))
            }
            _ => usize::from(src != tr.client),
        };
        let side = &mut tr.sides[dir];
        side.packets += 1;
        side.bytes += u64::from(wire_len);
        match d.l4 {
            L4::Tcp(s) => tcp(tr, dir, t, &s),
            L4::Udp { len, .. } => tr.sides[dir].payload += u64::from(len),
            L4::Icmp(m) => tr.sides[dir].payload += u64::from(m.len),
            _ => {}
        }
    }

    /// An ICMP error: attached to the flow whose packet it quotes (created if the flow's own packets were not
    /// captured).
    fn icmp_error(&mut self, t: f64, from: IpAddr, m: &super::decode::IcmpMsg) {
        let Some(q) = m.quoted else { return };
        let src = Endpoint {
            address: q.src,
            port: q.sport,
        };
        let dst = Endpoint {
            address: q.dst,
            port: q.dport,
        };
        let k = key(q.protocol, src, dst);
        let order = self.flows.len();
        if !self.flows.contains_key(&k) && self.flows.len() >= MAX_FLOWS {
            return;
        }
        let tr = self
            .flows
            .entry(k)
            .or_insert_with(|| Track::new(q.protocol, m.v6, src, dst, t, order));
        tr.last = tr.last.max(t);
        if tr.icmp.len() < 16 {
            tr.icmp.push(IcmpError {
                from,
                ty: m.ty,
                code: m.code,
                name: crate::explain::capture::icmp_name(m.v6, m.ty, m.code),
            });
        }
    }

    /// The flows in the order they were first seen, each with its verdict.
    pub fn finish(self) -> Vec<Flow> {
        let mut v: Vec<Track> = self.flows.into_values().collect();
        v.sort_by_key(|t| t.order);
        v.into_iter().map(conclude).collect()
    }
}

/// The client is who sent the SYN; without one, who sent the first packet, unless it came from the lower,
/// service-looking port to a higher one.
fn pick_client(d: &Decoded, src: Endpoint, dst: Endpoint) -> (Endpoint, Endpoint) {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    let flip = match d.l4 {
        L4::Tcp(s) if s.flags & SYN != 0 => s.flags & ACK != 0,
        L4::Tcp(s) => s.sport < s.dport && s.sport < 49152,
        L4::Udp { sport, dport, .. } => sport < 1024 && dport >= 1024,
        L4::Icmp(m) => matches!((m.v6, m.ty), (false, 0) | (true, 129)),
        _ => false,
    };
    if flip {
        (dst, src)
    } else {
        (src, dst)
    }
}

fn tcp(tr: &mut Track, dir: usize, t: f64, s: &super::decode::TcpSeg) {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    let syn = s.flags & SYN != 0;
    let fin = s.flags & FIN != 0;
    let rst = s.flags & RST != 0;
    let ack = s.flags & ACK != 0;
    let other = 1 - dir;
    tr.handshake(dir, t, syn, ack);
    if rst {
        let total = tr.sides[0].packets + tr.sides[1].packets;
        let side = &mut tr.sides[dir];
        if side.rst.is_none() {
            side.rst = Some(t);
            side.packets_before_rst = total.saturating_sub(1);
        }
        return;
    }
    if fin && tr.sides[dir].fin.is_none() {
        tr.sides[dir].fin = Some(t);
    }
    let side = &mut tr.sides[dir];
    side.sequence(s, t, syn, fin);
    if !syn {
        side.window(s.win, t);
    }
    // Duplicate ACK: nothing new, same ACK and window, while the other side has data outstanding.
    if ack && s.len == 0 && !syn && !fin {
        let outstanding = tr.sides[other].next_seq.is_some_and(|n| before(s.ack, n));
        let side = &mut tr.sides[dir];
        if side.last_ack == Some(s.ack) && side.last_win == Some(s.win) && s.win != 0 && outstanding
        {
            side.dup_acks += 1;
        }
    }
    if ack {
        if let Some(x) = tr.sides[other].acked(s.ack, t) {
            if tr.rtt.len() < 10_000 {
                tr.rtt.push(x);
            }
        }
    }
    let side = &mut tr.sides[dir];
    side.last_ack = Some(s.ack);
    side.last_win = Some(s.win);
}

impl Track {
    /// The handshake's times (SYN, SYN-ACK, the ACK that completes it) and its RTT sample.
    fn handshake(&mut self, dir: usize, t: f64, syn: bool, ack: bool) {
        if syn {
            self.sides[dir].syns += 1;
            if dir == 0 && !ack && self.syn.is_none() {
                self.syn = Some(t);
            }
            if dir == 1 && ack && self.syn_ack.is_none() {
                self.syn_ack = Some(t);
                if let Some(s0) = self.syn {
                    self.rtt.push(t - s0);
                }
            }
        } else if dir == 0 && ack && self.syn_ack.is_some() && self.ack.is_none() {
            self.ack = Some(t);
        }
    }
}

impl Side {
    /// A segment's sequence space: payload, data segments, retransmissions, the next sequence number expected
    /// and the segments in flight for RTT samples.
    fn sequence(&mut self, s: &super::decode::TcpSeg, t: f64, syn: bool, fin: bool) {
        let seg = s.len + u32::from(syn) + u32::from(fin);
        self.payload += u64::from(s.len);
        // Retransmission: sequence space sent again (a keep-alive or window probe, one byte below, is not).
        let mut retransmitted = false;
        if let Some(next) = self.next_seq {
            let keepalive = s.len <= 1 && !syn && !fin && s.seq == next.wrapping_sub(1);
            if seg > 0 && before(s.seq, next) && !keepalive && !syn {
                self.retrans += 1;
                self.in_flight.clear();
                retransmitted = true;
            }
        }
        if s.len > 0 && !retransmitted {
            self.data_segments += 1;
        }
        let end = s.seq.wrapping_add(seg);
        if seg > 0 {
            match self.next_seq {
                Some(n) if !before(n, end) => {}
                _ => {
                    self.next_seq = Some(end);
                    if !retransmitted && !syn && self.in_flight.len() < 1024 {
                        self.in_flight.push_back((end, t));
                    }
                }
            }
        } else if self.next_seq.is_none() {
            self.next_seq = Some(s.seq);
        }
    }

    /// Zero window: the receiver has no room; a later non-zero window from the same side ends the period.
    fn window(&mut self, win: u16, t: f64) {
        if win == 0 {
            if self.zero_since.is_none() {
                self.zero_since = Some(t);
                self.zero_events += 1;
            }
        } else if let Some(since) = self.zero_since.take() {
            self.zero_longest = self.zero_longest.max(t - since);
            self.zero_total += t - since;
        }
    }

    /// An ACK from the other side up to `ack`: the segments it covers leave the flight; the RTT sample is the
    /// newest of them (none when they were retransmitted, as the flight was cleared then).
    fn acked(&mut self, ack: u32, t: f64) -> Option<f64> {
        let mut sample = None;
        while let Some(&(e, sent)) = self.in_flight.front() {
            if before(ack, e) {
                break;
            }
            sample = Some(t - sent);
            self.in_flight.pop_front();
        }
        sample
    }
}

fn dur(s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(s.max(0.0))
}

fn conclude(mut tr: Track) -> Flow {
    // Zero-window periods still open at the end last until the flow's last packet.
    let mut still_zero = [false; 2];
    for (i, side) in tr.sides.iter_mut().enumerate() {
        if let Some(since) = side.zero_since {
            side.zero_longest = side.zero_longest.max(tr.last - since);
            side.zero_total += tr.last - since;
            still_zero[i] = true;
        }
    }
    let protocol = match (tr.protocol, tr.v6) {
        (6, _) => "tcp".to_string(),
        (17, _) => "udp".to_string(),
        (1, _) => "icmp".to_string(),
        (58, _) => "icmp6".to_string(),
        (132, _) => "sctp".to_string(),
        (p, _) => format!("ip-{p}"),
    };
    let explanation = verdict(&tr, &protocol, still_zero);
    let [c, s] = &tr.sides;
    let who = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(a), Some(b)) if a <= b => Some("client, server".to_string()),
        (Some(_), Some(_)) => Some("server, client".to_string()),
        (Some(_), None) => Some("client".to_string()),
        (None, Some(_)) => Some("server".to_string()),
        (None, None) => None,
    };
    let mut rtt = tr.rtt.clone();
    rtt.sort_by(|a, b| a.total_cmp(b));
    let handshake =
        (tr.protocol == 6 && (tr.syn.is_some() || tr.syn_ack.is_some())).then(|| Handshake {
            syns: c.syns,
            syn_ack: tr.syn.zip(tr.syn_ack).map(|(a, b)| dur(b - a)),
            ack: tr.syn.zip(tr.ack).map(|(a, b)| dur(b - a)),
        });
    Flow {
        protocol,
        client: tr.client,
        server: tr.server,
        packets_sent: c.packets,
        packets_received: s.packets,
        bytes_sent: c.bytes,
        bytes_received: s.bytes,
        start: tr.first,
        duration: dur(tr.last - tr.first),
        handshake,
        rtt: rtt.get(rtt.len() / 2).map(|x| dur(*x)),
        retransmissions: c.retrans + s.retrans,
        dup_acks: c.dup_acks + s.dup_acks,
        zero_window_events: c.zero_events + s.zero_events,
        zero_window: dur(c.zero_total + s.zero_total),
        fin_from: who(c.fin, s.fin),
        rst_from: who(c.rst, s.rst),
        icmp_errors: tr.icmp.clone(),
        state: explanation.code.clone(),
        explanation,
    }
}

fn verdict(tr: &Track, protocol: &str, still_zero: [bool; 2]) -> Explanation {
    use explain::capture as x;
    let [c, s] = &tr.sides;
    let answered_at_all = match tr.protocol {
        6 => tr.syn_ack.is_some() || (tr.syn.is_none() && s.packets > 0),
        _ => s.packets > 0,
    };
    if let (Some(e), false) = (tr.icmp.first(), answered_at_all) {
        return x::icmp_rejected(tr.v6, e.ty, e.code, e.from, protocol, tr.server.port);
    }
    match tr.protocol {
        6 => {
            let port = tr.server.port.unwrap_or(0);
            if let (Some(syn), None) = (tr.syn, tr.syn_ack) {
                if let Some(r) = s.rst {
                    return x::tcp_refused(port, r - syn);
                }
                if s.packets == 0 {
                    let last = tr.last - syn;
                    return x::tcp_no_answer(c.syns, last, port);
                }
            }
            // The receiver whose window stayed 0 longest, if it lasted long enough to matter.
            let zw = [(c, "client", still_zero[0]), (s, "server", still_zero[1])]
                .into_iter()
                .max_by(|a, b| a.0.zero_longest.total_cmp(&b.0.zero_longest));
            if let Some((side, name, still)) = zw {
                if side.zero_events > 0 && (side.zero_longest >= 0.2 || still) {
                    return x::tcp_zero_window(name, side.zero_longest, still);
                }
            }
            match (c.rst, s.rst) {
                (Some(a), Some(b)) if a <= b => {
                    return x::tcp_reset("client", c.packets_before_rst)
                }
                (Some(_), None) => return x::tcp_reset("client", c.packets_before_rst),
                (_, Some(_)) => return x::tcp_reset("server", s.packets_before_rst),
                _ => {}
            }
            let retrans = c.retrans + s.retrans;
            if retrans > 0 {
                return x::tcp_retransmissions(
                    retrans,
                    c.data_segments + s.data_segments + retrans,
                    c.dup_acks + s.dup_acks,
                );
            }
            match (c.fin, s.fin) {
                (Some(a), Some(b)) => x::tcp_completed(
                    if a <= b { "client" } else { "server" },
                    c.payload + s.payload,
                ),
                _ if tr.syn.is_none() && tr.syn_ack.is_none() => x::tcp_mid_stream(),
                _ => x::tcp_open(),
            }
        }
        17 => {
            if s.packets > 0 {
                x::answered(c.packets, s.packets, "datagrams")
            } else {
                x::no_reply(
                    c.packets,
                    "datagrams",
                    &format!("to port {}", tr.server.port.unwrap_or(0)),
                )
            }
        }
        1 | 58 if tr.client.port.is_some() => {
            if s.packets > 0 {
                x::answered(c.packets, s.packets, "echo requests")
            } else {
                x::no_reply(
                    c.packets,
                    "echo requests",
                    &format!("to {}", tr.server.address),
                )
            }
        }
        _ => x::seen(protocol),
    }
}
