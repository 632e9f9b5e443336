//! The ICMP socket, for ping and trace: raw when permitted (root or CAP_NET_RAW), else the unprivileged
//! datagram "ping" socket (`net.ipv4.ping_group_range`), IPv4 or IPv6, with a type filter on raw sockets,
//! kernel receive timestamps, the TTL / hop limit of replies, and the error queue on datagram sockets (where
//! ICMP errors about our requests arrive).
//!
//! Raw IPv4 sockets receive the IP header in front of the ICMP message (its TTL is there); raw IPv6 and all
//! datagram sockets receive the ICMP message alone, with the hop limit as ancillary data.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::msg::{self, Received};
use super::{errqueue, socket, sockopt, OpenError};

/// Which kind of ICMP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// SOCK_RAW: any identifier, every ICMP message the filter passes (needs CAP_NET_RAW).
    Raw,
    /// SOCK_DGRAM (the "ping socket"): the kernel owns the identifier and delivers only echo replies to it;
    /// errors come on the error queue.
    Datagram,
}

/// How to open an ICMP socket.
#[derive(Debug, Clone)]
pub struct IcmpOptions {
    /// TTL / hop limit of what we send; the system default when None.
    pub hop_limit: Option<u8>,
    /// The path-MTU discovery mode of what we send; the system default when None (`Do` sets DF: an echo over
    /// the path MTU then fails with EMSGSIZE).
    pub pmtu: Option<sockopt::PmtuDiscovery>,
    /// Receive and send buffer sizes asked for (best effort).
    pub buffer: usize,
    /// On raw sockets, the ICMP types to receive (the rest are filtered in the kernel); every type when None.
    pub pass_types: Option<Vec<u8>>,
}

/// Echo replies and the errors about a request: the types ping and trace need.
pub const ECHO_AND_ERRORS_V4: &[u8] = &[0, 3, 11, 12];
pub const ECHO_AND_ERRORS_V6: &[u8] = &[1, 2, 3, 4, 129];

impl IcmpOptions {
    /// Echo replies and errors only, a 4 MiB buffer (a burst of replies from thousands of hosts fits).
    pub fn echo(v6: bool) -> IcmpOptions {
        IcmpOptions {
            hop_limit: None,
            pmtu: None,
            buffer: 4 << 20,
            pass_types: Some(
                if v6 {
                    ECHO_AND_ERRORS_V6
                } else {
                    ECHO_AND_ERRORS_V4
                }
                .to_vec(),
            ),
        }
    }
}

/// An open ICMP socket, non-blocking.
#[derive(Debug)]
pub struct IcmpSocket {
    sock: Socket,
    v6: bool,
    kind: IcmpKind,
    /// The identifier the kernel gave a datagram socket (its "port").
    ident: u16,
}

impl IcmpSocket {
    /// Opens a raw socket, or a datagram one when raw is not permitted. `NotPermitted` when neither is.
    pub fn open(v6: bool, opts: &IcmpOptions) -> Result<IcmpSocket, OpenError> {
        match IcmpSocket::open_kind(v6, IcmpKind::Raw, opts) {
            Err(OpenError::NotPermitted(_)) => IcmpSocket::open_kind(v6, IcmpKind::Datagram, opts),
            r => r,
        }
    }

    /// Opens the kind asked for.
    pub fn open_kind(
        v6: bool,
        kind: IcmpKind,
        opts: &IcmpOptions,
    ) -> Result<IcmpSocket, OpenError> {
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let ty = match kind {
            IcmpKind::Raw => Type::RAW,
            IcmpKind::Datagram => Type::DGRAM,
        };
        let sock =
            Socket::new(domain, ty.nonblocking(), Some(proto)).map_err(OpenError::from_io)?;
        let other = OpenError::Other;
        sockopt::grow_recv_buffer(&sock, opts.buffer);
        let _ = sock.set_send_buffer_size(opts.buffer);
        if let Some(h) = opts.hop_limit {
            sockopt::set_hop_limit(&sock, v6, h).map_err(other)?;
        }
        if let Some(mode) = opts.pmtu {
            sockopt::set_pmtu_discovery(&sock, v6, mode).map_err(other)?;
        }
        // The TTL / hop limit of each reply as ancillary data (raw IPv4 has it in the header).
        if v6 || kind == IcmpKind::Datagram {
            sockopt::set_recv_hop_limit(&sock, v6, true).map_err(other)?;
        }
        let _ = sockopt::set_timestamps(&sock, true);
        let mut ident = 0;
        match kind {
            IcmpKind::Datagram => {
                // ICMP errors about our requests arrive on the error queue only when asked for.
                let _ = errqueue::enable(&sock, v6);
                sock.bind(&socket::any_addr(v6).into()).map_err(other)?;
                ident = socket::local_port(&sock).unwrap_or(0);
            }
            IcmpKind::Raw => {
                // Best effort: the caller's parser ignores what it does not expect anyway (a raw socket on
                // loopback sees our own echo requests, IPv6 sees neighbour discovery).
                if let Some(types) = &opts.pass_types {
                    let _ = set_type_filter(&sock, v6, types);
                }
            }
        }
        Ok(IcmpSocket {
            sock,
            v6,
            kind,
            ident,
        })
    }

    pub fn kind(&self) -> IcmpKind {
        self.kind
    }

    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// The echo identifier the kernel assigned a datagram socket (it rewrites ours to this); None for raw.
    pub fn ident(&self) -> Option<u16> {
        (self.kind == IcmpKind::Datagram).then_some(self.ident)
    }

