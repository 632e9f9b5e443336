//! recvmsg(2) with its ancillary data: the sender's address, the TTL / hop limit, the kernel's receive
//! timestamp and, from the error queue, the extended error ([`ExtendedError`], re-exported by `errqueue`).
//! Control messages are parsed from bytes by pure functions (no pointer walking); the unsafe parts are the
//! system call and handing addresses to socket2.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use socket2::SockAddr;

/// What one recvmsg returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Bytes placed in the caller's buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (MSG_TRUNC): the rest is lost.
    pub truncated: bool,
    /// The sender; from the error queue, the destination of the packet the error is about.
    pub from: Option<SocketAddr>,
    /// TTL / hop limit of the packet (after `sockopt::set_recv_hop_limit`).
    pub hop_limit: Option<u8>,
    /// Kernel receive time since the Unix epoch (after `sockopt::set_timestamps`).
    pub timestamp: Option<Duration>,
    /// The extended error of an error-queue read (after `errqueue::enable`); see [`crate::net::errqueue`].
    pub error: Option<ExtendedError>,
}

/// Who produced the error (`ee_origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// SO_EE_ORIGIN_NONE.
    None,
    /// The local stack (SO_EE_ORIGIN_LOCAL): e.g. EMSGSIZE over the path MTU.
    Local,
    /// An ICMP message (SO_EE_ORIGIN_ICMP).
    Icmp,
    /// An ICMPv6 message (SO_EE_ORIGIN_ICMP6).
    Icmp6,
    /// Timestamping, zero-copy and the like.
    Other(u8),
}

impl Origin {
    fn from_raw(v: u8) -> Origin {
        match v {
            0 => Origin::None,
            1 => Origin::Local,
            2 => Origin::Icmp,
            3 => Origin::Icmp6,
            o => Origin::Other(o),
        }
    }
}

/// `struct sock_extended_err` and the offender address after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedError {
    /// The errno the error maps to (ECONNREFUSED for port unreachable, EHOSTUNREACH, EMSGSIZE, ...).
    pub errno: i32,
    pub origin: Origin,
    /// ICMP / ICMPv6 type and code (for ICMP origins).
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Extra information: the next-hop MTU for "fragmentation needed" and "packet too big", the path MTU for a
    /// local EMSGSIZE.
    pub info: u32,
    pub data: u32,
    /// Who sent the ICMP error (`SO_EE_OFFENDER`): the router or host that answered; None for local errors.
    pub offender: Option<IpAddr>,
}

/// sizeof(struct sock_extended_err).
const EE_LEN: usize = 16;

impl ExtendedError {
    /// Parses the data of an IP_RECVERR / IPV6_RECVERR control message. Pure; never panics.
    pub fn parse(data: &[u8]) -> Option<ExtendedError> {
        if data.len() < EE_LEN {
            return None;
        }
        Some(ExtendedError {
            errno: ne_int(data, 0, 4)? as u32 as i32,
            origin: Origin::from_raw(data[4]),
            icmp_type: data[5],
            icmp_code: data[6],
            info: ne_int(data, 8, 4)? as u32,
            data: ne_int(data, 12, 4)? as u32,
            offender: sockaddr_from_bytes(&data[EE_LEN..]).map(|a| a.ip()),
        })
    }

    /// True when an ICMP or ICMPv6 message caused it (the type, code and offender are meaningful).
    pub fn is_icmp(&self) -> bool {
        matches!(self.origin, Origin::Icmp | Origin::Icmp6)
    }

    /// The MTU the error announces: ICMP "fragmentation needed" (3/4), ICMPv6 "packet too big" (2), or a
    /// local EMSGSIZE.
    pub fn mtu(&self) -> Option<u32> {
        let announced = match self.origin {
            Origin::Icmp => self.icmp_type == 3 && self.icmp_code == 4,
            Origin::Icmp6 => self.icmp_type == 2,
            Origin::Local => self.errno == libc::EMSGSIZE,
            _ => false,
        };
        (announced && self.info > 0).then_some(self.info)
    }
}

const _: () = assert!(size_of::<libc::sock_extended_err>() == EE_LEN);

/// Control buffer size: a timestamp, a hop limit and an extended error with its offender fit several times.
const CONTROL_LEN: usize = 512;

