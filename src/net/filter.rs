//! Classic BPF socket filters (SO_ATTACH_FILTER): the kernel drops what the program rejects before it is
//! queued, so a raw or packet socket wakes only for its own replies. The program is a slice of
//! `libc::sock_filter` instructions; `src/net/bpf.rs` (capture) compiles them.

use std::io;
use std::os::fd::AsFd;

use socket2::SockRef;

/// Attaches `program` to the socket, replacing any filter it had. EINVAL when the kernel's verifier rejects it
/// (or it is empty or longer than 4096 instructions).
pub fn attach(sock: &impl AsFd, program: &[libc::sock_filter]) -> io::Result<()> {
    if program.is_empty() || program.len() > usize::from(u16::MAX) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    SockRef::from(sock).attach_filter(program)
}

/// Removes the socket's filter; ENOENT when it had none.
pub fn detach(sock: &impl AsFd) -> io::Result<()> {
    SockRef::from(sock).detach_filter()
}

/// A one-instruction program: accept at most `snap` bytes of every packet (0 drops all).
pub fn accept_all(snap: u32) -> [libc::sock_filter; 1] {
    [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: snap,
    }]
}

fn op(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// TCP segments to local port `port`, first `snap` bytes. `ip_header`: the socket sees the IPv4 header first
/// (IPv4 raw sockets); otherwise the TCP header comes first (IPv6 raw sockets).
pub fn tcp_to_port(ip_header: bool, port: u16, snap: u32) -> Vec<libc::sock_filter> {
    let mut p = Vec::new();
    if ip_header {
        // X = the IPv4 header length; A = the destination port at X + 2.
        p.push(op(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, 0, 0, 0));
        p.push(op(libc::BPF_LD | libc::BPF_H | libc::BPF_IND, 0, 0, 2));
    } else {
        p.push(op(libc::BPF_LD | libc::BPF_H | libc::BPF_ABS, 0, 0, 2));
    }
    p.push(op(
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        0,
        1,
        u32::from(port),
    ));
    p.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, snap));
    p.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, 0));
    p
}

/// ICMP destination unreachable (type 3) or ICMPv6 destination unreachable (type 1), first `snap` bytes.
/// `ip_header`: an IPv4 raw ICMP socket (the IPv4 header first); otherwise ICMPv6 (the ICMPv6 header first).
pub fn icmp_unreachable(ip_header: bool, snap: u32) -> Vec<libc::sock_filter> {
    let mut p = Vec::new();
    if ip_header {
        p.push(op(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, 0, 0, 0));
        p.push(op(libc::BPF_LD | libc::BPF_B | libc::BPF_IND, 0, 0, 0));
        p.push(op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, 3));
    } else {
        p.push(op(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, 0, 0, 0));
        p.push(op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, 1));
    }
    p.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, snap));
    p.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, 0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::poll::{self, Interest};
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    #[test]
    fn a_drop_all_filter_drops_and_detaching_lets_datagrams_through() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        attach(&rx, &accept_all(0)).unwrap();
        tx.send_to(b"dropped", to).unwrap();
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(!poll::wait(&rx, Interest::Readable, soon).unwrap());
        // Keep only the first 12 bytes of each packet: on a UDP socket the filter sees the UDP header (8 bytes)
        // first, so 4 bytes of data remain.
        attach(&rx, &accept_all(12)).unwrap();
        tx.send_to(b"trimmed", to).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        assert!(poll::wait(&rx, Interest::Readable, end).unwrap());
        let mut buf = [0u8; 16];
        assert_eq!(rx.recv(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"trim");
        detach(&rx).unwrap();
        assert_eq!(detach(&rx).unwrap_err().raw_os_error(), Some(libc::ENOENT));
        tx.send_to(b"whole", to).unwrap();
        assert!(poll::wait(&rx, Interest::Readable, end).unwrap());
        assert_eq!(rx.recv(&mut buf).unwrap(), 5);
        // The verifier refuses a program that does not end in a return.
        let bad = [libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        assert_eq!(
            attach(&rx, &bad).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            attach(&rx, &[]).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }
}
