//! AF_PACKET capture: a packet socket bound to one interface or to all (`any`), a classic BPF filter attached
//! before any packet is queued, a TPACKET_V3 memory-mapped ring (what libpcap uses, and what tcpdump therefore
//! uses: the kernel writes packets into shared blocks and hands over a whole block at once, so there is no
//! system call or copy per packet), kernel drop counts from PACKET_STATISTICS, and promiscuous mode only when
//! asked.
//!
//! Link types: Ethernet and loopback interfaces are read raw (the Ethernet header included); interfaces without
//! a link header (tun, WireGuard) give raw IP; `any` and every other kind are read cooked (`SOCK_DGRAM`: the
//! network header first, the rest in the ring's `sockaddr_ll`), which the caller writes as Linux cooked v2.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::net::bpf::Program;

const ETH_P_ALL: u16 = 0x0003;
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 0xfffe;

/// How the socket sees packets, which decides the filter's offsets and the pcap link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Frames with their Ethernet header (Ethernet and loopback interfaces).
    Ethernet,
    /// Raw IP: interfaces without a link header.
    RawIp,
    /// Cooked: the network header first; protocol, interface and direction come beside the packet.
    Cooked,
}

/// What to open.
#[derive(Debug, Clone)]
pub struct Options {
    /// An interface name, or `None` for all interfaces (`any`).
    pub interface: Option<String>,
    /// Bytes kept of each packet (returned by the filter program as it accepts a packet).
    pub snaplen: u32,
    /// The ring's size in bytes.
    pub buffer: usize,
    /// How long the kernel waits before handing over a block that is not full.
    pub block_timeout: Duration,
    pub promiscuous: bool,
}

/// The kernel's counters since the socket was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets that passed the filter (the kernel counts those it dropped too, as libpcap reports them).
    pub received: u64,
    /// Packets that passed the filter but found the ring full.
    pub dropped: u64,
}

/// One captured packet, borrowed from the ring.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub data: &'a [u8],
    /// The packet's length on the wire (the captured part may be shorter).
    pub wire_len: u32,
    pub sec: u32,
    pub nsec: u32,
    pub ifindex: u32,
    /// PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING.
    pub pkttype: u8,
    /// The ethertype (host order).
    pub protocol: u16,
    /// The interface's ARPHRD_ type.
    pub hatype: u16,
    /// The link-layer source address (up to 8 bytes).
    pub addr: [u8; 8],
    pub addr_len: u8,
}

/// An open capture: the socket and its ring.
pub struct Capture {
    fd: OwnedFd,
    ring: *mut u8,
    block_size: usize,
    block_nr: usize,
    current: usize,
    framing: Framing,
    ifindex: u32,
    stats: Stats,
    block_timeout: Duration,
    bound: bool,
}

// SAFETY: the ring is owned by this value alone; moving it to another thread moves that ownership.
unsafe impl Send for Capture {}