    /// Changes the TTL / hop limit of later sends (a trace sets it per probe).
    pub fn set_hop_limit(&self, hops: u8) -> io::Result<()> {
        sockopt::set_hop_limit(&self.sock, self.v6, hops)
    }

    /// Sends one ICMP message (header and data; the kernel fills the checksum for IPv6 and datagram sockets)
    /// to `dst` (the port is ignored; an IPv6 link-local destination needs its scope id).
    pub fn send_to(&self, message: &[u8], dst: SocketAddr) -> io::Result<usize> {
        self.sock.send_to(message, &SockAddr::from(dst))
    }

    /// One received message without blocking (`WouldBlock` when none), with its hop limit and timestamp.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        msg::recv(&self.sock, buf)
    }

    /// One queued ICMP error (datagram sockets), with `Received::error` set; None when the queue is empty.
    pub fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        errqueue::read_into(&self.sock, buf)
    }

    /// The socket, for options this type does not wrap.
    pub fn socket(&self) -> &Socket {
        &self.sock
    }
}

impl AsFd for IcmpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// The kernel's ICMP type filter on a raw socket: ICMP_FILTER (IPv4, level SOL_RAW) or ICMP6_FILTER (IPv6); in
/// both a set bit per type means "block", so only `pass` gets through.
pub fn set_type_filter(sock: &impl AsFd, v6: bool, pass: &[u8]) -> io::Result<()> {
    const SOL_RAW: i32 = 255;
    const ICMP_FILTER: i32 = 1;
    const ICMP6_FILTER: i32 = 1;
    if v6 {
        let mut words = [u32::MAX; 8];
        for &t in pass {
            words[usize::from(t >> 5)] &= !(1u32 << (t & 31));
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        sockopt::set_raw(sock, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &bytes)
    } else {
        // IPv4's filter covers types 0-31 only; higher types always pass.
        let mut word = u32::MAX;
        for &t in pass.iter().filter(|t| **t < 32) {
            word &= !(1u32 << t);
        }
        sockopt::set_raw(sock, SOL_RAW, ICMP_FILTER, &word.to_ne_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::poll::{self, Interest};
    use std::time::{Duration, Instant};

    /// An echo request (type 8 / 128) with identifier, sequence and data; the IPv4 checksum filled.
    fn echo(v6: bool, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let mut m = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(data);
        if !v6 {
            let mut sum = 0u32;
            for c in m.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        }
        m
    }

    /// Pings 127.0.0.1 (or ::1) once with whichever socket this process may open.
    fn echo_round_trip(v6: bool) {
        let sock = match IcmpSocket::open(v6, &IcmpOptions::echo(v6)) {
            Ok(s) => s,
            Err(OpenError::NotPermitted(e)) => {
                eprintln!("skipping: no ICMP socket allowed ({e})");
                return;
            }
            Err(OpenError::Other(e)) if v6 => {
                eprintln!("skipping: no IPv6 ICMP socket ({e})");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let dst: SocketAddr = if v6 { "[::1]:0" } else { "127.0.0.1:0" }.parse().unwrap();
        let id = sock.ident().unwrap_or(0x4e44);
        sock.set_hop_limit(33).unwrap();
        assert_eq!(sockopt::hop_limit(&sock, v6).unwrap(), 33);
        sock.send_to(&echo(v6, id, 7, b"netdiag-test"), dst)
            .unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            poll::wait(&sock, Interest::Readable, end).unwrap();
            let Ok(r) = sock.recv(&mut buf) else { continue };
            // Raw IPv4 has the IP header first.
            let at = if !v6 && sock.kind() == IcmpKind::Raw {
                usize::from(buf[0] & 0x0f) * 4
            } else {
                0
            };
            let m = &buf[at..r.len];
            let reply_type = if v6 { 129 } else { 0 };
            if m.first() != Some(&reply_type) || m.get(6..8) != Some(&7u16.to_be_bytes()) {
                continue;
            }
            assert_eq!(&m[8..], b"netdiag-test");
            assert_eq!(r.from.map(|a| a.ip()), Some(dst.ip()));
            assert!(r.timestamp.is_some());
            // The kernel answers with its own default TTL, not ours.
            if v6 || sock.kind() == IcmpKind::Datagram {
                assert!(r.hop_limit.is_some_and(|h| h > 0), "{r:?}");
            } else {
                assert!(buf[8] > 0);
            }
            return;
        }
        panic!("no echo reply from {dst} within 10 s");
    }

    #[test]
    fn echo_round_trip_v4() {
        echo_round_trip(false);
    }

    #[test]
    fn echo_round_trip_v6() {
        echo_round_trip(true);
    }

    #[test]
    fn type_filters_are_accepted_by_the_kernel() {
        for v6 in [false, true] {
            match Socket::new(
                if v6 { Domain::IPV6 } else { Domain::IPV4 },
                Type::RAW,
                Some(if v6 {
                    Protocol::ICMPV6
                } else {
                    Protocol::ICMPV4
                }),
            ) {
                Ok(s) => {
                    let pass = if v6 {
                        ECHO_AND_ERRORS_V6
                    } else {
                        ECHO_AND_ERRORS_V4
                    };
                    set_type_filter(&s, v6, pass).unwrap();
                }
                Err(e) => eprintln!("skipping the raw filter (v6 {v6}): {e}"),
            }
        }
    }
}
