//! The unprivileged probers, as tracepath works: ordinary sockets with a TTL set per probe and the error queue
//! (IP_RECVERR) on which the kernel hands back each ICMP error about our packets, with the router that sent
//! it, the type and code, and the part of our probe it quoted.
//!
//! - ICMP: the datagram "ping" socket, where `net.ipv4.ping_group_range` allows it. The kernel owns the echo
//!   identifier; replies come on the socket, errors on its error queue.
//! - UDP: one socket per flow; the probe is named by the mark at the start of its payload, which routers
//!   quote, or (classic mode, for routers that quote only 8 bytes) by its destination port.
//! - TCP: a non-blocking connect per probe with the TTL set: a router's time exceeded aborts it and lands on
//!   its error queue, the target's SYN-ACK completes it, a RST refuses it. Each connect needs its own source
//!   port, so one trace cannot keep one TCP flow across TTLs without raw sockets; the port of each TTL is kept
//!   from round to round instead.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use socket2::{SockAddr, Socket};

use crate::net::icmp::{IcmpKind, IcmpOptions, IcmpSocket};
use crate::net::poll::Interest;
use crate::net::{errqueue, msg};
use crate::net::{socket, sockopt, OpenError};

use super::engine::{Heard, Prober, Stamp};
use super::flow::{FlowPlan, ProbeSpec};
use super::hops::ReplyKind;
use super::model::Ecmp;
use super::raw::error_kind;
use super::wire::{self, IcmpMessage};

const RECV_MAX: usize = 65_536;

/// IP_RECVERR_RFC4884 / IPV6_RECVERR_RFC4884 (Linux 5.9): the kernel reports where an RFC 4884 extension
/// structure starts in a queued error's payload.
const IP_RECVERR_RFC4884: i32 = 26;
const IPV6_RECVERR_RFC4884: i32 = 31;

fn ask_rfc4884(s: &impl AsFd, v6: bool) {
    let _ = if v6 {
        sockopt::set_int(s, libc::IPPROTO_IPV6, IPV6_RECVERR_RFC4884, 1)
    } else {
        sockopt::set_int(s, libc::IPPROTO_IP, IP_RECVERR_RFC4884, 1)
    };
}

/// Where the kernel said an extension structure starts (`ee_data` holds `struct sock_ee_data_rfc4884`,
/// whose first field is the offset).
fn rfc4884_offset(e: &errqueue::ExtendedError) -> Option<usize> {
    let b = e.data.to_ne_bytes();
    let len = u16::from_ne_bytes([b[0], b[1]]);
    (len > 0).then_some(usize::from(len))
}

fn ip_header_len(v6: bool) -> usize {
    if v6 {
        wire::IPV6_HEADER
    } else {
        wire::IPV4_HEADER
    }
}

/// What a queued ICMP error means for a probe: who sent it and of what kind.
fn queued(e: &errqueue::ExtendedError) -> Option<(IpAddr, ReplyKind)> {
    if !e.is_icmp() {
        return None;
    }
    let v6 = e.origin == errqueue::Origin::Icmp6;
    Some((e.offender?, error_kind(v6, e.icmp_type, e.icmp_code)))
}

/// Sends with `send`, stamped. An ICMP error about an earlier probe leaves its errno pending on the socket
/// (besides queueing it), and the next send returns that errno instead of sending; the call clears it, so the
/// send is tried again. An error that comes back three times is the send's own.
fn send_past_pending(mut send: impl FnMut() -> io::Result<usize>) -> io::Result<Stamp> {
    let mut last = None;
    for _ in 0..3 {
        let at = Stamp::now();
        match send() {
            Ok(_) => return Ok(at),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::Interrupted)))
}

/// The datagram ICMP ("ping") socket prober.
pub struct DgramIcmpProber {
    plan: FlowPlan,
    sock: IcmpSocket,
    buf: Vec<u8>,
}

