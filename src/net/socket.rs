//! Sockets through socket2: creation, the non-blocking connect and how it ended (SO_ERROR), deadline-bound
//! connects, and what a socket's own addresses say. Address conversion is socket2's `SockAddr`, never by hand.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::poll::{self, Interest};

/// A non-blocking, close-on-exec TCP socket of the family, made in one system call.
pub fn tcp_socket(v6: bool) -> io::Result<Socket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))
}

/// A non-blocking, close-on-exec UDP socket of the family.
pub fn udp_socket(v6: bool) -> io::Result<Socket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    Socket::new(domain, Type::DGRAM.nonblocking(), Some(Protocol::UDP))
}

/// Where a non-blocking connect stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Connected (at once on loopback, or a repeated connect on a finished one).
    Connected,
    /// The handshake is under way (EINPROGRESS, or EALREADY on a repeated connect): wait for writable.
    InProgress,
}

/// connect(2) on a non-blocking socket. Calling it again on a socket whose connect was started tells how it
/// ended: `Connected`, still `InProgress`, or the error (after which the kernel has reset the socket, so it
/// can be connected anew: probe's engine reuses refused sockets that way).
pub fn connect(sock: &Socket, addr: &SockAddr) -> io::Result<Connect> {
    match sock.connect(addr) {
        Ok(()) => Ok(Connect::Connected),
        Err(e) => match e.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EALREADY) => Ok(Connect::InProgress),
            Some(libc::EISCONN) => Ok(Connect::Connected),
            _ => Err(e),
        },
    }
}

/// Starts a non-blocking TCP connect to `addr` on a fresh socket.
pub fn connect_start(addr: SocketAddr) -> io::Result<(Socket, Connect)> {
    let sock = tcp_socket(addr.is_ipv6())?;
    let state = connect(&sock, &addr.into())?;
    Ok((sock, state))
}

/// How a non-blocking connect ended once its socket polled writable: SO_ERROR, read and cleared.
pub fn connect_result(sock: &Socket) -> io::Result<()> {
    match sock.take_error()? {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Connects to `addr` by `deadline`, waiting in slices of at most `slice` so that `stop()` (Ctrl-C) is
/// noticed: `TimedOut` when the deadline passes, `Interrupted` when `stop()` says so. The socket is returned
/// blocking. A loopback connect that met itself (source port = destination port, which the kernel allows on a
/// closed ephemeral port) is what it means: refused.
pub fn connect_by(
    addr: SocketAddr,
    deadline: Instant,
    slice: Duration,
    stop: &dyn Fn() -> bool,
) -> io::Result<Socket> {
    let (sock, mut state) = connect_start(addr)?;
    while state == Connect::InProgress {
        if stop() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        if poll::wait(&sock, Interest::Writable, deadline.min(now + slice))? {
            connect_result(&sock)?;
            state = Connect::Connected;
        }
    }
    sock.set_nonblocking(false)?;
    if sock.local_addr()?.as_socket() == Some(addr) {
        return Err(io::Error::from_raw_os_error(libc::ECONNREFUSED));
    }
    Ok(sock)
}

/// The local port a socket is bound to (after bind or connect).
pub fn local_port(sock: &Socket) -> Option<u16> {
    sock.local_addr().ok()?.as_socket().map(|a| a.port())
}

/// True when a connected socket's local address equals its peer's: the kernel connected it to itself.
pub fn is_self_connect(sock: &Socket) -> bool {
    match (sock.local_addr(), sock.peer_addr()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The unspecified address of a family with port 0, to bind to "any".
pub fn any_addr(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connects_refusals_and_deadlines() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        let s = connect_by(
            open,
            Instant::now() + Duration::from_secs(10),
            Duration::from_millis(50),
            &|| false,
        )
        .unwrap();
        assert_eq!(s.peer_addr().unwrap().as_socket(), Some(open));
        assert!(!s.nonblocking().unwrap());
        assert!(!is_self_connect(&s));
        assert!(local_port(&s).is_some_and(|p| p != 0));
        drop(l);
        let e = connect_by(
            open,
            Instant::now() + Duration::from_secs(10),
            Duration::from_millis(50),
            &|| false,
        )
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
        // A stop request is checked before waiting.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let e = connect_by(
            l.local_addr().unwrap(),
            Instant::now() + Duration::from_secs(10),
            Duration::from_millis(50),
            &|| true,
        );
        // On loopback the handshake may finish inside connect(2) itself; otherwise the stop wins.
        if let Err(e) = e {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        }
    }

    #[test]
    fn a_repeated_connect_tells_how_the_first_ended() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SockAddr = closed.local_addr().unwrap().into();
        drop(closed);
        let s = tcp_socket(false).unwrap();
        let first = connect(&s, &addr);
        let end = Instant::now() + Duration::from_secs(10);
        let refused = match first {
            Err(e) => e,
            Ok(_) => {
                assert!(poll::wait(&s, Interest::Writable, end).unwrap());
                connect(&s, &addr).unwrap_err()
            }
        };
        assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
        // The socket was reset and connects again.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let to: SockAddr = l.local_addr().unwrap().into();
        if connect(&s, &to).unwrap() == Connect::InProgress {
            assert!(poll::wait(&s, Interest::Writable, end).unwrap());
            connect_result(&s).unwrap();
        }
        assert_eq!(connect(&s, &to).unwrap(), Connect::Connected);
    }

    #[test]
    fn a_socket_connected_to_itself_is_detected() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let me = s.local_addr().unwrap();
        // Connecting a bound socket to its own address is a TCP simultaneous open with itself.
        s.connect(&me).unwrap();
        assert!(is_self_connect(&s));
    }
}
