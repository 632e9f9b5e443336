//! Sending whole link-layer frames through an AF_PACKET socket with a memory-mapped transmit ring
//! (PACKET_TX_RING, TPACKET_V2) and the queueing discipline bypassed (PACKET_QDISC_BYPASS): frames are written
//! into memory shared with the kernel and one `send()` hands every ready frame to the driver — no routing, no
//! IP layer, no copy of a message header per packet. The SYN scanner sends its batches this way when the
//! route to the target leaves by an Ethernet interface.
//!
//! Also here: the interface facts the frames need — its index, hardware type and MAC address.

use super::packet::{check, setopt};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const TPACKET_V2: libc::c_int = 1;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_WRONG_FORMAT: u32 = 4;
/// Where a frame's data starts in its slot: TPACKET_ALIGN(sizeof(struct tpacket2_hdr)).
const DATA_OFFSET: usize = 32;
/// struct virtio_net_hdr.
const VNET_HDR: usize = 10;
/// ARPHRD_ETHER: interfaces whose frames start with an Ethernet header.
pub const ARPHRD_ETHER: u16 = 1;

/// An interface's hardware type (ARPHRD_*) and address (the first 6 bytes: a MAC for Ethernet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub hardware_type: u16,
    pub mac: [u8; 6],
}

/// The hardware type and MAC of interface `index` (SIOCGIFHWADDR on a throwaway datagram socket).
pub fn link_info(index: u32) -> io::Result<LinkInfo> {
    let name = super::packet::interface_name(index)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such interface"))?;
    // SAFETY: socket() has no memory preconditions.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the fd was just returned by socket() and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let sa = super::packet::hardware_address(fd.as_fd(), &name)?;
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(LinkInfo {
        index,
        hardware_type: sa.sa_family,
        mac,
    })
}

/// An AF_PACKET socket bound to one interface, receiving nothing, with a transmit ring of fixed-size slots.
pub struct TxRing {
    fd: OwnedFd,
    ring: *mut u8,
    frame_size: usize,
    frame_nr: usize,
    /// Slots per block (slots never straddle blocks) and the block size.
    per_block: usize,
    block_size: usize,
    /// The mapping's length.
    len: usize,
    /// The next slot to fill.
    current: usize,
    /// Slots filled since the last flush.
    queued: usize,
    /// Bytes of the virtio-net header in front of each frame (10), or 0 without one.
    vnet: usize,
}

