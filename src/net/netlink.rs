//! Netlink sockets (AF_NETLINK) for talking to the kernel: sock_diag dumps today (`sockets`), routes and
//! links later. Messages are bytes; building and parsing them is the caller's job.

use std::io::{self, Read};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// NETLINK_SOCK_DIAG: socket tables, as `ss` reads them.
pub const SOCK_DIAG: i32 = 4;
/// NETLINK_ROUTE: routes, links, addresses, neighbours.
pub const ROUTE: i32 = 0;

/// A blocking netlink socket of one protocol, talking to the kernel.
#[derive(Debug)]
pub struct NetlinkSocket {
    sock: Socket,
}

impl NetlinkSocket {
    pub fn open(protocol: i32) -> io::Result<NetlinkSocket> {
        let sock = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::DGRAM,
            Some(Protocol::from(protocol)),
        )?;
        Ok(NetlinkSocket { sock })
    }

    /// How long a [`recv`](Self::recv) may block before `WouldBlock` / `TimedOut`.
    pub fn set_recv_timeout(&self, d: Duration) -> io::Result<()> {
        self.sock.set_read_timeout(Some(d))
    }

    /// Sends one message (or several, back to back) to the kernel: an unconnected netlink socket's default
    /// destination is the kernel (port id 0).
    pub fn send(&self, message: &[u8]) -> io::Result<usize> {
        self.sock.send(message)
    }

    /// Reads one datagram of replies (often many messages); retried on EINTR. 0 means the socket was shut.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match (&self.sock).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_answers_a_bad_request_with_an_error_message() {
        let nl = NetlinkSocket::open(SOCK_DIAG).unwrap();
        nl.set_recv_timeout(Duration::from_secs(5)).unwrap();
        // A header-only message of an unknown type with NLM_F_REQUEST | NLM_F_ACK: the kernel answers
        // NLMSG_ERROR (type 2) quoting our sequence number.
        let mut m = Vec::new();
        m.extend_from_slice(&16u32.to_ne_bytes());
        m.extend_from_slice(&0x7777u16.to_ne_bytes());
        m.extend_from_slice(&(0x1u16 | 0x4).to_ne_bytes());
        m.extend_from_slice(&4242u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        assert_eq!(nl.send(&m).unwrap(), 16);
        let mut buf = vec![0u8; 8192];
        let n = nl.recv(&mut buf).unwrap();
        assert!(n >= 20, "{n}");
        assert_eq!(u16::from_ne_bytes([buf[4], buf[5]]), 2);
        assert_eq!(u32::from_ne_bytes(buf[8..12].try_into().unwrap()), 4242);
        let errno = i32::from_ne_bytes(buf[16..20].try_into().unwrap());
        assert!(errno < 0, "{errno}");
    }
}
