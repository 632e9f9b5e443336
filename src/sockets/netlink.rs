//! The socket table over netlink sock_diag, as `ss` reads it: one dump request per protocol and family.
//!
//! The request is 72 bytes and the replies are flat C structs, so this module writes the request and parses the
//! replies by hand over a plain `AF_NETLINK` socket instead of going through netlink-packet-sock-diag: the crate
//! builds a typed message with a `Vec` of attributes per socket, which costs allocations on 20,000-socket dumps,
//! and a byte-slice parser is easy to fuzz. [`parse_dump`] is that parser: a pure function that never panics.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::model::{Endpoint, SockProto, SocketRow, State, TcpInfo, Timer, TimerKind};
use crate::net::netlink::{self, NetlinkSocket};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The older inet_diag request type: its dumps cover IPv4 and IPv6 TCP sockets in one walk of the kernel's
/// tables (the family-specific request walks every TCP socket once per family). `ss -t` uses it too.
const TCPDIAG_GETSOCK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
/// sizeof(struct inet_diag_msg).
const INET_DIAG_MSG_LEN: usize = 72;
/// sizeof(struct unix_diag_msg).
const UNIX_DIAG_MSG_LEN: usize = 16;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;
/// The inet_diag attribute the kernel adds to every AF_INET6 socket: its IPV6_V6ONLY flag (one byte).
const INET_DIAG_SKV6ONLY: u16 = 11;
/// The inet_diag attribute carrying `struct tcp_info`; asked for with bit `INET_DIAG_INFO - 1` of idiag_ext.
const INET_DIAG_INFO: u16 = 2;
/// The idiag_ext bit that asks for INET_DIAG_INFO.
pub const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// The bytes of `struct tcp_info` read here (through `tcpi_delivery_rate`); kernels since 4.9 send at least this.
const TCP_INFO_MIN: usize = 168;
/// tcp_info's "infinite" slow-start threshold (TCP_INFINITE_SSTHRESH); ss omits ssthresh at or above 0xFFFF.
const SSTHRESH_SHOWN_BELOW: u32 = 0xFFFF;

/// Bytes per read: large reads let the kernel pack many sockets per datagram, so big tables come in few syscalls.
const RECV_BUF: usize = 1 << 20;
/// A dump that takes longer than this is abandoned (the kernel answers 100,000 sockets in well under a second).
const DUMP_DEADLINE: Duration = Duration::from_secs(20);

/// What a chunk of netlink replies said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpStatus {
    /// More datagrams follow.
    More,
    /// NLMSG_DONE: the dump is complete.
    Done,
    /// NLMSG_ERROR with this errno.
    Error(i32),
    /// The bytes are not a well-formed netlink message stream.
    Malformed,
}

