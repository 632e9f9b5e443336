//! Socket options socket2 does not cover, and the per-family ones callers should not have to pick by hand:
//! TTL / hop limit (set, get, and receive as ancillary data), kernel receive timestamps, forced buffer sizes,
//! path-MTU discovery.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use socket2::SockRef;

/// setsockopt(2) with an `int` value.
pub fn set_int(sock: &impl AsFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    set_raw(sock, level, name, &value.to_ne_bytes())
}

/// getsockopt(2) of an `int` value.
pub fn get_int(sock: &impl AsFd, level: i32, name: i32) -> io::Result<i32> {
    let mut v = [0u8; 4];
    let n = get_raw(sock, level, name, &mut v)?;
    if n != v.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("socket option ({level}, {name}) returned {n} bytes, expected 4"),
        ));
    }
    Ok(i32::from_ne_bytes(v))
}

/// setsockopt(2) with the value's bytes as the kernel lays them out.
pub fn set_raw(sock: &impl AsFd, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the fd is open (borrowed); value points to len readable bytes, which the kernel only reads.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_fd().as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// getsockopt(2) into `out`; returns how many bytes the kernel wrote.
pub fn get_raw(sock: &impl AsFd, level: i32, name: i32, out: &mut [u8]) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(out.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the fd is open; out is valid for len writable bytes and len is a valid in/out length.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            level,
            name,
            out.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok((len as usize).min(out.len()))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the TTL (IPv4, IP_TTL) or hop limit (IPv6, IPV6_UNICAST_HOPS) of the unicast packets a socket sends.
pub fn set_hop_limit(sock: &impl AsFd, v6: bool, hops: u8) -> io::Result<()> {
    let s = SockRef::from(sock);
    if v6 {
        s.set_unicast_hops_v6(u32::from(hops))
    } else {
        s.set_ttl(u32::from(hops))
    }
}

/// The TTL / hop limit a socket sends with.
pub fn hop_limit(sock: &impl AsFd, v6: bool) -> io::Result<u8> {
    let s = SockRef::from(sock);
    let v = if v6 { s.unicast_hops_v6()? } else { s.ttl()? };
    u8::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "hop limit above 255"))
}

/// Asks for the TTL (IP_RECVTTL) or hop limit (IPV6_RECVHOPLIMIT) of each received packet as ancillary data;
/// [`crate::net::msg::recv`] returns it as `Received::hop_limit`. Raw IPv4 sockets see it in the IP header
/// instead.
pub fn set_recv_hop_limit(sock: &impl AsFd, v6: bool, on: bool) -> io::Result<()> {
    if v6 {
        set_int(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVHOPLIMIT,
            i32::from(on),
        )
    } else {
        set_int(sock, libc::IPPROTO_IP, libc::IP_RECVTTL, i32::from(on))
    }
}

/// Kernel receive timestamps (SO_TIMESTAMPNS), as iputils uses them: a round-trip time then excludes the time
/// a packet waited in our queue. [`crate::net::msg::recv`] returns them as `Received::timestamp`.
pub fn set_timestamps(sock: &impl AsFd, on: bool) -> io::Result<()> {
    set_int(sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, i32::from(on))
}

/// Asks for a receive buffer of `bytes`: SO_RCVBUFFORCE passes the `rmem_max` cap when privileged, otherwise
/// SO_RCVBUF gives what the cap allows. Best effort: the kernel's choice is not an error.
pub fn grow_recv_buffer(sock: &impl AsFd, bytes: usize) {
    let v = i32::try_from(bytes).unwrap_or(i32::MAX);
    if set_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v).is_err() {
        let _ = SockRef::from(sock).set_recv_buffer_size(bytes);
    }
}