/// Reads one datagram without blocking (MSG_DONTWAIT): `WouldBlock` when none is queued.
pub fn recv(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<Received> {
    recv_with_flags(sock, buf, libc::MSG_DONTWAIT)
}

/// recvmsg(2) with the caller's flags (MSG_DONTWAIT, MSG_ERRQUEUE, MSG_PEEK, ...).
pub fn recv_with_flags(sock: &impl AsFd, buf: &mut [u8], flags: i32) -> io::Result<Received> {
    let mut control = [0u8; CONTROL_LEN];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let fd = sock.as_fd().as_raw_fd();
    // SAFETY: try_init hands us a zeroed sockaddr_storage and its length to fill; msghdr is plain data for which
    // all-zero is valid; every pointer put in it (name, the one iovec over `buf`, `control`) is live and
    // writable for the length given, for the duration of the call.
    let (out, name) = unsafe {
        SockAddr::try_init(|storage, namelen| {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = storage.cast();
            msg.msg_namelen = *namelen;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = control.len() as _;
            let n = libc::recvmsg(fd, &mut msg, flags);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            *namelen = msg.msg_namelen;
            Ok((n as usize, msg.msg_controllen as usize, msg.msg_flags))
        })
    }?;
    let (n, control_len, msg_flags) = out;
    let mut r = Received {
        len: n.min(buf.len()),
        truncated: msg_flags & libc::MSG_TRUNC != 0 || n > buf.len(),
        from: name.as_socket(),
        hop_limit: None,
        timestamp: None,
        error: None,
    };
    apply_control(&control[..control_len.min(CONTROL_LEN)], &mut r);
    Ok(r)
}

/// Fills the ancillary fields of `r` from a control buffer.
pub(crate) fn apply_control(control: &[u8], r: &mut Received) {
    for (level, ty, data) in cmsgs(control) {
        match (level, ty) {
            (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                r.hop_limit = ne_int(data, 0, 4).and_then(|v| u8::try_from(v).ok());
            }
            (libc::SOL_SOCKET, libc::SO_TIMESTAMPNS) => r.timestamp = timespec(data),
            (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
                r.error = ExtendedError::parse(data);
            }
            _ => {}
        }
    }
}

/// CMSG_ALIGN: control messages and their data start at multiples of the size of `size_t`.
fn cmsg_align(n: usize) -> usize {
    let a = size_of::<usize>();
    (n + a - 1) & !(a - 1)
}

/// The control messages in a buffer as (level, type, data), in the kernel's layout (`struct cmsghdr`: a
/// `size_t` length, then level and type as ints). Pure; stops at the first malformed header; never panics.
pub(crate) fn cmsgs(control: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> {
    let hdr = size_of::<libc::cmsghdr>();
    let data_at = cmsg_align(hdr);
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let head = control.get(off..off.checked_add(hdr)?)?;
        let len = ne_int(head, 0, size_of::<usize>())? as usize;
        let level = ne_int(head, size_of::<usize>(), 4)? as i32;
        let ty = ne_int(head, size_of::<usize>() + 4, 4)? as i32;
        if len < data_at {
            return None;
        }
        let data = control.get(off + data_at..off.checked_add(len)?)?;
        off = off.checked_add(cmsg_align(len))?;
        Some((level, ty, data))
    })
}

/// A native-endian unsigned integer of `width` bytes (1..=8) at `at`, as u64 (sign-extended for the widths
/// the caller treats as signed by casting).
pub(crate) fn ne_int(b: &[u8], at: usize, width: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(width)?)?;
    let mut v = [0u8; 8];
    if cfg!(target_endian = "little") {
        v[..width].copy_from_slice(s);
        Some(u64::from_le_bytes(v))
    } else {
        v[8 - width..].copy_from_slice(s);
        Some(u64::from_be_bytes(v))
    }
}

/// A `struct timespec` as a Duration since the epoch; None when out of range (a clock before 1970).
fn timespec(data: &[u8]) -> Option<Duration> {
    let ws = size_of::<libc::time_t>();
    let wn = size_of::<libc::c_long>();
    let sec = ne_int(data, 0, ws)?;
    let nsec = ne_int(data, ws, wn)?;
    let sec = if ws == 8 {
        sec as i64
    } else {
        i64::from(sec as u32 as i32)
    };
    if sec < 0 || nsec >= 1_000_000_000 {
        return None;
    }
    Some(Duration::new(sec as u64, nsec as u32))
}