/// Builds the dump request for one protocol: `inet_diag_req_v2` for TCP/UDP (family AF_INET or AF_INET6),
/// `unix_diag_req` for UNIX sockets. `states` is the kernel state bitmask (bit N = state N).
pub fn request(proto: SockProto, v6: bool, states: u32, ext: u8, seq: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(56);
    if proto.is_unix() {
        body.push(libc::AF_UNIX as u8);
        body.push(0); // protocol
        body.extend_from_slice(&[0, 0]); // pad
        body.extend_from_slice(&states.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes()); // ino
        let show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
        body.extend_from_slice(&show.to_ne_bytes());
        body.extend_from_slice(&[0u8; 8]); // cookie
    } else {
        body.push(if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8);
        body.push(match proto {
            SockProto::Udp => libc::IPPROTO_UDP,
            _ => libc::IPPROTO_TCP,
        } as u8);
        body.push(if proto == SockProto::Tcp { ext } else { 0 }); // idiag_ext
        body.push(0); // pad
        body.extend_from_slice(&states.to_ne_bytes());
        body.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: match everything
    }
    let len = (NLMSG_HDRLEN + body.len()) as u32;
    let mut msg = Vec::with_capacity(len as usize);
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// Builds the older `inet_diag_req` TCP dump request, which answers for both families at once.
pub fn request_tcp_both(states: u32, ext: u8, seq: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(60);
    body.push(libc::AF_INET as u8); // ignored: the kernel dumps every family for this request type
    body.extend_from_slice(&[0, 0, ext]); // src_len, dst_len, ext
    body.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: match everything
    body.extend_from_slice(&states.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes()); // dbs
    let len = (NLMSG_HDRLEN + body.len()) as u32;
    let mut msg = Vec::with_capacity(len as usize);
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// The netlink attribute that carries an inet_diag filter program after the request.
const INET_DIAG_REQ_BYTECODE: u16 = 1;

/// Appends a filter program (`bc`, see `sockets::filter`) to a TCP/UDP dump request; nothing when empty.
pub fn with_bytecode(mut msg: Vec<u8>, bc: &[u8]) -> Vec<u8> {
    if bc.is_empty() {
        return msg;
    }
    let attr_len = (4 + bc.len()) as u16;
    msg.extend_from_slice(&attr_len.to_ne_bytes());
    msg.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    msg.extend_from_slice(bc);
    while !msg.len().is_multiple_of(4) {
        msg.push(0);
    }
    let len = msg.len() as u32;
    msg[..4].copy_from_slice(&len.to_ne_bytes());
    msg
}

/// Dumps TCP sockets of both families in one kernel walk; `bc` is a filter program for the kernel (may be empty).
pub fn dump_tcp_both(states: u32, ext: u8, bc: &[u8], out: &mut Vec<SocketRow>) -> io::Result<()> {
    if states == 0 {
        return Ok(());
    }
    let req = with_bytecode(request_tcp_both(states, ext, 1), bc);
    run_dump(&req, SockProto::Tcp, out)
}

/// Dumps one protocol's sockets (one family for TCP/UDP) into `out`; `bc` is a filter program for the kernel
/// (TCP/UDP only; may be empty).
pub fn dump(
    proto: SockProto,
    v6: bool,
    states: u32,
    ext: u8,
    bc: &[u8],
    out: &mut Vec<SocketRow>,
) -> io::Result<()> {
    if states == 0 {
        return Ok(());
    }
    let mut req = request(proto, v6, states, ext, 1);
    if !proto.is_unix() {
        req = with_bytecode(req, bc);
    }
    run_dump(&req, proto, out)
}

/// Sends one dump request and reads the replies until NLMSG_DONE.
fn run_dump(req: &[u8], proto: SockProto, out: &mut Vec<SocketRow>) -> io::Result<()> {
    let sock = NetlinkSocket::open(netlink::SOCK_DIAG)?;
    sock.set_recv_timeout(Duration::from_secs(5))?;
    sock.send(req)?;
    let mut buf = vec![0u8; RECV_BUF];
    let start = Instant::now();
    loop {
        if start.elapsed() > DUMP_DEADLINE {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the kernel's socket dump did not finish in time",
            ));
        }
        let n = sock.recv(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "netlink socket closed mid-dump",
            ));
        }
        match parse_dump(&buf[..n], proto, out) {
            DumpStatus::More => {}
            DumpStatus::Done => return Ok(()),
            DumpStatus::Error(errno) => return Err(io::Error::from_raw_os_error(errno)),
            DumpStatus::Malformed => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed netlink reply",
                ))
            }
        }
    }
}