/// Opens a datagram ICMP socket; `NotPermitted` when `ping_group_range` leaves this process out. The plan's
/// identifier becomes the kernel's.
pub fn open_dgram_icmp(mut plan: FlowPlan) -> Result<DgramIcmpProber, OpenError> {
    let v6 = plan.dst.is_ipv6();
    let sock = IcmpSocket::open_kind(v6, IcmpKind::Datagram, &IcmpOptions::echo(v6))?;
    plan.icmp_id = sock.ident().unwrap_or(0);
    ask_rfc4884(&sock, v6);
    let _ = sockopt::set_pmtu_discovery(&sock, v6, sockopt::PmtuDiscovery::Probe);
    Ok(DgramIcmpProber {
        plan,
        sock,
        buf: vec![0; RECV_MAX],
    })
}

impl DgramIcmpProber {
    /// The echo identifier the kernel gave the socket.
    pub fn ident(&self) -> u16 {
        self.plan.icmp_id
    }
}

impl Prober for DgramIcmpProber {
    fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
        let pkt = self.plan.echo_request(p);
        self.sock.set_hop_limit(p.ttl)?;
        send_past_pending(|| {
            self.sock
                .send_to(&pkt, std::net::SocketAddr::new(self.plan.dst, 0))
        })
    }

    fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
        vec![(self.sock.as_fd(), Interest::Readable)]
    }

    fn receive(&mut self, _ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()> {
        let v6 = self.plan.dst.is_ipv6();
        for _ in 0..4096 {
            match self.sock.recv(&mut self.buf) {
                Ok(r) => {
                    if let Some(IcmpMessage::EchoReply { id, seq, .. }) =
                        wire::parse_icmp_from(&self.buf[..r.len], v6, false)
                    {
                        if let (Some(seq), Some(from)) =
                            (self.plan.match_echo_reply(id, seq), r.from.map(|a| a.ip()))
                        {
                            heard.push(Heard {
                                seq,
                                from,
                                kind: ReplyKind::EchoReply,
                                at: Stamp::received(r.timestamp),
                                mpls: Vec::new(),
                                mtu: None,
                            });
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An error-queue entry makes the plain read fail with its errno: read the queue below.
                Err(_) => break,
            }
        }
        for _ in 0..4096 {
            let Some(r) = self.sock.recv_error(&mut self.buf)? else {
                break;
            };
            let Some(e) = r.error else { continue };
            let Some((from, kind)) = queued(&e) else {
                continue;
            };
            // The payload is our echo request, ICMP header first.
            let payload = &self.buf[..r.len];
            let Some(wire::ProbeFields::Echo { id, seq, .. }) = wire::probe_fields(
                if v6 {
                    wire::PROTO_ICMPV6
                } else {
                    wire::PROTO_ICMP
                },
                payload,
                v6,
            ) else {
                continue;
            };
            if id != self.plan.icmp_id {
                continue;
            }
            heard.push(Heard {
                seq,
                from,
                kind,
                at: Stamp::received(r.timestamp),
                mpls: wire::queued_extensions(payload, rfc4884_offset(&e), ip_header_len(v6)),
                mtu: e.mtu(),
            });
        }
        Ok(())
    }
}

/// The UDP sockets prober.
pub struct UdpProber {
    plan: FlowPlan,
    /// One socket per flow.
    socks: Vec<Socket>,
    /// Classic mode: destination port → the probe in flight to it.
    by_port: HashMap<u16, u16>,
    buf: Vec<u8>,
}

/// Opens one UDP socket per flow, bound to the plan's source ports (or ports the kernel picks, which the plan
/// then records).
pub fn open_udp(mut plan: FlowPlan, fixed_sport: bool) -> io::Result<UdpProber> {
    let v6 = plan.dst.is_ipv6();
    let mut socks = Vec::new();
    for flow in 0..plan.flows {
        let s = socket::udp_socket(v6)?;
        let port = if fixed_sport {
            plan.sport.wrapping_add(flow)
        } else {
            0
        };
        s.bind(&SocketAddr::new(plan.src, port).into())
            .map_err(|e| {
                io::Error::new(e.kind(), format!("binding UDP source port {port}: {e}"))
            })?;
        errqueue::enable(&s, v6)?;
        ask_rfc4884(&s, v6);
        let _ = sockopt::set_timestamps(&s, true);
        let _ = sockopt::set_pmtu_discovery(&s, v6, sockopt::PmtuDiscovery::Probe);
        if flow == 0 && !fixed_sport {
            plan.sport = socket::local_port(&s).unwrap_or(0);
        }
        socks.push(s);
    }
    Ok(UdpProber {
        plan,
        socks,
        by_port: HashMap::new(),
        buf: vec![0; RECV_MAX],
    })
}

impl UdpProber {
    /// The source port of each flow's socket (the kernel's choice when none was asked for).
    pub fn ports(&self) -> Vec<u16> {
        self.socks
            .iter()
            .map(|s| socket::local_port(s).unwrap_or(0))
            .collect()
    }
}

impl Prober for UdpProber {
    fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
        let v6 = self.plan.dst.is_ipv6();
        let s = &self.socks[usize::from(p.flow).min(self.socks.len() - 1)];
        let dport = self.plan.dport(p);
        let payload = wire::udp_payload(p.seq, self.plan.token, self.plan.payload_len);
        sockopt::set_hop_limit(s, v6, p.ttl)?;
        let to: SockAddr = SocketAddr::new(self.plan.dst, dport).into();
        let at = send_past_pending(|| s.send_to(&payload, &to))?;
        if self.plan.ecmp == Ecmp::Classic {
            self.by_port.insert(dport, p.seq);
        }
        Ok(at)
    }

    fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
        self.socks
            .iter()
            .map(|s| (s.as_fd(), Interest::Readable))
            .collect()
    }

    fn receive(&mut self, ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()> {
        let v6 = self.plan.dst.is_ipv6();
        for (i, s) in self.socks.iter().enumerate() {
            if !ready.get(i).copied().unwrap_or(true) {
                continue;
            }
            // Data from the target (a service answered on that port): not a probe answer we can name.
            for _ in 0..4096 {
                if msg::recv(s, &mut self.buf).is_err() {
                    break;
                }
            }
            for _ in 0..4096 {
                let Some(r) = errqueue::read_into(s, &mut self.buf)? else {
                    break;
                };
                let Some(e) = r.error else { continue };
                let Some((from, kind)) = queued(&e) else {
                    continue;
                };
                let Some(dst) = r.from.filter(|d| d.ip() == self.plan.dst) else {
                    continue;
                };
                let payload = &self.buf[..r.len];
                let seq = match wire::read_mark(payload) {
                    Some((seq, token)) if token == self.plan.token => Some(seq),
                    Some(_) => None,
                    // A router that quoted only the UDP header: the destination port names the probe
                    // (classic mode, where each probe has its own).
                    None => self.by_port.get(&dst.port()).copied(),
                };
                let Some(seq) = seq else { continue };
                heard.push(Heard {
                    seq,
                    from,
                    kind,
                    at: Stamp::received(r.timestamp),
                    mpls: wire::queued_extensions(
                        payload,
                        rfc4884_offset(&e),
                        ip_header_len(v6) + 8,
                    ),
                    mtu: e.mtu(),
                });
            }
        }
        Ok(())
    }

    fn forget(&mut self, seq: u16) {
        if self.plan.ecmp == Ecmp::Classic {
            self.by_port.retain(|_, s| *s != seq);
        }
    }
}

/// One TCP connect in flight.
struct Attempt {
    sock: Socket,
}

/// The TCP connect prober.
pub struct TcpConnectProber {
    plan: FlowPlan,
    attempts: HashMap<u16, Attempt>,
    /// Paris and dublin: the source port each (flow, TTL) used, tried again next round.
    ports: HashMap<(u16, u8), u16>,
    /// The probes in flight in `wait_list` order, to map readiness back.
    order: Vec<u16>,
    buf: Vec<u8>,
}

pub fn open_tcp(plan: FlowPlan) -> TcpConnectProber {
    TcpConnectProber {
        plan,
        attempts: HashMap::new(),
        ports: HashMap::new(),
        order: Vec::new(),
        buf: vec![0; 4096],
    }
}

impl TcpConnectProber {
    /// A socket with the probe's TTL, connecting; stamped just before the SYN goes.
    fn start(&self, p: &ProbeSpec) -> io::Result<(Socket, Stamp)> {
        let v6 = self.plan.dst.is_ipv6();
        let s = socket::tcp_socket(v6)?;
        errqueue::enable(&s, v6)?;
        ask_rfc4884(&s, v6);
        let _ = sockopt::set_timestamps(&s, true);
        sockopt::set_hop_limit(&s, v6, p.ttl)?;
        let keep = self.plan.ecmp != Ecmp::Classic;
        // --source-port: each (flow, TTL) its own port from there on.
        let fixed = (self.plan.sport != 0).then(|| {
            self.plan
                .sport
                .wrapping_add(p.flow.wrapping_mul(256) + u16::from(p.ttl) - 1)
        });
        let port = match (keep, fixed) {
            (_, Some(port)) => port,
            (true, None) => self.ports.get(&(p.flow, p.ttl)).copied().unwrap_or(0),
            (false, None) => 0,
        };
        if port != 0 {
            let _ = s.set_reuse_address(true);
            // Taken meanwhile (an earlier round's connect to it still open): any port will do.
            if s.bind(&SocketAddr::new(self.plan.src, port).into())
                .is_err()
            {
                s.bind(&SocketAddr::new(self.plan.src, 0).into())?;
            }
        } else {
            s.bind(&SocketAddr::new(self.plan.src, 0).into())?;
        }
        let dst: SockAddr = SocketAddr::new(self.plan.dst, self.plan.dport).into();
        let at = Stamp::now();
        match socket::connect(&s, &dst) {
            Ok(_) => Ok((s, at)),
            // Refused at once (the target on this machine): the answer comes from poll.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNREFUSED)) => Ok((s, at)),
            Err(e) => Err(e),
        }
    }
}

impl Prober for TcpConnectProber {
    fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
        let (s, at) = self.start(p)?;
        if self.plan.ecmp != Ecmp::Classic {
            if let Some(port) = socket::local_port(&s) {
                self.ports.insert((p.flow, p.ttl), port);
            }
        }
        self.attempts.insert(p.seq, Attempt { sock: s });
        self.order.push(p.seq);
        Ok(at)
    }

    fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
        self.order
            .iter()
            .filter_map(|seq| self.attempts.get(seq))
            .map(|a| (a.sock.as_fd(), Interest::Writable))
            .collect()
    }

    fn receive(&mut self, ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()> {
        let v6 = self.plan.dst.is_ipv6();
        let fired: Vec<u16> = self
            .order
            .iter()
            .zip(ready.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, r)| **r)
            .map(|(s, _)| *s)
            .collect();
        for seq in fired {
            let Some(a) = self.attempts.get(&seq) else {
                continue;
            };
            // An ICMP error about the SYN: time exceeded from a router, or an unreachable.
            if let Some(r) = errqueue::read_into(&a.sock, &mut self.buf)? {
                let at = Stamp::received(r.timestamp);
                if let Some((from, kind)) = r.error.as_ref().and_then(queued) {
                    let e = r.error.as_ref().map(|e| (rfc4884_offset(e), e.mtu()));
                    let (off, mtu) = e.unwrap_or((None, None));
                    let payload = &self.buf[..r.len.min(self.buf.len())];
                    heard.push(Heard {
                        seq,
                        from,
                        kind,
                        at,
                        mpls: wire::queued_extensions(payload, off, ip_header_len(v6)),
                        mtu,
                    });
                    let _ = a.sock.take_error();
                    continue;
                }
            }
            let at = Stamp::now();
            let kind = match a.sock.take_error()? {
                None => match a.sock.peer_addr() {
                    Ok(_) => Some(ReplyKind::SynAck),
                    Err(_) => None,
                },
                Some(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Some(ReplyKind::Rst),
                // Another local error (no route, ...) with nothing queued: no answer to show.
                Some(_) => None,
            };
            if let Some(kind) = kind {
                heard.push(Heard {
                    seq,
                    from: self.plan.dst,
                    kind,
                    at,
                    mpls: Vec::new(),
                    mtu: None,
                });
            }
        }
        Ok(())
    }

    fn forget(&mut self, seq: u16) {
        if let Some(a) = self.attempts.remove(&seq) {
            // A completed handshake is reset, not closed: the server sees no half-open connection linger.
            let _ = a.sock.set_linger(Some(Duration::ZERO));
            self.order.retain(|s| *s != seq);
        }
    }
}