/// A libc return code as a Result: negative is the errno.
pub(super) fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// setsockopt with a plain value.
pub(super) fn setopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    v: &T,
) -> io::Result<()> {
    // SAFETY: `v` points at a live T of the size passed; the kernel only reads it.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            v as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// The interface's index, or an error naming it.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// The interface's name for an index (None when it is gone).
pub fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has room for IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

/// The ARPHRD_ type of an interface (SIOCGIFHWADDR).
fn hardware_type(fd: BorrowedFd<'_>, name: &str) -> io::Result<u16> {
    Ok(hardware_address(fd, name)?.sa_family)
}

/// An interface's hardware address (SIOCGIFHWADDR on any socket `fd`): `sa_family` is its ARPHRD_ type, `sa_data`
/// starts with its MAC on Ethernet.
pub(super) fn hardware_address(fd: BorrowedFd<'_>, name: &str) -> io::Result<libc::sockaddr> {
    // SAFETY: an all-zero ifreq is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IF_NAMESIZE - 1))
    {
        *d = s as libc::c_char;
    }
    // SAFETY: `ifr` is a valid ifreq with a NUL-terminated name; SIOCGIFHWADDR writes into it.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) })?;
    // SAFETY: SIOCGIFHWADDR fills the ifr_hwaddr member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_hwaddr })
}

impl Capture {
    /// Opens a packet socket that receives nothing yet, and says how it frames packets, so the caller can
    /// compile its filter for that framing and pass it to [`Capture::start`].
    pub fn open(opts: &Options) -> io::Result<(Capture, Framing)> {
        let probe = |ty| {
            // SAFETY: socket() has no memory preconditions; protocol 0 means no packet is queued until bind.
            check(unsafe { libc::socket(libc::AF_PACKET, ty | libc::SOCK_CLOEXEC, 0) })
                // SAFETY: the fd was just returned by socket() and is owned by nothing else.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        };
        let (framing, ifindex) = match &opts.interface {
            None => (Framing::Cooked, 0),
            Some(name) => {
                let ifindex = interface_index(name)?;
                // The ioctl works on any socket; an IPv4 datagram one closes at once, where closing a packet
                // socket waits for an RCU grace period (milliseconds on a busy machine).
                // SAFETY: socket() has no memory preconditions.
                let tmp = check(unsafe {
                    libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
                })
                // SAFETY: the fd was just returned by socket() and is owned by nothing else.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })?;
                let framing = match hardware_type(tmp.as_fd(), name)? {
                    ARPHRD_ETHER | ARPHRD_LOOPBACK => Framing::Ethernet,
                    ARPHRD_NONE => Framing::RawIp,
                    _ => Framing::Cooked,
                };
                (framing, ifindex)
            }
        };
        let fd = probe(if framing == Framing::Cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        })?;
        let cap = Capture {
            fd,
            ring: std::ptr::null_mut(),
            block_size: 0,
            block_nr: 0,
            current: 0,
            framing,
            ifindex,
            stats: Stats::default(),
            block_timeout: opts.block_timeout,
            bound: false,
        };
        Ok((cap, framing))
    }

    /// Attaches the filter, maps the ring, turns on promiscuous mode if asked, and binds: packets flow from
    /// here on, each one already filtered by the kernel.
    pub fn start(&mut self, filter: &Program, opts: &Options) -> io::Result<()> {
        filter.attach(self.fd.as_fd())?;
        setopt(
            self.fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &TPACKET_V3,
        )?;
        // libpcap's geometry: 256 KiB blocks (room for a packet of the largest snapshot length), as many as
        // fit in the buffer.
        let block_size = 256 * 1024usize;
        let block_nr = (opts.buffer / block_size).max(2);
        let req = Req3 {
            block_size: block_size as u32,
            block_nr: block_nr as u32,
            frame_size: block_size as u32,
            frame_nr: block_nr as u32,
            retire_blk_tov: opts.block_timeout.as_millis().clamp(1, 60_000) as u32,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        setopt(
            self.fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
        )?;
        let len = block_size * block_nr;
        // SAFETY: mapping the ring the kernel just allocated for this socket, shared, at a kernel-chosen address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.ring = p as *mut u8;
        self.block_size = block_size;
        self.block_nr = block_nr;
        if opts.promiscuous && self.ifindex != 0 {
            let mreq = libc::packet_mreq {
                mr_ifindex: self.ifindex as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setopt(
                self.fd.as_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )?;
        }
        self.bind(ETH_P_ALL)?;
        self.bound = true;
        Ok(())
    }

    fn bind(&self, protocol: u16) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = self.ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        check(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block i lies inside the mapping; its status word (offset 8 of tpacket_block_desc) is a u32,
        // 4-byte aligned (blocks are page aligned), and the kernel and this process access it atomically.
        unsafe { &*(self.ring.add(i * self.block_size + 8) as *const AtomicU32) }
    }

    fn read_u32(&self, at: *const u8) -> u32 {
        // SAFETY: callers pass addresses inside a block this process owns (status USER), 4-byte aligned.
        unsafe { std::ptr::read_unaligned(at as *const u32) }
    }

    /// Waits up to `timeout` for a block, then hands every packet of every ready block to `f`, returning each
    /// block to the kernel after it. Returns the number of packets handed over; stops early (between packets)
    /// when `f` returns false.
    pub fn dispatch(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> io::Result<usize> {
        if self.ring.is_null() {
            return Ok(0);
        }
        if self.status(self.current).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd for the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(0);
                }
                return Err(e);
            }
            if pfd.revents & libc::POLLERR != 0 {
                // The interface went away or down: say so instead of polling an error forever.
                let mut err: libc::c_int = 0;
                let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: `err` has room for an int, whose size is passed in `len`.
                check(unsafe {
                    libc::getsockopt(
                        self.fd.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        &mut err as *mut libc::c_int as *mut libc::c_void,
                        &mut len,
                    )
                })?;
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(err));
                }
            }
        }
        let mut n = 0;
        // At most one pass over the ring per call, so a busy ring cannot starve the caller's own checks.
        for _ in 0..self.block_nr {
            if self.status(self.current).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                break;
            }
            let (count, more) = self.walk_block(self.current, f);
            n += count;
            self.status(self.current)
                .store(TP_STATUS_KERNEL, Ordering::Release);
            self.current = (self.current + 1) % self.block_nr;
            if !more {
                break;
            }
        }
        Ok(n)
    }

    fn walk_block(&self, i: usize, f: &mut dyn FnMut(&Frame<'_>) -> bool) -> (usize, bool) {
        // SAFETY: block i is inside the mapping.
        let base = unsafe { self.ring.add(i * self.block_size) };
        // SAFETY (for the reads below): the block belongs to this process until its status is set back to
        // KERNEL; offsets come from the kernel and are checked against the block's size before use.
        let num = self.read_u32(unsafe { base.add(12) }) as usize;
        let mut off = self.read_u32(unsafe { base.add(16) }) as usize;
        let mut n = 0;
        for _ in 0..num {
            if off == 0 || off + 48 + 20 > self.block_size {
                break;
            }
            // SAFETY: `off` + the header and sockaddr_ll fit in the block (checked above).
            let h = unsafe { base.add(off) };
            let next = self.read_u32(h) as usize;
            let sec = self.read_u32(unsafe { h.add(4) });
            let nsec = self.read_u32(unsafe { h.add(8) });
            let snap = self.read_u32(unsafe { h.add(12) }) as usize;
            let wire_len = self.read_u32(unsafe { h.add(16) });
            // SAFETY: tp_mac and tp_net are u16 at 24 and 26 of tpacket3_hdr.
            let (mac, net) = unsafe {
                (
                    std::ptr::read_unaligned(h.add(24) as *const u16) as usize,
                    std::ptr::read_unaligned(h.add(26) as *const u16) as usize,
                )
            };
            // The sockaddr_ll sits after the 48-byte header (TPACKET_ALIGN(sizeof(tpacket3_hdr))).
            let sll = unsafe { h.add(48) };
            let start = if self.framing == Framing::Cooked {
                net
            } else {
                mac
            };
            let wire_len = if self.framing == Framing::Cooked {
                wire_len.saturating_sub((net - mac.min(net)) as u32)
            } else {
                wire_len
            };
            let snap = if self.framing == Framing::Cooked {
                snap.saturating_sub(net.saturating_sub(mac))
            } else {
                snap
            };
            if off + start + snap > self.block_size {
                break;
            }
            // SAFETY: the packet's bytes lie inside the block (checked above) and stay untouched by the kernel
            // until the block is returned, after `f` is done with the frame.
            let data = unsafe { std::slice::from_raw_parts(h.add(start), snap) };
            let mut addr = [0u8; 8];
            // SAFETY: sockaddr_ll fields: protocol (be16) at 2, ifindex at 4, hatype at 8, pkttype at 10,
            // halen at 11, addr[8] at 12 — all inside the block (checked above).
            let (protocol, ifindex, hatype, pkttype, halen) = unsafe {
                std::ptr::copy_nonoverlapping(sll.add(12), addr.as_mut_ptr(), 8);
                (
                    u16::from_be(std::ptr::read_unaligned(sll.add(2) as *const u16)),
                    std::ptr::read_unaligned(sll.add(4) as *const i32) as u32,
                    std::ptr::read_unaligned(sll.add(8) as *const u16),
                    *sll.add(10),
                    (*sll.add(11)).min(8),
                )
            };
            n += 1;
            let frame = Frame {
                data,
                wire_len,
                sec,
                nsec,
                ifindex,
                pkttype,
                protocol,
                hatype,
                addr,
                addr_len: halen,
            };
            if !f(&frame) {
                return (n, false);
            }
            if next == 0 {
                break;
            }
            off += next;
        }
        (n, true)
    }

    /// Stops the flow of packets and hands over what the kernel still holds: unbinding stops new packets at
    /// once; a block the kernel has begun filling is handed over by its timer, so this waits for it (at most
    /// the block timeout and a little more).
    /// With `drain` false (the caller has all it wants), nothing more is read.
    pub fn stop(
        &mut self,
        drain: bool,
        f: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> io::Result<usize> {
        if !self.bound || self.ring.is_null() {
            return Ok(0);
        }
        self.stats_now()?;
        self.bind(0)?;
        self.bound = false;
        if !drain {
            return Ok(0);
        }
        let mut n = self.dispatch(Duration::ZERO, f)?;
        // SAFETY: reading the packet count of the block the kernel was filling; with the socket unbound no
        // packet is added any more, so the value is stable (a torn read would only make the wait shorter).
        let pending = unsafe {
            std::ptr::read_volatile(self.ring.add(self.current * self.block_size + 12) as *const u32)
        };
        if pending > 0 {
            let deadline =
                std::time::Instant::now() + self.block_timeout + Duration::from_millis(200);
            while std::time::Instant::now() < deadline {
                let got = self.dispatch(Duration::from_millis(20), f)?;
                n += got;
                if got > 0 {
                    break;
                }
            }
        }
        Ok(n)
    }

    /// Reads the kernel's counters (which reset on each read) into the running totals.
    fn stats_now(&mut self) -> io::Result<Stats> {
        let mut st = [0u32; 3];
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: `st` has room for a tpacket_stats_v3 (three u32), whose size is passed in `len`.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                st.as_mut_ptr() as *mut libc::c_void,
                &mut len,
            )
        })?;
        self.stats.received += u64::from(st[0]);
        self.stats.dropped += u64::from(st[1]);
        Ok(self.stats)
    }

    /// The counters so far: packets that passed the filter and packets the kernel dropped for want of room.
    pub fn stats(&mut self) -> io::Result<Stats> {
        self.stats_now()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if !self.ring.is_null() {
            // SAFETY: unmapping exactly the region mapped in `start`; no frame borrows outlive `dispatch`.
            unsafe {
                libc::munmap(
                    self.ring as *mut libc::c_void,
                    self.block_size * self.block_nr,
                );
            }
        }
    }
}

/// struct tpacket_req3.
#[repr(C)]
struct Req3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// The loopback interface's index, for the filter prelude that drops loopback's outgoing copies on `any`.
pub fn loopback_index() -> Option<u32> {
    interface_index("lo").ok()
}
