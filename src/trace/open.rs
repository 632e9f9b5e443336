//! Opening a trace's sockets: the source address toward the target, raw sockets when permitted (with the source
//! ports reserved), else the unprivileged method of the protocol, and the note that says which runs.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::net::OpenError;

use super::engine;
use super::flow::FlowPlan;
use super::model::{Ecmp, Method, Protocol, TraceError, TraceRequest, TCP_PORT, UDP_PORT};
use super::raw;
use super::sockets;

pub(super) enum OpenFail {
    /// No route from here (the route lookup failed): a result, not an error.
    NoRoute(io::Error),
    Fatal(TraceError),
}

impl From<io::Error> for OpenFail {
    fn from(e: io::Error) -> Self {
        OpenFail::Fatal(TraceError::Io(e))
    }
}

/// Opening the sockets for a trace.
pub(super) struct Open<'a> {
    pub(super) req: &'a TraceRequest,
    pub(super) dst: IpAddr,
    pub(super) port: Option<u16>,
    pub(super) protocol: Protocol,
    pub(super) payload_len: usize,
}

fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}

type Opened = (Box<dyn engine::Prober>, FlowPlan, Method, String);

impl Open<'_> {
    /// The source address the kernel picks toward the target (a UDP connect sends nothing).
    fn source(&self) -> Result<IpAddr, OpenFail> {
        let s = crate::net::socket::udp_socket(self.dst.is_ipv6())?;
        let to = SocketAddr::new(self.dst, self.port.unwrap_or(UDP_PORT));
        if let Err(e) = s.connect(&to.into()) {
            return Err(
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL)
                ) {
                    OpenFail::NoRoute(e)
                } else {
                    OpenFail::Fatal(e.into())
                },
            );
        }
        let local = s.local_addr()?.as_socket().map(|a| a.ip());
        local.ok_or_else(|| OpenFail::Fatal(io::Error::other("no local address").into()))
    }

    fn plan(&self, protocol: Protocol, src: IpAddr, token: u32) -> FlowPlan {
        let flows = if self.req.ecmp == Ecmp::Dublin {
            self.req.flows.max(1)
        } else {
            1
        };
        let dport = match protocol {
            Protocol::Icmp => 0,
            Protocol::Udp => self.port.unwrap_or(UDP_PORT),
            Protocol::Tcp => self.port.unwrap_or(TCP_PORT),
        };
        FlowPlan {
            protocol,
            ecmp: self.req.ecmp,
            flows,
            src,
            dst: self.dst,
            sport: self.req.source_port.unwrap_or(0),
            dport,
            icmp_id: (token ^ (token >> 16)) as u16,
            token,
            payload_len: self.payload_len,
        }
    }

    /// Opens the sockets: raw when permitted (and not declined), else the unprivileged method of the protocol.
    /// `may_switch`: ICMP was not asked for by name, so UDP may replace it when ICMP is not permitted.
    pub(super) fn prober(&mut self, may_switch: bool) -> Result<Opened, OpenFail> {
        let src = self.source()?;
        let token = random_u32();
        if !self.req.unprivileged {
            if let Some(opened) = self.raw(src, token)? {
                return Ok(opened);
            }
        }
        self.unprivileged(src, token, may_switch)
    }

    /// Raw sockets, or None when this process may not open them.
    fn raw(&self, src: IpAddr, token: u32) -> Result<Option<Opened>, OpenFail> {
        let mut plan = self.plan(self.protocol, src, token);
        let reserved = reserve_ports(&mut plan, self.req.source_port.is_some())?;
        match raw::open(plan.clone(), reserved) {
            Ok(p) => {
                let note = format!(
                    "raw sockets: {} probes written whole, {} flow{}",
                    self.protocol,
                    plan.ecmp.as_str(),
                    if plan.flows > 1 { "s" } else { "" }
                );
                Ok(Some((Box::new(p), plan, Method::Raw, note)))
            }
            Err(OpenError::NotPermitted(_)) => Ok(None),
            Err(OpenError::Other(e)) => Err(e.into()),
        }
    }

    /// The tracepath way: datagram ICMP, UDP sockets or TCP connects, each with the error queue. ICMP that is
    /// not permitted becomes UDP when `may_switch` (no protocol was asked for by name).
    fn unprivileged(
        &mut self,
        src: IpAddr,
        token: u32,
        may_switch: bool,
    ) -> Result<Opened, OpenFail> {
        let why = if self.req.unprivileged {
            "unprivileged (--unprivileged)"
        } else {
            "no raw socket permission"
        };
        let mut plan = self.plan(self.protocol, src, token);
        let mut switched = "";
        if self.protocol == Protocol::Icmp {
            match sockets::open_dgram_icmp(plan.clone()) {
                Ok(p) => {
                    plan.icmp_id = p.ident();
                    let note = format!(
                        "{why}: ICMP echo through a datagram ICMP socket (net.ipv4.ping_group_range) and its error queue"
                    );
                    return Ok((Box::new(p), plan, Method::DatagramIcmp, note));
                }
                Err(OpenError::NotPermitted(_)) if may_switch => {
                    self.protocol = Protocol::Udp;
                    plan = self.plan(Protocol::Udp, src, token);
                    switched = "ICMP is not permitted here (root, CAP_NET_RAW or net.ipv4.ping_group_range), so UDP: ";
                }
                Err(OpenError::NotPermitted(_)) => {
                    return Err(OpenFail::Fatal(TraceError::IcmpNotPermitted))
                }
                Err(OpenError::Other(e)) => return Err(e.into()),
            }
        }
        if self.protocol == Protocol::Udp {
            let p = sockets::open_udp(plan.clone(), self.req.source_port.is_some())?;
            plan.sport = p.ports().first().copied().unwrap_or(plan.sport);
            let note = format!(
                "{why}: {switched}UDP through ordinary sockets with the TTL set per probe and the error queue, as tracepath"
            );
            return Ok((Box::new(p), plan, Method::UdpSockets, note));
        }
        let mut note =
            format!("{why}: TCP connects with the TTL set per probe and the error queue");
        if plan.ecmp != Ecmp::Classic {
            note.push_str(
                "; each TTL keeps its own source port, so ECMP routers may put hops on different paths (root traces one flow)",
            );
        }
        // One socket per probe in flight: rounds that overlap (a short --interval with a long --timeout) need
        // many.
        let _ = crate::net::process::raise_nofile_limit();
        let p = sockets::open_tcp(plan.clone());
        Ok((Box::new(p), plan, Method::TcpConnect, note))
    }
}

