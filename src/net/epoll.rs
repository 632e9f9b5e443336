//! epoll(7) for event loops over many sockets (probe's connect engine): an owned instance, registration with a
//! caller's token, and a wait that is safe against signals.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Event bits (as in epoll_ctl(2)).
pub const IN: u32 = libc::EPOLLIN as u32;
pub const OUT: u32 = libc::EPOLLOUT as u32;
pub const ERR: u32 = libc::EPOLLERR as u32;
pub const HUP: u32 = libc::EPOLLHUP as u32;
/// Edge-triggered: report a change once, not the state on every wait.
pub const EDGE: u32 = libc::EPOLLET as u32;

/// An epoll instance; closed on drop. A registered descriptor leaves it when closed.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// A buffer of events for [`Epoll::wait`], reused across waits.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events per wait (at least one).
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            len: 0,
        }
    }

    /// The events of the last wait, as (token, event bits).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.buf[..self.len].iter().map(|e| (e.u64, e.events))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall with a flag; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Registers `fd` for `events` (the bits above, or'ed); waits return `token` for it.
    pub fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    /// Changes what `fd` is registered for.
    pub fn modify(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Removes `fd` (closing it does the same when no duplicate of it is open).
    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: i32, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: both descriptors are open for the call; ev is a valid epoll_event the kernel only reads.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd.as_raw_fd(), &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds, so it never returns early) for events; returns
    /// how many landed in `events`. A signal ends the wait with none rather than an EINTR error.
    pub fn wait(&self, events: &mut Events, timeout: Duration) -> io::Result<usize> {
        events.len = 0;
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
        let cap = i32::try_from(events.buf.len()).unwrap_or(i32::MAX);
        // SAFETY: the buffer holds at least `cap` epoll_event entries the kernel may write.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        events.len = n as usize;
        Ok(events.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};
    use std::os::fd::AsFd;

    #[test]
    fn readiness_is_reported_with_the_token() {
        let ep = Epoll::new().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        ep.add(a.as_fd(), IN, 7).unwrap();
        ep.add(b.as_fd(), IN, 9).unwrap();
        let mut ev = Events::with_capacity(8);
        assert_eq!(ep.wait(&mut ev, Duration::from_millis(20)).unwrap(), 0);
        assert!(ev.is_empty());
        a.send_to(b"x", b.local_addr().unwrap()).unwrap();
        assert_eq!(ep.wait(&mut ev, Duration::from_secs(10)).unwrap(), 1);
        assert_eq!(ev.iter().collect::<Vec<_>>(), vec![(9, IN)]);
        // Level-triggered: still readable until read.
        assert_eq!(ep.wait(&mut ev, Duration::from_secs(10)).unwrap(), 1);
        b.recv(&mut [0u8; 4]).unwrap();
        assert_eq!(ep.wait(&mut ev, Duration::ZERO).unwrap(), 0);
        // Registering twice is the kernel's EEXIST; a modify to OUT reports writable.
        assert_eq!(
            ep.add(b.as_fd(), IN, 9).unwrap_err().raw_os_error(),
            Some(libc::EEXIST)
        );
        ep.modify(b.as_fd(), OUT, 10).unwrap();
        assert_eq!(ep.wait(&mut ev, Duration::from_secs(10)).unwrap(), 1);
        assert_eq!(ev.iter().next(), Some((10, OUT)));
        ep.delete(b.as_fd()).unwrap();
        assert_eq!(ep.wait(&mut ev, Duration::ZERO).unwrap(), 0);
    }

    #[test]
    fn edge_triggered_connects_report_once() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = Epoll::new().unwrap();
        let (s, state) = crate::net::socket::connect_start(l.local_addr().unwrap()).unwrap();
        let _accepted = l.accept().unwrap();
        ep.add(s.as_fd(), OUT | EDGE, 1).unwrap();
        let mut ev = Events::with_capacity(4);
        // Whether the connect finished before or after registering, the edge is reported once.
        let _ = state;
        assert_eq!(ep.wait(&mut ev, Duration::from_secs(10)).unwrap(), 1);
        assert_eq!(ev.iter().next().map(|(t, e)| (t, e & OUT)), Some((1, OUT)));
        assert_eq!(ep.wait(&mut ev, Duration::from_millis(10)).unwrap(), 0);
        assert!(s.take_error().unwrap().is_none());
    }
}
