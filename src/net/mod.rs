//! The one place for system calls: poll and epoll, sockets through socket2, ICMP and raw IP sockets, error-queue
//! reads, TTL / hop limit, batched datagram I/O, socket filters, netlink, fd tables and process-wide calls.
//!
//! Every `unsafe` block of the network code lives here, each with a SAFETY comment; subsystems (ping, probe,
//! http, serve, sockets, capture, and the coming trace and SYN scan) call these safe wrappers. A subsystem that
//! needs a system call this layer lacks adds it here, not beside its own logic.
//!
//! Failures are `io::Error`s with the errno kept (`raw_os_error()`), so the explanation table can name them.
//! Opening a socket that needs privilege (raw IP, raw ICMP) returns [`OpenError`], whose `NotPermitted` arm
//! lets a caller say "needs root or CAP_NET_RAW" instead of printing an errno.

use std::fmt;
use std::io;

#[cfg(target_os = "linux")]
pub mod bpf;
pub mod clock;
#[cfg(target_os = "linux")]
pub mod epoll;
#[cfg(target_os = "linux")]
pub mod errqueue;
#[cfg(target_os = "linux")]
pub mod fdtable;
#[cfg(target_os = "linux")]
pub mod filter;
#[cfg(target_os = "linux")]
pub mod icmp;
#[cfg(target_os = "linux")]
pub mod mmsg;
#[cfg(target_os = "linux")]
pub mod msg;
pub mod neigh;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod packet;
pub mod poll;
pub mod process;
#[cfg(target_os = "linux")]
pub mod raw;
#[cfg(target_os = "linux")]
pub mod route;
pub mod socket;
pub mod sockopt;
#[cfg(target_os = "linux")]
pub mod txring;

/// Why a socket that may need privilege could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// EPERM / EACCES: the process lacks root or CAP_NET_RAW (or, for a datagram ICMP socket, its group is
    /// outside `net.ipv4.ping_group_range`). The error is the kernel's.
    NotPermitted(io::Error),
    /// Anything else (the family is disabled, out of descriptors, ...).
    Other(io::Error),
}

impl OpenError {
    /// Sorts an error from socket(2) or a setsockopt into the two cases.
    pub fn from_io(e: io::Error) -> OpenError {
        if is_permission(&e) {
            OpenError::NotPermitted(e)
        } else {
            OpenError::Other(e)
        }
    }

    /// The kernel's error, whichever the case.
    pub fn io(&self) -> &io::Error {
        match self {
            OpenError::NotPermitted(e) | OpenError::Other(e) => e,
        }
    }

    pub fn into_io(self) -> io::Error {
        match self {
            OpenError::NotPermitted(e) | OpenError::Other(e) => e,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotPermitted(e) => write!(f, "needs root or CAP_NET_RAW ({e})"),
            OpenError::Other(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.io())
    }
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> io::Error {
        e.into_io()
    }
}

/// True for the errors a missing privilege gives: EPERM and EACCES.
pub fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// True when a read or write on a socket with a short timeout slice ended without progress (EAGAIN, the timeout,
/// EINTR): the caller checks its own deadline and tries again. Any other error is the connection's.
pub fn is_slice_end(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_are_told_apart() {
        let e = OpenError::from_io(io::Error::from_raw_os_error(libc::EPERM));
        assert!(matches!(e, OpenError::NotPermitted(_)));
        assert!(
            e.to_string().starts_with("needs root or CAP_NET_RAW"),
            "{e}"
        );
        assert!(matches!(
            OpenError::from_io(io::Error::from_raw_os_error(libc::EACCES)),
            OpenError::NotPermitted(_)
        ));
        let e = OpenError::from_io(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        assert!(matches!(e, OpenError::Other(_)));
        assert_eq!(e.into_io().raw_os_error(), Some(libc::EAFNOSUPPORT));
    }
}
