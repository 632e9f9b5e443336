//! Raw IP sockets for the SYN scanner and raw traces: IPv4 and IPv6, for TCP, UDP or ICMP (the kernel writes
//! the IP header) or IPPROTO_RAW (we write it: IP_HDRINCL), batched sends and receives. Opening one needs root
//! or CAP_NET_RAW; without it the error is [`OpenError::NotPermitted`].
//!
//! What a raw socket receives: IPv4 sockets get every packet of their protocol with the IP header in front;
//! IPv6 sockets get the payload only (no IPv6 header). IPPROTO_RAW sockets are send-only.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::mmsg::{self, RecvBatch};
use super::msg::{self, Received};
use super::{filter, sockopt, OpenError};

/// The protocol of a raw socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawProtocol {
    Tcp,
    Udp,
    /// ICMP on IPv4, ICMPv6 on IPv6.
    Icmp,
    /// IPPROTO_RAW: send-only, every packet carries the IP header we wrote (the kernel implies IP_HDRINCL /
    /// IPV6_HDRINCL).
    Raw,
}

impl RawProtocol {
    fn number(self, v6: bool) -> i32 {
        match self {
            RawProtocol::Tcp => libc::IPPROTO_TCP,
            RawProtocol::Udp => libc::IPPROTO_UDP,
            RawProtocol::Icmp if v6 => libc::IPPROTO_ICMPV6,
            RawProtocol::Icmp => libc::IPPROTO_ICMP,
            RawProtocol::Raw => libc::IPPROTO_RAW,
        }
    }
}

/// An open raw socket, non-blocking.
#[derive(Debug)]
pub struct RawSocket {
    sock: Socket,
    v6: bool,
    protocol: RawProtocol,
}

impl RawSocket {
    /// Opens a raw socket of the family and protocol.
    pub fn open(v6: bool, protocol: RawProtocol) -> Result<RawSocket, OpenError> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let proto = Protocol::from(protocol.number(v6));
        let sock = Socket::new(domain, Type::RAW.nonblocking(), Some(proto))
            .map_err(OpenError::from_io)?;
        Ok(RawSocket { sock, v6, protocol })
    }

    pub fn is_v6(&self) -> bool {
        self.v6
    }

    pub fn protocol(&self) -> RawProtocol {
        self.protocol
    }

    /// We write the IP header of every packet (IPv4 IP_HDRINCL, IPv6 IPV6_HDRINCL). On IPv4 the kernel still
    /// fills the checksum and total length, and the source address and identification when they are 0.
    pub fn set_header_included(&self, on: bool) -> io::Result<()> {
        if self.v6 {
            self.sock.set_header_included_v6(on)
        } else {
            self.sock.set_header_included_v4(on)
        }
    }

    /// IPv6 raw sockets (other than ICMPv6, where the kernel always does it) compute no checksum unless told
    /// where it sits in the payload (IPV6_CHECKSUM): 16 for TCP, 6 for UDP. None turns it off.
    pub fn set_checksum_offset(&self, offset: Option<u16>) -> io::Result<()> {
        let v = offset.map_or(-1, i32::from);
        sockopt::set_int(&self.sock, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, v)
    }

    /// TTL / hop limit of later sends (ignored by the kernel when we write the IP header).
    pub fn set_hop_limit(&self, hops: u8) -> io::Result<()> {
        sockopt::set_hop_limit(&self.sock, self.v6, hops)
    }

    /// Sends one packet to `dst`: the protocol's header and data, or a whole IP packet with the header included.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<usize> {
        let to: SockAddr = SocketAddr::new(dst, 0).into();
        self.sock.send_to(packet, &to)
    }

    /// Sends many packets in few system calls; see [`mmsg::send_batch`] for what the count means.
    pub fn send_batch(&self, packets: &[(&[u8], IpAddr)]) -> io::Result<usize> {
        mmsg::send_with(&self.sock, packets.len(), |i| {
            (packets[i].0, SocketAddr::new(packets[i].1, 0).into())
        })
    }

    /// One received packet without blocking (`WouldBlock` when none).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        msg::recv(&self.sock, buf)
    }

    /// As many queued packets as fit `batch`; 0 when none.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        mmsg::recv_batch(&self.sock, batch)
    }

    /// Lets only the packets a classic BPF program accepts reach this socket.
    pub fn attach_filter(&self, program: &[libc::sock_filter]) -> io::Result<()> {
        filter::attach(&self.sock, program)
    }

    pub fn socket(&self) -> &Socket {
        &self.sock
    }
}

