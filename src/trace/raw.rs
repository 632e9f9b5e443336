//! The privileged prober: probes written whole (ICMP echo, UDP, TCP SYN) on raw sockets of the shared net
//! layer, so every flow field is ours to choose, and answers read from a raw ICMP socket (time exceeded,
//! unreachables, echo replies) and, for TCP, a raw TCP socket that a socket filter limits to segments from
//! the target's port.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};

use socket2::Socket;

use crate::net::icmp::{IcmpKind, IcmpOptions, IcmpSocket};
use crate::net::poll::Interest;
use crate::net::raw::{RawProtocol, RawSocket};
use crate::net::{filter, sockopt, OpenError};

use super::engine::{Heard, Prober, Stamp};
use super::flow::{FlowPlan, ProbeSpec};
use super::hops::ReplyKind;
use super::model::Protocol;
use super::wire::{self, IcmpMessage};

/// Largest packet read.
const RECV_MAX: usize = 65_536;

pub struct RawProber {
    plan: FlowPlan,
    v6: bool,
    /// Sends ICMP probes; hears every ICMP answer.
    icmp: IcmpSocket,
    /// Sends UDP or TCP probes; for TCP also hears the target's SYN-ACK or RST.
    l4: Option<RawSocket>,
    /// Ordinary sockets bound to our source ports, so no other program is given them while we trace.
    _reserved: Vec<Socket>,
    buf: Vec<u8>,
}

/// Opens the raw sockets for `plan`; `NotPermitted` without root or CAP_NET_RAW.
pub fn open(plan: FlowPlan, reserved: Vec<Socket>) -> Result<RawProber, OpenError> {
    let v6 = plan.dst.is_ipv6();
    let icmp = IcmpSocket::open_kind(v6, IcmpKind::Raw, &IcmpOptions::echo(v6))?;
    let other = OpenError::Other;
    let l4 = match plan.protocol {
        Protocol::Icmp => {
            bind_source(icmp.socket(), plan.src).map_err(other)?;
            None
        }
        Protocol::Udp | Protocol::Tcp => {
            let proto = if plan.protocol == Protocol::Udp {
                RawProtocol::Udp
            } else {
                RawProtocol::Tcp
            };
            let s = RawSocket::open(v6, proto)?;
            bind_source(s.socket(), plan.src).map_err(other)?;
            if plan.protocol == Protocol::Udp {
                // Send-only: drop every UDP datagram the kernel would copy to it.
                filter::attach(&s, &filter::accept_all(0)).map_err(other)?;
            } else {
                filter::attach(&s, &from_port_filter(v6, plan.dport)).map_err(other)?;
                let _ = sockopt::set_timestamps(&s, true);
                sockopt::grow_recv_buffer(&s, 1 << 20);
            }
            Some(s)
        }
    };
    // Path-MTU probing: DF set, the size asked for sent as is (a "fragmentation needed" then names the MTU).
    let sender: &Socket = l4.as_ref().map_or(icmp.socket(), |s| s.socket());
    let _ = sockopt::set_pmtu_discovery(sender, v6, sockopt::PmtuDiscovery::Probe);
    Ok(RawProber {
        plan,
        v6,
        icmp,
        l4,
        _reserved: reserved,
        buf: vec![0; RECV_MAX],
    })
}

/// Binds a raw socket to the source address the checksums were computed with.
fn bind_source(s: &Socket, src: IpAddr) -> io::Result<()> {
    s.bind(&SocketAddr::new(src, 0).into())
}

/// A classic BPF program accepting TCP segments whose source port is `port`. Raw IPv4 sockets see the IP
/// header first (its length from the IHL nibble); raw IPv6 sockets see the TCP header first.
fn from_port_filter(v6: bool, port: u16) -> Vec<libc::sock_filter> {
    let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut prog = Vec::new();
    if v6 {
        prog.push(op(libc::BPF_LD | libc::BPF_H | libc::BPF_ABS, 0, 0, 0));
    } else {
        // X = 4 * (ip[0] & 0xf); A = ip[X + 0]
        prog.push(op(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, 0, 0, 0));
        prog.push(op(libc::BPF_LD | libc::BPF_H | libc::BPF_IND, 0, 0, 0));
    }
    prog.push(op(
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        0,
        1,
        u32::from(port),
    ));
    prog.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, 0xffff));
    prog.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, 0));
    prog
}

