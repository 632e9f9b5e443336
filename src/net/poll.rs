//! Waiting for sockets: one ppoll(2) wrapper with a deadline (nanosecond precision, so sub-millisecond pacing
//! gaps hold), safe against signals. Many sockets with few ready belong to [`crate::net::epoll`] instead.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Instant;

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Data to read, a connection to accept, or a queued error (POLLIN).
    Readable,
    /// Room to write, or a non-blocking connect that finished (POLLOUT).
    Writable,
}

/// One socket to wait on, with what happened to it after [`poll`]. Borrows the descriptor, so it cannot be
/// closed while polled.
#[repr(transparent)]
pub struct PollFd<'fd> {
    pfd: libc::pollfd,
    _fd: PhantomData<BorrowedFd<'fd>>,
}

impl<'fd> PollFd<'fd> {
    pub fn new(fd: &'fd impl AsFd, interest: Interest) -> PollFd<'fd> {
        PollFd::borrowed(fd.as_fd(), interest)
    }

    pub fn borrowed(fd: BorrowedFd<'fd>, interest: Interest) -> PollFd<'fd> {
        let events = match interest {
            Interest::Readable => libc::POLLIN,
            Interest::Writable => libc::POLLOUT,
        };
        PollFd {
            pfd: libc::pollfd {
                fd: fd.as_raw_fd(),
                events,
                revents: 0,
            },
            _fd: PhantomData,
        }
    }

    /// Something happened: the interest is met, or an error or hang-up (which the next read, write or
    /// `take_error` reports).
    pub fn ready(&self) -> bool {
        self.pfd.revents != 0
    }

    pub fn readable(&self) -> bool {
        self.pfd.revents & libc::POLLIN != 0
    }

    pub fn writable(&self) -> bool {
        self.pfd.revents & libc::POLLOUT != 0
    }

    /// POLLERR or POLLHUP.
    pub fn failed(&self) -> bool {
        self.pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
}

/// Waits until one of `fds` is ready or `deadline` passes; returns how many are ready (0 on timeout). A
/// deadline in the past polls without waiting. A signal (Ctrl-C) ends the wait early with 0 ready rather than
/// an EINTR error, so the caller's loop sees the interrupt flag at once.
pub fn poll(fds: &mut [PollFd<'_>], deadline: Instant) -> io::Result<usize> {
    for f in fds.iter_mut() {
        f.pfd.revents = 0;
    }
    let d = deadline.saturating_duration_since(Instant::now());
    let ts = libc::timespec {
        // A wait of more than i64::MAX seconds is forever; clamp rather than wrap.
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    };
    // SAFETY: PollFd is repr(transparent) over pollfd, so fds is a live array of fds.len() pollfd entries whose
    // descriptors are borrowed for the call; ts is a valid timespec; a null sigmask leaves the mask alone.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr().cast::<libc::pollfd>(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::Interrupted {
        return Ok(0);
    }
    Err(e)
}

/// Waits for one socket; true when it became ready before `deadline`.
pub fn wait(fd: &impl AsFd, interest: Interest, deadline: Instant) -> io::Result<bool> {
    let mut fds = [PollFd::new(fd, interest)];
    Ok(poll(&mut fds, deadline)? > 0 && fds[0].ready())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn readiness_and_deadline() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Nothing sent: the deadline ends the wait with nothing ready, and not before it.
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(30);
        assert!(!wait(&a, Interest::Readable, deadline).unwrap());
        assert!(Instant::now() >= deadline);
        // A past deadline only looks.
        assert!(wait(&a, Interest::Writable, t0).unwrap());
        b.send_to(b"x", a.local_addr().unwrap()).unwrap();
        let mut fds = [
            PollFd::new(&b, Interest::Readable),
            PollFd::new(&a, Interest::Readable),
        ];
        let n = poll(&mut fds, Instant::now() + Duration::from_secs(10)).unwrap();
        assert_eq!(n, 1);
        assert!(!fds[0].ready());
        assert!(fds[1].readable() && !fds[1].writable() && !fds[1].failed());
    }

    #[test]
    fn a_refused_udp_send_shows_as_an_error() {
        // A closed port on loopback answers with ICMP port unreachable; the connected socket reports it.
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.connect(("127.0.0.1", port)).unwrap();
        s.send(b"x").unwrap();
        let mut fds = [PollFd::new(&s, Interest::Readable)];
        assert_eq!(
            poll(&mut fds, Instant::now() + Duration::from_secs(10)).unwrap(),
            1
        );
        assert!(fds[0].failed());
        let e = s.recv(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
    }
}
