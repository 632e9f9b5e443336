//! The socket error queue (IP_RECVERR / IPV6_RECVERR): an ICMP error about a packet we sent, or a local
//! error, read with MSG_ERRQUEUE as a typed report: errno, origin, ICMP type and code, the address that sent
//! it (a router on the path, or the target), `info` (the MTU of a "fragmentation needed"), and the quoted
//! original payload. This is how an unprivileged socket learns "rejected by 10.0.2.1 (admin-prohibited)"
//! for a TCP or UDP probe, and how a tracepath-style trace hears "time exceeded" from each hop.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use super::msg::{self, Received};
pub use super::msg::{ExtendedError, Origin};
use super::sockopt;

/// One error read from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub error: ExtendedError,
    /// Where the packet the error is about was going (address and port).
    pub destination: Option<SocketAddr>,
    /// The original payload as the kernel quotes it (for UDP the datagram's data, for an ICMP datagram socket
    /// the echo request); as much as the ICMP error carried.
    pub payload: Vec<u8>,
    /// The payload did not fit the read buffer.
    pub truncated: bool,
    /// TTL / hop limit of the ICMP error packet (after `sockopt::set_recv_hop_limit`).
    pub hop_limit: Option<u8>,
    /// When the error arrived (after `sockopt::set_timestamps`), since the Unix epoch.
    pub timestamp: Option<Duration>,
}

/// Queues ICMP and local errors about this socket's packets for [`read`] (IP_RECVERR; IPV6_RECVERR on an IPv6
/// socket, plus IP_RECVERR for its IPv4-mapped traffic when the kernel allows it). A connected UDP socket then
/// also reports port unreachable as ECONNREFUSED on its next call, as without it.
pub fn enable(sock: &impl AsFd, v6: bool) -> io::Result<()> {
    if v6 {
        sockopt::set_int(sock, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)?;
        let _ = sockopt::set_int(sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1);
        Ok(())
    } else {
        sockopt::set_int(sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
    }
}

/// Largest quoted payload kept.
const PAYLOAD_MAX: usize = 2048;

/// Reads one queued error without blocking; None when the queue is empty.
pub fn read(sock: &impl AsFd) -> io::Result<Option<ErrorReport>> {
    let mut buf = [0u8; PAYLOAD_MAX];
    let Some(r) = read_into(sock, &mut buf)? else {
        return Ok(None);
    };
    let Some(error) = r.error else {
        // A queue entry without an extended error (not one of ours to read): skip it, as if empty.
        return Ok(None);
    };
    Ok(Some(ErrorReport {
        error,
        destination: r.from,
        payload: buf[..r.len].to_vec(),
        truncated: r.truncated,
        hop_limit: r.hop_limit,
        timestamp: r.timestamp,
    }))
}

/// Reads one queued error into the caller's buffer (no allocation: the ping loop's form); None when the
/// queue is empty. `Received::error` holds the extended error, `Received::from` the destination.
pub fn read_into(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<Option<Received>> {
    match msg::recv_with_flags(sock, buf, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::poll::{self, Interest};
    use std::net::UdpSocket;
    use std::time::Instant;

    #[test]
    fn extended_errors_parse() {
        let mut b = Vec::new();
        b.extend_from_slice(&(libc::EMSGSIZE as u32).to_ne_bytes());
        b.extend_from_slice(&[2, 3, 4, 0]);
        b.extend_from_slice(&1400u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        let e = ExtendedError::parse(&b).unwrap();
        assert_eq!(e.origin, Origin::Icmp);
        assert_eq!((e.icmp_type, e.icmp_code), (3, 4));
        assert_eq!(e.mtu(), Some(1400));
        assert_eq!(e.offender, None);
        assert!(ExtendedError::parse(&b[..15]).is_none());
        // Any prefix and any garbage after the header: no panic.
        for cut in 0..b.len() + 40 {
            let mut x = b.clone();
            x.resize(cut, 0xff);
            let _ = ExtendedError::parse(&x);
        }
    }

    /// A real ICMP port unreachable from 127.0.0.1, for a datagram to a closed UDP port.
    #[test]
    fn port_unreachable_from_loopback_is_reported() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dst = closed.local_addr().unwrap();
        drop(closed);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        enable(&s, false).unwrap();
        sockopt::set_recv_hop_limit(&s, false, true).unwrap();
        assert!(read(&s).unwrap().is_none());
        s.send_to(b"are you there?", dst).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let mut report = None;
        while report.is_none() && Instant::now() < end {
            // An error-queue entry shows as POLLERR.
            poll::wait(&s, Interest::Readable, end).unwrap();
            report = read(&s).unwrap();
        }
        let r = report.expect("an ICMP port unreachable within 10 s");
        assert_eq!(r.error.errno, libc::ECONNREFUSED);
        assert_eq!(r.error.origin, Origin::Icmp);
        assert_eq!((r.error.icmp_type, r.error.icmp_code), (3, 3));
        assert!(r.error.is_icmp());
        assert_eq!(r.error.mtu(), None);
        assert_eq!(r.error.offender, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(r.destination, Some(dst));
        assert_eq!(r.payload, b"are you there?");
        assert!(!r.truncated);
        assert_eq!(r.hop_limit, Some(64));
        assert!(read(&s).unwrap().is_none());
    }

    #[test]
    fn port_unreachable_over_ipv6_loopback() {
        let Ok(closed) = UdpSocket::bind("[::1]:0") else {
            eprintln!("skipping: no IPv6 loopback");
            return;
        };
        let dst = closed.local_addr().unwrap();
        drop(closed);
        let s = UdpSocket::bind("[::1]:0").unwrap();
        enable(&s, true).unwrap();
        s.send_to(b"v6?", dst).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let mut report = None;
        while report.is_none() && Instant::now() < end {
            poll::wait(&s, Interest::Readable, end).unwrap();
            report = read(&s).unwrap();
        }
        let r = report.expect("an ICMPv6 port unreachable within 10 s");
        assert_eq!(r.error.origin, Origin::Icmp6);
        assert_eq!((r.error.icmp_type, r.error.icmp_code), (1, 4));
        assert_eq!(r.error.errno, libc::ECONNREFUSED);
        assert_eq!(r.error.offender, Some("::1".parse().unwrap()));
        assert_eq!(r.payload, b"v6?");
    }

    #[test]
    fn a_local_emsgsize_carries_the_mtu() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.connect("127.0.0.1:9").unwrap();
        enable(&s, false).unwrap();
        sockopt::set_pmtu_discovery(&s, false, sockopt::PmtuDiscovery::Do).unwrap();
        let mtu = sockopt::path_mtu(&s, false).unwrap() as usize;
        // Over the path MTU with DF: EMSGSIZE at once, and the same on the error queue with the MTU.
        let e = s.send(&vec![0u8; mtu]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        let r = read(&s).unwrap().expect("a local EMSGSIZE report");
        assert_eq!(r.error.origin, Origin::Local);
        assert_eq!(r.error.errno, libc::EMSGSIZE);
        assert_eq!(r.error.mtu(), Some(mtu as u32));
        assert_eq!(r.error.offender, None);
    }
}
