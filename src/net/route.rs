//! The kernel's routing decision and neighbour table over rtnetlink, as `ip route get` and `ip neigh` read
//! them: which interface a packet to an address leaves by, through which gateway, and the link-layer address of
//! that next hop. The SYN scanner builds whole Ethernet frames from these.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::netlink::{NetlinkSocket, ROUTE};

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
/// Neighbour states with a usable link-layer address: reachable, stale, delay, probe, noarp, permanent.
const NUD_VALID: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80;
/// RTN_LOCAL: the address is this host's own.
pub const RTN_LOCAL: u8 = 2;
/// RTN_UNICAST: a gateway or a directly connected destination.
pub const RTN_UNICAST: u8 = 1;

/// The route the kernel picks for a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The outgoing interface's index.
    pub interface: u32,
    /// The next hop when it is a router; None when the destination is on the link.
    pub gateway: Option<IpAddr>,
    /// The preferred source address.
    pub source: Option<IpAddr>,
    /// RTN_UNICAST, RTN_LOCAL, ...
    pub kind: u8,
}

impl Route {
    /// The address whose link-layer address the frames go to: the gateway, or the destination itself.
    pub fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.gateway.unwrap_or(dst)
    }
}

fn header(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set at the end
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
}

fn finish(buf: &mut [u8]) {
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

fn family(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// Walks the messages of one netlink datagram: (type, payload).
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let h = buf.get(off..off + 16)?;
        let len = u32::from_ne_bytes(h[..4].try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(h[4..6].try_into().ok()?);
        if len < 16 || off + len > buf.len() {
            return None;
        }
        let body = &buf[off + 16..off + len];
        off += len.next_multiple_of(4);
        Some((ty, body))
    })
}

/// Walks route attributes: (type, value).
fn attributes(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let h = buf.get(off..off + 4)?;
        let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
        let ty = u16::from_ne_bytes([h[2], h[3]]) & 0x3fff;
        if len < 4 || off + len > buf.len() {
            return None;
        }
        let v = &buf[off + 4..off + len];
        off += len.next_multiple_of(4);
        Some((ty, v))
    })
}

fn error_of(body: &[u8]) -> Option<io::Error> {
    let code = i32::from_ne_bytes(body.get(..4)?.try_into().ok()?);
    (code != 0).then(|| io::Error::from_raw_os_error(-code))
}