fn u16_ne(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parses one datagram of sock_diag replies (a stream of netlink messages) and appends the sockets it holds.
/// `proto` says which request it answers (any UNIX type for a UNIX dump). Pure; never panics on any input.
pub fn parse_dump(buf: &[u8], proto: SockProto, out: &mut Vec<SocketRow>) -> DumpStatus {
    let mut off = 0usize;
    while off < buf.len() {
        let (Some(len), Some(kind)) = (u32_ne(buf, off), u16_ne(buf, off + 4)) else {
            return DumpStatus::Malformed;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - off {
            return DumpStatus::Malformed;
        }
        let payload = &buf[off + NLMSG_HDRLEN..off + len];
        match kind {
            NLMSG_DONE => return DumpStatus::Done,
            NLMSG_ERROR => {
                let Some(code) = u32_ne(payload, 0) else {
                    return DumpStatus::Malformed;
                };
                let code = code as i32;
                if code != 0 {
                    return DumpStatus::Error(code.checked_neg().unwrap_or(libc::EINVAL));
                }
            }
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                let row = if proto.is_unix() {
                    parse_unix_msg(payload)
                } else {
                    parse_inet_msg(payload, proto)
                };
                match row {
                    Some(r) => out.push(r),
                    None => return DumpStatus::Malformed,
                }
            }
            _ => {}
        }
        off = off.saturating_add((len + 3) & !3);
    }
    DumpStatus::More
}

/// Parses one `struct inet_diag_msg`. Pure; `None` when too short or of an unknown family.
pub fn parse_inet_msg(p: &[u8], proto: SockProto) -> Option<SocketRow> {
    if p.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let family = i32::from(p[0]);
    let state = State::from_kernel(proto, p[1]);
    let sport = u16_be(p, 4)?;
    let dport = u16_be(p, 6)?;
    let (src, dst): (IpAddr, IpAddr) = match family {
        libc::AF_INET => {
            let s: [u8; 4] = p[8..12].try_into().ok()?;
            let d: [u8; 4] = p[24..28].try_into().ok()?;
            (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into())
        }
        libc::AF_INET6 => {
            let s: [u8; 16] = p[8..24].try_into().ok()?;
            let d: [u8; 16] = p[24..40].try_into().ok()?;
            (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into())
        }
        _ => return None,
    };
    let v6only = if family == libc::AF_INET6 {
        inet_v6only(&p[INET_DIAG_MSG_LEN..])
    } else {
        None
    };
    let attrs = &p[INET_DIAG_MSG_LEN..];
    let timer = TimerKind::from_kernel(p[2]).map(|kind| Timer {
        kind,
        expires_ms: u64::from(u32_ne(p, 52).unwrap_or(0)),
        retrans: p[3],
    });
    let tcp_info = if proto == SockProto::Tcp {
        inet_attr(attrs, INET_DIAG_INFO).and_then(parse_tcp_info)
    } else {
        None
    };
    Some(SocketRow {
        proto,
        state,
        recv_q: u32_ne(p, 56)?,
        send_q: u32_ne(p, 60)?,
        local: Endpoint::inet(src, sport),
        peer: Endpoint::inet(dst, dport),
        uid: Some(u32_ne(p, 64)?),
        inode: u64::from(u32_ne(p, 68)?),
        owners: None,
        v6only,
        tcp_info,
        timer,
        iface: u32_ne(p, 40)?,
    })
}

/// The payload of the first attribute of this kind among those after an `inet_diag_msg`; `None` when absent or
/// when the attributes are malformed before it.
fn inet_attr(attrs: &[u8], want: u16) -> Option<&[u8]> {
    let mut off = 0usize;
    while off + 4 <= attrs.len() {
        let len = usize::from(u16_ne(attrs, off)?);
        let kind = u16_ne(attrs, off + 2)? & 0x3fff;
        if len < 4 || len > attrs.len() - off {
            return None;
        }
        if kind == want {
            return Some(&attrs[off + 4..off + len]);
        }
        off = off.saturating_add((len + 3) & !3);
    }
    None
}

fn u64_ne(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Parses the start of `struct tcp_info` (linux/tcp.h). Pure; `None` when shorter than [`TCP_INFO_MIN`].
pub fn parse_tcp_info(b: &[u8]) -> Option<TcpInfo> {
    if b.len() < TCP_INFO_MIN {
        return None;
    }
    let us_to_ms = |at: usize| u32_ne(b, at).map(|us| f64::from(us) / 1000.0);
    let ssthresh = u32_ne(b, 76)?;
    Some(TcpInfo {
        rtt_ms: us_to_ms(68)?,
        rttvar_ms: us_to_ms(72)?,
        rto_ms: us_to_ms(8)?,
        cwnd: u32_ne(b, 80)?,
        ssthresh: (ssthresh < SSTHRESH_SHOWN_BELOW).then_some(ssthresh),
        retransmits: b[2],
        total_retrans: u32_ne(b, 100)?,
        delivery_rate_bps: u64_ne(b, 160)?.saturating_mul(8),
        bytes_acked: u64_ne(b, 120)?,
        bytes_received: u64_ne(b, 128)?,
    })
}

/// The INET_DIAG_SKV6ONLY attribute among those after an `inet_diag_msg`; `None` when absent or malformed.
fn inet_v6only(attrs: &[u8]) -> Option<bool> {
    let mut off = 0;
    while off + 4 <= attrs.len() {
        let len = usize::from(u16_ne(attrs, off)?);
        let kind = u16_ne(attrs, off + 2)? & 0x3fff;
        if len < 4 || len > attrs.len() - off {
            return None;
        }
        if kind == INET_DIAG_SKV6ONLY {
            return attrs.get(off + 4).filter(|_| len > 4).map(|b| *b != 0);
        }
        off = off.saturating_add((len + 3) & !3);
    }
    None
}

/// Parses one `struct unix_diag_msg` with its attributes (name, peer, queue lengths, uid). Pure; `None` when
/// too short, of an unknown socket type, or when an attribute overruns the message.
pub fn parse_unix_msg(p: &[u8]) -> Option<SocketRow> {
    if p.len() < UNIX_DIAG_MSG_LEN {
        return None;
    }
    let proto = SockProto::from_unix_type(u32::from(p[1]))?;
    let state = State::from_kernel(proto, p[2]);
    let inode = u64::from(u32_ne(p, 4)?);
    let (mut path, mut peer, mut rq, mut wq, mut uid) = (None, None, 0, 0, None);
    let mut off = UNIX_DIAG_MSG_LEN;
    while off + 4 <= p.len() {
        let len = usize::from(u16_ne(p, off)?);
        let kind = u16_ne(p, off + 2)?;
        if len < 4 || len > p.len() - off {
            return None;
        }
        let data = &p[off + 4..off + len];
        match kind {
            UNIX_DIAG_NAME => path = Some(unix_path(data)),
            UNIX_DIAG_PEER => peer = u32_ne(data, 0).filter(|&i| i != 0).map(u64::from),
            UNIX_DIAG_RQLEN => {
                rq = u32_ne(data, 0)?;
                wq = u32_ne(data, 4)?;
            }
            UNIX_DIAG_UID => uid = u32_ne(data, 0),
            _ => {}
        }
        off = off.saturating_add((len + 3) & !3);
    }
    Some(SocketRow {
        proto,
        state,
        recv_q: rq,
        send_q: wq,
        local: Endpoint::Unix {
            path,
            peer_inode: None,
        },
        peer: Endpoint::Unix {
            path: None,
            peer_inode: peer,
        },
        uid,
        inode,
        owners: None,
        v6only: None,
        tcp_info: None,
        timer: None,
        iface: 0,
    })
}

/// A sun_path as shown: abstract names (leading NUL) as `@name`, control bytes escaped.
pub(crate) fn unix_path(raw: &[u8]) -> String {
    let (at, rest) = match raw.first() {
        Some(0) => (true, &raw[1..]),
        _ => (false, raw),
    };
    let rest = if at {
        rest
    } else {
        // A filesystem path ends at its first NUL.
        rest.split(|b| *b == 0).next().unwrap_or(&[])
    };
    let mut s = String::with_capacity(rest.len() + 1);
    if at {
        s.push('@');
    }
    for c in String::from_utf8_lossy(rest).chars() {
        if c.is_control() {
            s.push('?');
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = (NLMSG_HDRLEN + payload.len()) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&1u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn inet_msg(family: u8, state: u8, sport: u16, dport: u16, src: &[u8], dst: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; INET_DIAG_MSG_LEN];
        p[0] = family;
        p[1] = state;
        p[4..6].copy_from_slice(&sport.to_be_bytes());
        p[6..8].copy_from_slice(&dport.to_be_bytes());
        p[8..8 + src.len()].copy_from_slice(src);
        p[24..24 + dst.len()].copy_from_slice(dst);
        p[56..60].copy_from_slice(&3u32.to_ne_bytes());
        p[60..64].copy_from_slice(&128u32.to_ne_bytes());
        p[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        p[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        p
    }

    #[test]
    fn reads_timers_and_tcp_info() {
        let mut p = inet_msg(
            libc::AF_INET as u8,
            1,
            1,
            2,
            &[127, 0, 0, 1],
            &[127, 0, 0, 1],
        );
        p[2] = 2; // keepalive
        p[3] = 1;
        p[52..56].copy_from_slice(&7200u32.to_ne_bytes());
        let mut info = vec![0u8; 232];
        info[2] = 3;
        info[8..12].copy_from_slice(&204_000u32.to_ne_bytes());
        info[68..72].copy_from_slice(&1_500u32.to_ne_bytes());
        info[72..76].copy_from_slice(&750u32.to_ne_bytes());
        info[76..80].copy_from_slice(&0x7fff_ffffu32.to_ne_bytes());
        info[80..84].copy_from_slice(&10u32.to_ne_bytes());
        info[100..104].copy_from_slice(&4u32.to_ne_bytes());
        info[120..128].copy_from_slice(&99u64.to_ne_bytes());
        info[128..136].copy_from_slice(&77u64.to_ne_bytes());
        info[160..168].copy_from_slice(&1000u64.to_ne_bytes());
        p.extend_from_slice(&(4u16 + 232).to_ne_bytes());
        p.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
        p.extend_from_slice(&info);
        let row = parse_inet_msg(&p, SockProto::Tcp).unwrap();
        let t = row.timer.unwrap();
        assert_eq!(
            (t.kind, t.expires_ms, t.retrans),
            (TimerKind::Keepalive, 7200, 1)
        );
        let i = row.tcp_info.unwrap();
        assert_eq!((i.rtt_ms, i.rttvar_ms, i.rto_ms), (1.5, 0.75, 204.0));
        assert_eq!(
            (i.cwnd, i.ssthresh, i.retransmits, i.total_retrans),
            (10, None, 3, 4)
        );
        assert_eq!(
            (i.delivery_rate_bps, i.bytes_acked, i.bytes_received),
            (8000, 99, 77)
        );
        // A short tcp_info is not read; every truncation of the attribute parses without a panic.
        assert!(parse_tcp_info(&info[..100]).is_none());
        for cut in INET_DIAG_MSG_LEN..p.len() {
            let _ = parse_inet_msg(&p[..cut], SockProto::Tcp);
        }
        assert_eq!(request(SockProto::Tcp, false, 1, EXT_INFO, 7)[18], EXT_INFO);
        assert_eq!(request(SockProto::Udp, false, 1, EXT_INFO, 7)[18], 0);
        assert_eq!(request_tcp_both(1, EXT_INFO, 7)[19], EXT_INFO);
    }

    #[test]
    fn request_has_the_kernel_layout() {
        let r = request(SockProto::Tcp, false, 1 << 10, 0, 7);
        assert_eq!(r.len(), 72);
        assert_eq!(u32_ne(&r, 0), Some(72));
        assert_eq!(u16_ne(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(r[16], libc::AF_INET as u8);
        assert_eq!(r[17], libc::IPPROTO_TCP as u8);
        assert_eq!(u32_ne(&r, 20), Some(1 << 10));
        let b = request_tcp_both(1 << 10, 0, 7);
        assert_eq!(b.len(), 16 + 60);
        assert_eq!(u16_ne(&b, 4), Some(TCPDIAG_GETSOCK));
        assert_eq!(u32_ne(&b, 16 + 52), Some(1 << 10));
        let u = request(SockProto::UnixStream, false, !0, 0, 7);
        assert_eq!(u.len(), 16 + 24);
        assert_eq!(u[16], libc::AF_UNIX as u8);
    }

    #[test]
    fn reads_the_v6only_attribute_of_ipv6_sockets() {
        let any = [0u8; 16];
        let with = |flag: u8| {
            let mut p = inet_msg(libc::AF_INET6 as u8, 10, 80, 0, &any, &any);
            // An unrelated attribute (INET_DIAG_SHUTDOWN, 1 byte, padded), then INET_DIAG_SKV6ONLY.
            p.extend_from_slice(&[5, 0, 8, 0, 0, 0, 0, 0]);
            p.extend_from_slice(&[5, 0, 11, 0, flag, 0, 0, 0]);
            p
        };
        let row = parse_inet_msg(&with(0), SockProto::Tcp).unwrap();
        assert_eq!(row.v6only, Some(false));
        assert!(row.dual_stack());
        let row = parse_inet_msg(&with(1), SockProto::Tcp).unwrap();
        assert_eq!(row.v6only, Some(true));
        assert!(!row.dual_stack());
        let bare = inet_msg(libc::AF_INET6 as u8, 10, 80, 0, &any, &any);
        assert_eq!(parse_inet_msg(&bare, SockProto::Tcp).unwrap().v6only, None);
        let mut bad = with(0);
        bad[INET_DIAG_MSG_LEN] = 200; // an attribute longer than the message
        assert_eq!(parse_inet_msg(&bad, SockProto::Tcp).unwrap().v6only, None);
        let v4 = inet_msg(libc::AF_INET as u8, 10, 80, 0, &[0; 4], &[0; 4]);
        assert_eq!(parse_inet_msg(&v4, SockProto::Tcp).unwrap().v6only, None);
    }

    #[test]
    fn parses_inet_messages_and_done() {
        let mut buf = nlmsg(
            SOCK_DIAG_BY_FAMILY,
            &inet_msg(libc::AF_INET as u8, 10, 8080, 0, &[127, 0, 0, 1], &[0; 4]),
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        buf.extend(nlmsg(
            SOCK_DIAG_BY_FAMILY,
            &inet_msg(libc::AF_INET6 as u8, 1, 443, 50000, &v6, &v6),
        ));
        let mut out = Vec::new();
        assert_eq!(parse_dump(&buf, SockProto::Tcp, &mut out), DumpStatus::More);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].state, State::Listen);
        assert_eq!(
            out[0].local,
            Endpoint::inet("127.0.0.1".parse().unwrap(), 8080)
        );
        assert_eq!(out[0].recv_q, 3);
        assert_eq!(out[0].send_q, 128);
        assert_eq!(out[0].uid, Some(1000));
        assert_eq!(out[0].inode, 4242);
        assert_eq!(out[1].peer, Endpoint::inet("::1".parse().unwrap(), 50000));
        assert_eq!(out[1].state, State::Established);
        let done = nlmsg(NLMSG_DONE, &0u32.to_ne_bytes());
        assert_eq!(
            parse_dump(&done, SockProto::Tcp, &mut out),
            DumpStatus::Done
        );
    }

    #[test]
    fn reports_errors_and_malformed_input() {
        let mut out = Vec::new();
        let err = nlmsg(NLMSG_ERROR, &(-2i32).to_ne_bytes());
        assert_eq!(
            parse_dump(&err, SockProto::Udp, &mut out),
            DumpStatus::Error(2)
        );
        let mut short = nlmsg(SOCK_DIAG_BY_FAMILY, &[0u8; 10]);
        assert_eq!(
            parse_dump(&short, SockProto::Udp, &mut out),
            DumpStatus::Malformed
        );
        short[0] = 0xff; // length beyond the buffer
        assert_eq!(
            parse_dump(&short, SockProto::Udp, &mut out),
            DumpStatus::Malformed
        );
        assert_eq!(
            parse_dump(&[1, 2, 3], SockProto::Udp, &mut out),
            DumpStatus::Malformed
        );
        assert_eq!(parse_dump(&[], SockProto::Udp, &mut out), DumpStatus::More);
        assert!(out.is_empty());
    }

    #[test]
    fn parses_unix_messages_with_attributes() {
        let mut p = vec![libc::AF_UNIX as u8, 1, 10, 0];
        p.extend_from_slice(&77u32.to_ne_bytes());
        p.extend_from_slice(&[0u8; 8]);
        let attr = |kind: u16, data: &[u8]| {
            let mut a = Vec::new();
            a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
            a.extend_from_slice(&kind.to_ne_bytes());
            a.extend_from_slice(data);
            while a.len() % 4 != 0 {
                a.push(0);
            }
            a
        };
        p.extend(attr(UNIX_DIAG_NAME, b"/run/x.sock"));
        p.extend(attr(UNIX_DIAG_PEER, &0u32.to_ne_bytes()));
        let mut rq = 2u32.to_ne_bytes().to_vec();
        rq.extend_from_slice(&128u32.to_ne_bytes());
        p.extend(attr(UNIX_DIAG_RQLEN, &rq));
        p.extend(attr(UNIX_DIAG_UID, &0u32.to_ne_bytes()));
        let r = parse_unix_msg(&p).unwrap();
        assert_eq!(r.proto, SockProto::UnixStream);
        assert_eq!(r.state, State::Listen);
        assert_eq!(r.inode, 77);
        assert_eq!((r.recv_q, r.send_q, r.uid), (2, 128, Some(0)));
        assert_eq!(
            r.local,
            Endpoint::Unix {
                path: Some("/run/x.sock".into()),
                peer_inode: None
            }
        );
        // An attribute that overruns the message is rejected, not read past.
        let mut bad = p.clone();
        bad[16] = 0xff;
        assert!(parse_unix_msg(&bad).is_none());
        assert_eq!(unix_path(b"\0abstract\n"), "@abstract?");
    }

    #[test]
    fn never_panics_on_truncations() {
        let mut buf = nlmsg(
            SOCK_DIAG_BY_FAMILY,
            &inet_msg(libc::AF_INET as u8, 10, 1, 0, &[127, 0, 0, 1], &[0; 4]),
        );
        buf.extend(nlmsg(SOCK_DIAG_BY_FAMILY, &[1, 1, 1, 0, 1, 0, 0, 0]));
        for end in 0..buf.len() {
            for proto in [SockProto::Tcp, SockProto::UnixDgram] {
                let _ = parse_dump(&buf[..end], proto, &mut Vec::new());
                let _ = parse_unix_msg(&buf[end..]);
            }
        }
    }
}