// SAFETY: the ring is owned by this value alone; moving it to another thread moves that ownership.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Opens the socket, maps a ring of `frames` slots of `frame_size` bytes (each holding a frame of up to
    /// `frame_size - 32` bytes) and binds it to interface `index`. Needs CAP_NET_RAW.
    pub fn open(index: u32, frames: usize, frame_size: usize) -> io::Result<TxRing> {
        // Protocol 0: the socket is not hooked into receiving at all; it only sends.
        // SAFETY: socket() has no memory preconditions.
        let fd = check(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: the fd was just returned by socket() and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        setopt(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &TPACKET_V2,
        )?;
        // Straight to the driver: no qdisc (and none of its drops or requeues). Old kernels lack it: not fatal.
        let _ = setopt(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &1 as &libc::c_int,
        );
        // A virtio-net header in front of each frame whose `hdr_len` is the whole frame: the kernel then copies a
        // small frame into the socket buffer instead of attaching the ring's page to it, which a veth (or any
        // device that hands the buffer to another stack) would copy again, page and all.
        let vnet = if setopt(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            &1 as &libc::c_int,
        )
        .is_ok()
        {
            VNET_HDR
        } else {
            0
        };
        // A malformed slot is skipped rather than stopping the ring.
        setopt(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_LOSS,
            &1 as &libc::c_int,
        )?;
        // A power of two, so a block of pages holds whole slots.
        let frame_size = frame_size.max(64).next_power_of_two();
        let block_size = (frame_size * 32).max(64 * 1024);
        let per_block = block_size / frame_size;
        let block_nr = frames.div_ceil(per_block).max(1);
        let frame_nr = block_nr * per_block;
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: block_nr as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: frame_nr as u32,
        };
        setopt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_TX_RING, &req)?;
        let len = block_size * block_nr;
        // SAFETY: mapping the ring the kernel just allocated for this socket, shared, at a kernel-chosen address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = TxRing {
            fd,
            ring: p as *mut u8,
            frame_size,
            frame_nr,
            per_block,
            block_size,
            len,
            current: 0,
            queued: 0,
            vnet,
        };
        // SAFETY: an all-zero sockaddr_ll is valid; family and interface are set below, protocol 0 (receive
        // nothing).
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = index as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        check(unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(ring)
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.frame_nr
    }

    /// The largest frame a slot holds.
    pub fn max_frame(&self) -> usize {
        self.frame_size - DATA_OFFSET - self.vnet
    }

    fn slot(&self, i: usize) -> *mut u8 {
        let at = (i / self.per_block) * self.block_size + (i % self.per_block) * self.frame_size;
        // SAFETY: i < frame_nr, so the slot lies inside the mapping (the kernel's own layout: whole slots per
        // block).
        unsafe { self.ring.add(at) }
    }

    /// The status word of slot `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: tp_status is the first u32 of tpacket2_hdr at the slot's start, 16-byte aligned, and the
        // kernel and this process access it atomically.
        unsafe { &*(self.slot(i) as *const AtomicU32) }
    }

    /// Queues one frame: `fill` writes it into the next free slot (a buffer of [`max_frame`](Self::max_frame)
    /// bytes) and returns its length. Returns false, without calling `fill`, when the next slot is still the
    /// kernel's (the ring is full: [`flush`](Self::flush) and wait).
    pub fn push(&mut self, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        let i = self.current;
        let st = self.status(i).load(Ordering::Acquire);
        if st != TP_STATUS_AVAILABLE && st != TP_STATUS_WRONG_FORMAT {
            return false;
        }
        // SAFETY: the slot is ours (status AVAILABLE) until we hand it over below; its data area is
        // frame_size - DATA_OFFSET bytes inside the mapping, and nothing else refers to it now.
        let area = unsafe {
            std::slice::from_raw_parts_mut(
                self.slot(i).add(DATA_OFFSET),
                self.frame_size - DATA_OFFSET,
            )
        };
        let (hdr, data) = area.split_at_mut(self.vnet);
        let len =
            fill(&mut data[..self.frame_size - DATA_OFFSET - self.vnet]).min(self.max_frame());
        if self.vnet > 0 {
            // struct virtio_net_hdr (little-endian): no flags, no GSO, hdr_len = the whole frame, the rest 0.
            hdr.fill(0);
            hdr[2..4].copy_from_slice(&(len as u16).to_le_bytes());
        }
        let total = len + self.vnet;
        // SAFETY: tp_len is the u32 at offset 4 of tpacket2_hdr, inside the slot we own.
        unsafe { std::ptr::write_volatile(self.slot(i).add(4) as *mut u32, total as u32) };
        self.status(i)
            .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.current = (i + 1) % self.frame_nr;
        self.queued += 1;
        true
    }

    /// Frames queued since the last flush.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Hands every queued frame to the driver (one system call) without waiting for them to leave. Returns
    /// the bytes the kernel took; ENOBUFS / EAGAIN when the device queue is full (the frames stay queued).
    pub fn flush(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: a send with no buffer on a socket with a TX ring transmits the ring's ready slots.
            let rc =
                unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
            if rc >= 0 {
                self.queued = 0;
                return Ok(rc as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Waits up to `timeout` until the next slot is free again (the kernel has sent its frame).
    pub fn wait_slot(&mut self, timeout: Duration) -> io::Result<bool> {
        let free = |s: &TxRing| {
            let st = s.status(s.current).load(Ordering::Acquire);
            st == TP_STATUS_AVAILABLE || st == TP_STATUS_WRONG_FORMAT
        };
        if free(self) {
            return Ok(true);
        }
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(free(self))
    }
}

impl AsFd for TxRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `open`; no slice into it outlives `push`.
        unsafe {
            libc::munmap(self.ring as *mut libc::c_void, self.len);
        }
    }
}