/// Path-MTU discovery modes (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmtuDiscovery {
    /// Never set DF; fragment locally (IP_PMTUDISC_DONT).
    Dont,
    /// Use the route's path MTU, set DF when it is known (the kernel default for TCP, IP_PMTUDISC_WANT).
    Want,
    /// Always set DF; sends over the path MTU fail with EMSGSIZE (IP_PMTUDISC_DO).
    Do,
    /// Set DF but ignore the path MTU: send what was asked, to probe it (tracepath, IP_PMTUDISC_PROBE).
    Probe,
}

/// Sets the path-MTU discovery mode; a "fragmentation needed" / "packet too big" then reaches the error
/// queue with the MTU in `info` (see [`crate::net::errqueue`]).
pub fn set_pmtu_discovery(sock: &impl AsFd, v6: bool, mode: PmtuDiscovery) -> io::Result<()> {
    let v = match mode {
        PmtuDiscovery::Dont => libc::IP_PMTUDISC_DONT,
        PmtuDiscovery::Want => libc::IP_PMTUDISC_WANT,
        PmtuDiscovery::Do => libc::IP_PMTUDISC_DO,
        PmtuDiscovery::Probe => libc::IP_PMTUDISC_PROBE,
    };
    if v6 {
        // The IPV6_PMTUDISC_* values equal the IP_PMTUDISC_* ones.
        set_int(sock, libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, v)
    } else {
        set_int(sock, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, v)
    }
}

/// The path MTU the kernel knows for a connected socket (IP_MTU / IPV6_MTU).
pub fn path_mtu(sock: &impl AsFd, v6: bool) -> io::Result<u32> {
    let v = if v6 {
        get_int(sock, libc::IPPROTO_IPV6, libc::IPV6_MTU)?
    } else {
        get_int(sock, libc::IPPROTO_IP, libc::IP_MTU)?
    };
    u32::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative MTU"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn ttl_and_hop_limit_set_and_read_back() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_hop_limit(&s, false, 7).unwrap();
        assert_eq!(hop_limit(&s, false).unwrap(), 7);
        assert_eq!(s.ttl().unwrap(), 7);
        set_hop_limit(&s, false, 255).unwrap();
        assert_eq!(hop_limit(&s, false).unwrap(), 255);
        // IPv6 may be disabled on a host; the option is only checked when the socket can exist.
        if let Ok(s6) = UdpSocket::bind("[::1]:0") {
            set_hop_limit(&s6, true, 3).unwrap();
            assert_eq!(hop_limit(&s6, true).unwrap(), 3);
            set_recv_hop_limit(&s6, true, true).unwrap();
            assert_eq!(
                get_int(&s6, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT).unwrap(),
                1
            );
        }
    }

    #[test]
    fn int_options_round_trip_and_errors_keep_the_errno() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_recv_hop_limit(&s, false, true).unwrap();
        assert_eq!(get_int(&s, libc::IPPROTO_IP, libc::IP_RECVTTL).unwrap(), 1);
        set_timestamps(&s, true).unwrap();
        assert_eq!(
            get_int(&s, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS).unwrap(),
            1
        );
        set_pmtu_discovery(&s, false, PmtuDiscovery::Probe).unwrap();
        assert_eq!(
            get_int(&s, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER).unwrap(),
            libc::IP_PMTUDISC_PROBE
        );
        // An option that does not exist at this level.
        let e = set_int(&s, libc::IPPROTO_IP, 9999, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOPROTOOPT));
        // IP_MTU needs a connected socket.
        assert_eq!(
            path_mtu(&s, false).unwrap_err().raw_os_error(),
            Some(libc::ENOTCONN)
        );
        s.connect("127.0.0.1:9").unwrap();
        // Loopback's MTU (65536 by default; at least the IPv4 minimum anywhere).
        assert!(path_mtu(&s, false).unwrap() >= 576);
    }

    #[test]
    fn recv_buffer_grows_at_least_to_the_default() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = SockRef::from(&s).recv_buffer_size().unwrap();
        grow_recv_buffer(&s, 1 << 20);
        assert!(SockRef::from(&s).recv_buffer_size().unwrap() >= before);
    }
}