/// One rtnetlink socket for many questions.
pub struct Rtnl {
    nl: NetlinkSocket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        let nl = NetlinkSocket::open(ROUTE)?;
        nl.set_recv_timeout(Duration::from_secs(2))?;
        Ok(Rtnl {
            nl,
            seq: 0,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// The kernel's route to `dst` (`ip route get DST`).
    pub fn route(&mut self, dst: IpAddr) -> io::Result<Route> {
        self.seq += 1;
        route_on(&self.nl, &mut self.buf, dst, self.seq)
    }

    /// Every usable neighbour entry of interface `index` and family (reachable, stale, delay, probe, noarp,
    /// permanent): address and link-layer address.
    pub fn neighbours(&mut self, index: u32, v6: bool) -> io::Result<Vec<(IpAddr, Vec<u8>)>> {
        self.seq += 1;
        neighbours_on(&self.nl, &mut self.buf, index, v6, self.seq)
    }
}

/// The kernel's route to `dst` (`ip route get DST`).
pub fn get(dst: IpAddr) -> io::Result<Route> {
    Rtnl::open()?.route(dst)
}

/// The link-layer address the kernel's neighbour table holds for `addr` on interface `index`, when the entry
/// is usable; None when there is none.
pub fn neighbour(index: u32, addr: IpAddr) -> io::Result<Option<Vec<u8>>> {
    let all = Rtnl::open()?.neighbours(index, addr.is_ipv6())?;
    Ok(all.into_iter().find(|(a, _)| *a == addr).map(|(_, ll)| ll))
}

fn route_on(nl: &NetlinkSocket, buf: &mut [u8], dst: IpAddr, seq: u32) -> io::Result<Route> {
    let mut m = Vec::new();
    header(&mut m, RTM_GETROUTE, NLM_F_REQUEST, seq);
    let a = addr_bytes(dst);
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
    m.extend_from_slice(&[family(dst), (a.len() * 8) as u8, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&((4 + a.len()) as u16).to_ne_bytes());
    m.extend_from_slice(&RTA_DST.to_ne_bytes());
    m.extend_from_slice(&a);
    finish(&mut m);
    nl.send(&m)?;
    let n = nl.recv(buf)?;
    for (ty, body) in messages(&buf[..n]) {
        match ty {
            NLMSG_ERROR => {
                return Err(error_of(body).unwrap_or_else(|| io::Error::other("netlink error")))
            }
            RTM_NEWROUTE if body.len() >= 12 => {
                let mut r = Route {
                    interface: 0,
                    gateway: None,
                    source: None,
                    kind: body[7],
                };
                for (at, v) in attributes(&body[12..]) {
                    match at {
                        RTA_OIF if v.len() >= 4 => {
                            r.interface = u32::from_ne_bytes(v[..4].try_into().unwrap_or([0; 4]))
                        }
                        RTA_GATEWAY => r.gateway = ip_from(v),
                        RTA_PREFSRC => r.source = ip_from(v),
                        _ => {}
                    }
                }
                return Ok(r);
            }
            _ => {}
        }
    }
    Err(io::Error::other("no route in the kernel's answer"))
}

fn neighbours_on(
    nl: &NetlinkSocket,
    buf: &mut [u8],
    index: u32,
    v6: bool,
    seq: u32,
) -> io::Result<Vec<(IpAddr, Vec<u8>)>> {
    let mut m = Vec::new();
    header(&mut m, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq);
    let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
    // struct ndmsg: family, pad1, pad2 (u16), ifindex (i32), state (u16), flags, type.
    m.extend_from_slice(&[fam, 0, 0, 0]);
    m.extend_from_slice(&(index as i32).to_ne_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    finish(&mut m);
    nl.send(&m)?;
    let mut found = Vec::new();
    // A dump ends with NLMSG_DONE; bounded by the datagram count and the socket's timeout.
    for _ in 0..10_000 {
        let n = nl.recv(buf)?;
        if n == 0 {
            break;
        }
        for (ty, body) in messages(&buf[..n]) {
            match ty {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    if let Some(e) = error_of(body) {
                        return Err(e);
                    }
                }
                RTM_NEWNEIGH if body.len() >= 12 => {
                    let ifindex = i32::from_ne_bytes(body[4..8].try_into().unwrap_or([0; 4]));
                    let state = u16::from_ne_bytes([body[8], body[9]]);
                    if ifindex as u32 != index || state & NUD_VALID == 0 {
                        continue;
                    }
                    let mut dst = None;
                    let mut ll = None;
                    for (at, v) in attributes(&body[12..]) {
                        match at {
                            NDA_DST => dst = Some(v),
                            NDA_LLADDR => ll = Some(v.to_vec()),
                            _ => {}
                        }
                    }
                    if let (Some(a), Some(ll)) = (dst.and_then(ip_from), ll) {
                        found.push((a, ll));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_routes_are_local() {
        let r = get("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(r.kind, RTN_LOCAL);
        assert_eq!(Some(r.interface), crate::net::packet::loopback_index());
        assert_eq!(r.gateway, None);
    }

    #[test]
    fn attributes_and_messages_parse() {
        // One RTM_NEWROUTE with an OIF attribute, then NLMSG_DONE.
        let mut m = Vec::new();
        header(&mut m, RTM_NEWROUTE, 0, 1);
        m.extend_from_slice(&[2, 32, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&RTA_OIF.to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        finish(&mut m);
        let mut d = Vec::new();
        header(&mut d, NLMSG_DONE, 0, 1);
        finish(&mut d);
        m.extend_from_slice(&d);
        let msgs: Vec<(u16, Vec<u8>)> = messages(&m).map(|(t, b)| (t, b.to_vec())).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].0, RTM_NEWROUTE);
        assert_eq!(msgs[1].0, NLMSG_DONE);
        let attrs: Vec<(u16, Vec<u8>)> = attributes(&msgs[0].1[12..])
            .map(|(t, v)| (t, v.to_vec()))
            .collect();
        assert_eq!(attrs, vec![(RTA_OIF, 7u32.to_ne_bytes().to_vec())]);
    }
}