/// A socket address in the kernel's byte layout (as in `SO_EE_OFFENDER`), for IPv4 and IPv6.
pub(crate) fn sockaddr_from_bytes(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::try_from(ne_int(b, 0, 2)?).ok()?);
    let need = match family {
        libc::AF_INET => size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => size_of::<libc::sockaddr_in6>(),
        _ => return None,
    };
    let bytes = b.get(..need)?;
    // SAFETY: try_init gives a zeroed sockaddr_storage (larger than any sockaddr_in6) to fill; exactly `need`
    // bytes are copied into it from a slice that holds them, and the length is set to match.
    let (_, addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), storage.cast::<u8>(), need);
            *len = need as libc::socklen_t;
            Ok(())
        })
    }
    .ok()?;
    addr.as_socket()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let hdr = cmsg_align(size_of::<libc::cmsghdr>());
        let len = hdr + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.resize(hdr, 0);
        v.extend_from_slice(data);
        v.resize(cmsg_align(len), 0);
        v
    }

    #[test]
    fn control_messages_parse_and_malformed_ones_stop_the_walk() {
        let mut ts = Vec::new();
        ts.extend_from_slice(&(1_700_000_000 as libc::time_t).to_ne_bytes());
        ts.extend_from_slice(&(5 as libc::c_long).to_ne_bytes());
        let mut buf = cmsg(libc::IPPROTO_IP, libc::IP_TTL, &61i32.to_ne_bytes());
        buf.extend(cmsg(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &ts));
        let mut r = Received {
            len: 0,
            truncated: false,
            from: None,
            hop_limit: None,
            timestamp: None,
            error: None,
        };
        apply_control(&buf, &mut r);
        assert_eq!(r.hop_limit, Some(61));
        assert_eq!(r.timestamp, Some(Duration::new(1_700_000_000, 5)));
        assert_eq!(cmsgs(&buf).count(), 2);
        // Truncated, too short or garbage headers: no panic, the walk stops.
        for cut in 0..buf.len() {
            let _ = cmsgs(&buf[..cut]).count();
        }
        let mut bad = buf.clone();
        bad[..size_of::<usize>()].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(cmsgs(&bad).count(), 0);
        bad[..size_of::<usize>()].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(cmsgs(&bad).count(), 0);
    }

    #[test]
    fn received_ttl_and_timestamp_from_a_real_datagram() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        super::super::sockopt::set_recv_hop_limit(&b, false, true).unwrap();
        super::super::sockopt::set_timestamps(&b, true).unwrap();
        a.set_ttl(42).unwrap();
        a.send_to(b"hello", b.local_addr().unwrap()).unwrap();
        let end = std::time::Instant::now() + Duration::from_secs(10);
        assert!(super::super::poll::wait(&b, super::super::poll::Interest::Readable, end).unwrap());
        let mut buf = [0u8; 3];
        let r = recv(&b, &mut buf).unwrap();
        assert_eq!(r.len, 3);
        assert!(r.truncated);
        assert_eq!(&buf, b"hel");
        assert_eq!(r.from, Some(a.local_addr().unwrap()));
        assert_eq!(r.hop_limit, Some(42));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        assert!(r
            .timestamp
            .is_some_and(|t| t <= now && now - t < Duration::from_secs(60)));
        assert!(r.error.is_none());
        // Nothing more queued.
        assert_eq!(
            recv(&b, &mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn socket_addresses_from_kernel_bytes() {
        let v4: SocketAddr = "10.0.2.1:0".parse().unwrap();
        let v6: SocketAddr = "[fd00::1]:53".parse().unwrap();
        for a in [v4, v6] {
            let sa = SockAddr::from(a);
            // SAFETY (test): as_ptr points to len bytes of the address.
            let bytes =
                unsafe { std::slice::from_raw_parts(sa.as_ptr().cast::<u8>(), sa.len() as usize) };
            assert_eq!(sockaddr_from_bytes(bytes), Some(a));
            assert_eq!(sockaddr_from_bytes(&bytes[..bytes.len() - 1]), None);
        }
        assert_eq!(sockaddr_from_bytes(&[0u8; 16]), None);
        assert_eq!(sockaddr_from_bytes(&[]), None);
    }
}
