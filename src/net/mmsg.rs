//! Batched datagram I/O: sendmmsg(2) and recvmmsg(2), many packets per system call, for raw scans and traces
//! (and any datagram socket). Buffers for receiving are allocated once in a [`RecvBatch`] and reused.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

use socket2::SockAddr;

/// At most this many messages go to the kernel per call (its UIO_MAXIOV limit).
const MAX_PER_CALL: usize = 1024;

/// Sends each (bytes, destination) as one datagram, in order, in as few system calls as the kernel allows.
/// Returns how many were sent: fewer than asked when the socket's buffer filled (non-blocking sockets) or a
/// later message failed; the error itself when the first one could not be sent.
pub fn send_batch(sock: &impl AsFd, msgs: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    send_with(sock, msgs.len(), |i| (msgs[i].0, SockAddr::from(msgs[i].1)))
}

/// [`send_batch`] over any list: `item(i)` gives message `i`.
pub(crate) fn send_with<'b>(
    sock: &impl AsFd,
    count: usize,
    item: impl Fn(usize) -> (&'b [u8], SockAddr),
) -> io::Result<usize> {
    let fd = sock.as_fd().as_raw_fd();
    let mut sent = 0;
    while sent < count {
        let n = (count - sent).min(MAX_PER_CALL);
        let items: Vec<(&[u8], SockAddr)> = (sent..sent + n).map(&item).collect();
        let mut iovs: Vec<libc::iovec> = items
            .iter()
            .map(|(b, _)| libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
        for (k, (_, to)) in items.iter().enumerate() {
            // SAFETY: mmsghdr is plain data; all-zero (null pointers, zero lengths) is a valid value.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = to.as_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_namelen = to.len();
            h.msg_hdr.msg_iov = &mut iovs[k];
            h.msg_hdr.msg_iovlen = 1;
            hdrs.push(h);
        }
        // SAFETY: hdrs holds n headers whose name and iovec pointers refer to `items` and `iovs`, alive and
        // unmoved for the call; the kernel only reads the buffers of a send (it writes msg_len).
        let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return if sent == 0 { Err(e) } else { Ok(sent) };
        }
        sent += rc as usize;
        if (rc as usize) < n {
            break;
        }
    }
    Ok(sent)
}

/// One datagram of a [`RecvBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub data: &'a [u8],
    /// The sender (for raw sockets the port is 0).
    pub from: Option<SocketAddr>,
    /// Longer than the slot: the rest was dropped.
    pub truncated: bool,
}

/// Reusable buffers for [`recv_batch`]: `messages` slots of `size` bytes each.
pub struct RecvBatch {
    data: Vec<u8>,
    size: usize,
    names: Vec<libc::sockaddr_storage>,
    meta: Vec<(usize, libc::socklen_t, bool)>,
    count: usize,
}

impl RecvBatch {
    pub fn new(messages: usize, size: usize) -> RecvBatch {
        let messages = messages.clamp(1, MAX_PER_CALL);
        RecvBatch {
            data: vec![0u8; messages * size],
            size,
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
            names: vec![unsafe { std::mem::zeroed() }; messages],
            meta: vec![(0, 0, false); messages],
            count: 0,
        }
    }

    /// Datagrams the last [`recv_batch`] received.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.count {
            return None;
        }
        let (len, namelen, truncated) = self.meta[i];
        let start = i * self.size;
        // SAFETY: names[i] is a sockaddr_storage the kernel filled with namelen (<= its size) bytes of an
        // address, the rest zero.
        let from = unsafe { SockAddr::new(self.names[i], namelen) }.as_socket();
        Some(Datagram {
            data: &self.data[start..start + len.min(self.size)],
            from,
            truncated,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Datagram<'_>> {
        (0..self.count).filter_map(|i| self.get(i))
    }
}

/// Receives as many queued datagrams as fit the batch without blocking; returns how many (0 when none was
/// queued). Read them with [`RecvBatch::get`] or [`RecvBatch::iter`].
pub fn recv_batch(sock: &impl AsFd, batch: &mut RecvBatch) -> io::Result<usize> {
    batch.count = 0;
    let n = batch.names.len();
    let size = batch.size;
    let base = batch.data.as_mut_ptr();
    let mut iovs: Vec<libc::iovec> = (0..n)
        .map(|i| libc::iovec {
            // SAFETY: i * size is within data (n slots of size bytes).
            iov_base: unsafe { base.add(i * size) }.cast(),
            iov_len: size,
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
    for (i, iov) in iovs.iter_mut().enumerate() {
        // SAFETY: mmsghdr is plain data; all-zero is a valid value.
        let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
        h.msg_hdr.msg_name = (&mut batch.names[i] as *mut libc::sockaddr_storage).cast();
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        hdrs.push(h);
    }
    let fd = sock.as_fd().as_raw_fd();
    let rc = loop {
        // SAFETY: hdrs holds n headers pointing at n name slots and n iovecs over disjoint slots of `data`,
        // all alive and unmoved for the call; a null timeout is allowed.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc >= 0 {
            break rc as usize;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(0),
            _ => return Err(e),
        }
    };
    for (i, h) in hdrs.iter().take(rc).enumerate() {
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        batch.meta[i] = (h.msg_len as usize, h.msg_hdr.msg_namelen, truncated);
    }
    batch.count = rc;
    Ok(rc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::poll::{self, Interest};
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    #[test]
    fn udp_batches_round_trip_on_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) + 1]).collect();
        let msgs: Vec<(&[u8], SocketAddr)> = payloads.iter().map(|p| (p.as_slice(), to)).collect();
        assert_eq!(send_batch(&tx, &msgs).unwrap(), 40);
        let mut batch = RecvBatch::new(16, 32);
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while got.len() < 40 && Instant::now() < end {
            poll::wait(&rx, Interest::Readable, end).unwrap();
            let n = recv_batch(&rx, &mut batch).unwrap();
            assert!(n <= 16);
            for d in batch.iter() {
                assert_eq!(d.from, Some(tx.local_addr().unwrap()));
                got.push((d.data.to_vec(), d.truncated));
            }
        }
        assert_eq!(got.len(), 40);
        for (i, (data, truncated)) in got.iter().enumerate() {
            // Slots are 32 bytes: the longer datagrams are cut and say so.
            let want = &payloads[i][..payloads[i].len().min(32)];
            assert_eq!(data.as_slice(), want);
            assert_eq!(*truncated, payloads[i].len() > 32);
        }
        assert_eq!(recv_batch(&rx, &mut batch).unwrap(), 0);
        assert!(batch.is_empty() && batch.get(0).is_none());
    }

    #[test]
    fn a_failed_first_send_is_the_error() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let e = send_batch(&tx, &[(b"x".as_slice(), v6)]).unwrap_err();
        assert!(e.raw_os_error().is_some());
        assert_eq!(send_batch(&tx, &[]).unwrap(), 0);
    }
}