/// Binds ordinary sockets to the source ports a raw trace uses, so no other program gets them meanwhile, and
/// records the first in the plan. Paris: one port; dublin: one per flow, consecutive; classic TCP cycles over
/// many ports and reserves none (as traceroute -T).
fn reserve_ports(plan: &mut FlowPlan, fixed: bool) -> Result<Vec<socket2::Socket>, OpenFail> {
    let v6 = plan.dst.is_ipv6();
    let mk = |port: u16| -> io::Result<socket2::Socket> {
        let s = match plan.protocol {
            Protocol::Tcp => crate::net::socket::tcp_socket(v6)?,
            _ => crate::net::socket::udp_socket(v6)?,
        };
        s.bind(&SocketAddr::new(plan.src, port).into())?;
        Ok(s)
    };
    match (plan.protocol, plan.ecmp) {
        (Protocol::Icmp, _) => Ok(Vec::new()),
        (Protocol::Tcp, Ecmp::Classic) => {
            if !fixed {
                plan.sport = 32768 + (plan.token % 27_000) as u16;
            }
            Ok(Vec::new())
        }
        _ => {
            let n = plan.flows.max(1);
            // A few tries for a run of free consecutive ports.
            for _ in 0..16 {
                let first = mk(if fixed { plan.sport } else { 0 })?;
                let base = crate::net::socket::local_port(&first).unwrap_or(plan.sport);
                let mut held = vec![first];
                for i in 1..n {
                    match mk(base.wrapping_add(i)) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                if held.len() == usize::from(n) {
                    plan.sport = base;
                    return Ok(held);
                }
                if fixed {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "source ports {base}-{} are not all free",
                            base.wrapping_add(n - 1)
                        ),
                    )
                    .into());
                }
            }
            Err(io::Error::new(io::ErrorKind::AddrInUse, "no run of free source ports").into())
        }
    }
}
