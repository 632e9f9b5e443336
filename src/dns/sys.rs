//! System calls of the DNS transports: a UDP socket that reports ICMP errors (IP_RECVERR), poll(2) on one
//! socket, and the error-queue read that says who sent "port unreachable".
//!
//! Kept apart and minimal so it can move under the shared net layer (src/net) as it lands: the rest of the
//! DNS module sees only [`udp_connect`], [`wait`] and [`queued_error`].

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// A non-blocking UDP socket connected to `addr`, with ICMP errors queued for [`queued_error`].
pub fn udp_connect(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_nonblocking(true)?;
    let (level, opt) = if addr.is_ipv6() {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a valid fd and a pointer to an int of the size given.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    sock.connect(&addr.into())?;
    Ok(sock.into())
}

/// Readiness after [`wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    pub readable: bool,
    pub error: bool,
}

/// poll(2) for input on one socket for at most `d` (EINTR counts as nothing ready).
pub fn wait(fd: &impl AsRawFd, d: Duration) -> io::Result<Ready> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Ready {
                readable: false,
                error: false,
            });
        }
        return Err(e);
    }
    Ok(Ready {
        readable: pfd.revents & libc::POLLIN != 0,
        error: pfd.revents & libc::POLLERR != 0,
    })
}

/// An error the kernel queued for the socket (`sock_extended_err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedError {
    /// The errno it stands for (ECONNREFUSED for port unreachable, EHOSTUNREACH, ...).
    pub errno: i32,
    /// SO_EE_ORIGIN_ICMP(6) when a router or the host sent an ICMP error, LOCAL otherwise.
    pub icmp: bool,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Who sent the ICMP error.
    pub offender: Option<IpAddr>,
}

const SO_EE_ORIGIN_ICMP: u8 = 2;
const SO_EE_ORIGIN_ICMP6: u8 = 3;

/// Reads one error from the socket's error queue (MSG_ERRQUEUE); `None` when it is empty.
pub fn queued_error(sock: &UdpSocket) -> io::Result<Option<QueuedError>> {
    let mut data = [0u8; 512];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid start.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in msg refers to live buffers of the lengths given.
    let n = unsafe {
        libc::recvmsg(
            sock.as_raw_fd(),
            &mut msg,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: walking the control buffer with the CMSG macros; the extended error is read only when the
    // (level, type) pair says it is there and cmsg_len covers it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let (level, typ) = ((*c).cmsg_level, (*c).cmsg_type);
            let p = libc::CMSG_DATA(c);
            let len = ((*c).cmsg_len as usize).saturating_sub(p as usize - c as usize);
            let ee_size = std::mem::size_of::<libc::sock_extended_err>();
            if ((level == libc::IPPROTO_IP && typ == libc::IP_RECVERR)
                || (level == libc::IPPROTO_IPV6 && typ == libc::IPV6_RECVERR))
                && len >= ee_size
            {
                let ee = std::ptr::read_unaligned(p.cast::<libc::sock_extended_err>());
                let offender = offender(p.add(ee_size), len - ee_size);
                return Ok(Some(QueuedError {
                    errno: ee.ee_errno as i32,
                    icmp: ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6,
                    icmp_type: ee.ee_type,
                    icmp_code: ee.ee_code,
                    offender,
                }));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(None)
}

/// SO_EE_OFFENDER: the sockaddr right after the extended error.
///
/// # Safety
/// `p` must point to `len` readable bytes.
unsafe fn offender(p: *const u8, len: usize) -> Option<IpAddr> {
    let mut sa = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let n = len.min(std::mem::size_of::<libc::sockaddr_storage>());
    std::ptr::copy_nonoverlapping(p, sa.as_mut_ptr().cast::<u8>(), n);
    let sa = sa.assume_init();
    match i32::from(sa.ss_family) {
        libc::AF_INET if n >= std::mem::size_of::<libc::sockaddr_in>() => {
            let s = &*(&sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr))))
        }
        libc::AF_INET6 if n >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let s = &*(&sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(s.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed loopback UDP port answers with ICMP port unreachable, which the error queue names.
    #[test]
    fn port_unreachable_is_queued_with_its_sender() {
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let sock = udp_connect(addr).unwrap();
        sock.send(b"x").unwrap();
        let r = wait(&sock, Duration::from_secs(5)).unwrap();
        assert!(r.error, "{r:?}");
        let e = queued_error(&sock).unwrap().expect("an error is queued");
        assert_eq!(e.errno, libc::ECONNREFUSED);
        assert!(e.icmp);
        assert_eq!((e.icmp_type, e.icmp_code), (3, 3));
        assert_eq!(e.offender, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(queued_error(&sock).unwrap(), None);
    }
}