impl RawProber {
    fn hear_icmp(&self, len: usize, from: Option<IpAddr>, at: Stamp, heard: &mut Vec<Heard>) {
        match wire::parse_icmp(&self.buf[..len], self.v6) {
            Some(IcmpMessage::EchoReply {
                id,
                seq,
                from: hdr_from,
                ..
            }) => {
                if let (Some(seq), Some(from)) =
                    (self.plan.match_echo_reply(id, seq), hdr_from.or(from))
                {
                    heard.push(Heard {
                        seq,
                        from,
                        kind: ReplyKind::EchoReply,
                        at,
                        mpls: Vec::new(),
                        mtu: None,
                    });
                }
            }
            Some(IcmpMessage::Error(e)) => {
                let (Some(seq), Some(from)) = (self.plan.match_quoted(&e.quoted), e.from.or(from))
                else {
                    return;
                };
                heard.push(Heard {
                    seq,
                    from,
                    kind: error_kind(e.v6, e.icmp_type, e.code),
                    at,
                    mpls: e.mpls,
                    mtu: e.mtu,
                });
            }
            None => {}
        }
    }
}

/// The reply kind of an ICMP error by type and code.
pub fn error_kind(v6: bool, icmp_type: u8, code: u8) -> ReplyKind {
    let exceeded = if v6 {
        wire::ICMP6_TIME_EXCEEDED
    } else {
        wire::ICMP_TIME_EXCEEDED
    };
    if icmp_type == exceeded && code == 0 {
        ReplyKind::TimeExceeded
    } else {
        ReplyKind::Error {
            v6,
            icmp_type,
            code,
        }
    }
}

impl Prober for RawProber {
    fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
        let pkt = self.plan.raw_packet(p);
        let at = Stamp::now();
        match &self.l4 {
            Some(s) => {
                s.set_hop_limit(p.ttl)?;
                s.send_to(&pkt, self.plan.dst)?;
            }
            None => {
                self.icmp.set_hop_limit(p.ttl)?;
                self.icmp
                    .send_to(&pkt, std::net::SocketAddr::new(self.plan.dst, 0))?;
            }
        }
        Ok(at)
    }

    fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
        let mut v = vec![(self.icmp.as_fd(), Interest::Readable)];
        if let (Some(s), Protocol::Tcp) = (&self.l4, self.plan.protocol) {
            v.push((s.as_fd(), Interest::Readable));
        }
        v
    }

    fn receive(&mut self, _ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()> {
        // Drain both sockets (bounded: a flood cannot keep us here).
        for _ in 0..4096 {
            match self.icmp.recv(&mut self.buf) {
                Ok(r) => {
                    let at = Stamp::received(r.timestamp);
                    self.hear_icmp(r.len, r.from.map(|a| a.ip()), at, heard);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let Some(tcp) = self
            .l4
            .as_ref()
            .filter(|_| self.plan.protocol == Protocol::Tcp)
        else {
            return Ok(());
        };
        for _ in 0..4096 {
            match tcp.recv(&mut self.buf) {
                Ok(r) => {
                    let Some(seg) = wire::parse_tcp(&self.buf[..r.len], self.v6) else {
                        continue;
                    };
                    let Some(from) = seg.from.or(r.from.map(|a| a.ip())) else {
                        continue;
                    };
                    if let Some(seq) = self.plan.match_tcp(&seg, from) {
                        let kind = if seg.flags & wire::TCP_RST != 0 {
                            ReplyKind::Rst
                        } else {
                            ReplyKind::SynAck
                        };
                        heard.push(Heard {
                            seq,
                            from,
                            kind,
                            at: Stamp::received(r.timestamp),
                            mpls: Vec::new(),
                            mtu: None,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