impl AsFd for RawSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::poll::{self, Interest};
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    /// A UDP header and payload (checksum 0: "none", allowed on IPv4; IPv6 fills it via IPV6_CHECKSUM).
    fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&src.to_be_bytes());
        p.extend_from_slice(&dst.to_be_bytes());
        p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    /// An IPv4 header for IP_HDRINCL: the kernel fills the checksum, total length, id and source (0 here).
    fn ipv4(dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    /// Reads datagrams from `s` until `want` arrived or 10 s passed.
    fn drain(s: &impl AsFd, want: usize) -> Vec<Vec<u8>> {
        let mut batch = RecvBatch::new(64, 2048);
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while got.len() < want && Instant::now() < end {
            poll::wait(s, Interest::Readable, end).unwrap();
            mmsg::recv_batch(s, &mut batch).unwrap();
            got.extend(batch.iter().map(|d| d.data.to_vec()));
        }
        got
    }

    /// Batched raw sends and receives on loopback, inside a network namespace of the test's own (an empty
    /// one, made for this thread only and gone when it ends). Needs root.
    #[test]
    fn raw_batches_in_a_namespace_of_our_own() {
        if !crate::net::process::is_root() {
            eprintln!("skipping raw_batches_in_a_namespace_of_our_own: needs root");
            return;
        }
        std::thread::spawn(|| {
            crate::net::process::unshare_network_namespace().expect("unshare(CLONE_NEWNET)");
            let up = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status();
            if !up.is_ok_and(|s| s.success()) {
                eprintln!(
                    "skipping raw_batches_in_a_namespace_of_our_own: 'ip link set lo up' failed"
                );
                return;
            }
            v4_batches();
            v6_batches();
        })
        .join()
        .expect("namespace thread");
    }

    fn v4_batches() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        let raw = RawSocket::open(false, RawProtocol::Udp).unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let packets: Vec<Vec<u8>> = (0..20u16)
            .map(|i| udp(40000 + i, port, format!("probe {i}").as_bytes()))
            .collect();
        let batch: Vec<(&[u8], IpAddr)> = packets.iter().map(|p| (p.as_slice(), lo)).collect();
        assert_eq!(raw.send_batch(&batch).unwrap(), 20);
        // The UDP socket got all twenty, in order.
        let got = drain(&rx, 20);
        let want: Vec<Vec<u8>> = (0..20).map(|i| format!("probe {i}").into_bytes()).collect();
        assert_eq!(got, want);
        // The raw UDP socket saw them too, each with its IPv4 header (protocol 17, from 127.0.0.1).
        let seen = drain(&raw, 20);
        assert_eq!(seen.len(), 20);
        for (i, p) in seen.iter().enumerate() {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            assert_eq!(p[0] >> 4, 4);
            assert_eq!(p[9], 17);
            assert_eq!(&p[12..16], &[127, 0, 0, 1]);
            assert_eq!(&p[ihl..], packets[i].as_slice());
        }
        // IPPROTO_RAW: we write the IP header.
        let hdr = RawSocket::open(false, RawProtocol::Raw).unwrap();
        let pkt = ipv4([127, 0, 0, 1], 17, &udp(40100, port, b"whole packet"));
        assert_eq!(hdr.send_batch(&[(pkt.as_slice(), lo)]).unwrap(), 1);
        assert_eq!(drain(&rx, 1), vec![b"whole packet".to_vec()]);
        // Header included on a UDP raw socket works the same.
        raw.set_header_included(true).unwrap();
        let pkt = ipv4([127, 0, 0, 1], 17, &udp(40101, port, b"hdrincl"));
        raw.send_to(&pkt, lo).unwrap();
        assert_eq!(drain(&rx, 1), vec![b"hdrincl".to_vec()]);
    }

    fn v6_batches() {
        let Ok(rx) = UdpSocket::bind("[::1]:0") else {
            eprintln!("skipping the IPv6 part: no ::1 in the namespace");
            return;
        };
        let port = rx.local_addr().unwrap().port();
        let raw = RawSocket::open(true, RawProtocol::Udp).unwrap();
        // UDP over IPv6 needs a checksum: the kernel computes it at offset 6 when told.
        raw.set_checksum_offset(Some(6)).unwrap();
        let lo: IpAddr = "::1".parse().unwrap();
        let packets: Vec<Vec<u8>> = (0..5u16)
            .map(|i| udp(41000 + i, port, format!("six {i}").as_bytes()))
            .collect();
        let batch: Vec<(&[u8], IpAddr)> = packets.iter().map(|p| (p.as_slice(), lo)).collect();
        assert_eq!(raw.send_batch(&batch).unwrap(), 5);
        let got = drain(&rx, 5);
        let want: Vec<Vec<u8>> = (0..5).map(|i| format!("six {i}").into_bytes()).collect();
        assert_eq!(got, want);
    }
}
