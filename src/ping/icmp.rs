//! The ICMP engine: one socket per address family for every target (raw when permitted, else the unprivileged
//! datagram "ping" socket), paced sends, and a poll loop that matches replies by source, identifier and
//! sequence (plus a run token in the data), counts duplicates and ignores everything else.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::packet::{self, IcmpErrorKind, Parsed, TOKEN_LEN};
use super::{HostState, IcmpErrorReport, PingEvent, PingRequest, ReplyRecord, Schedule};
use crate::explain;
use crate::interrupt;

/// Why the sockets could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Neither a raw nor a datagram ICMP socket is allowed for this process.
    NotPermitted(String),
    Other(io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Dgram,
}

struct IcmpSocket {
    sock: Socket,
    v6: bool,
    kind: Kind,
    /// The identifier the kernel gave a datagram socket (its "port").
    dgram_id: u16,
}

/// Receive buffer asked for: large enough for a burst of replies from thousands of hosts at `--rate 0`.
const RCVBUF: usize = 4 << 20;
/// Largest datagram read.
const RECV_MAX: usize = 65_536 + 128;

fn not_permitted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

fn setsockopt_int(sock: &Socket, level: i32, name: i32, val: i32) -> io::Result<()> {
    // SAFETY: a valid fd and a pointer to an int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&val as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// ICMP_FILTER (IPv4, level SOL_RAW) and ICMP6_FILTER (IPv6): a bit set per ICMP type means "block".
fn set_type_filter(sock: &Socket, v6: bool) -> io::Result<()> {
    const SOL_RAW: i32 = 255;
    const ICMP_FILTER: i32 = 1;
    const ICMP6_FILTER: i32 = 1;
    let (level, name, words): (i32, i32, Vec<u32>) = if v6 {
        let mut w = vec![u32::MAX; 8];
        for t in [1u8, 2, 3, 4, 129] {
            w[usize::from(t >> 5)] &= !(1u32 << (t & 31));
        }
        (libc::IPPROTO_ICMPV6, ICMP6_FILTER, w)
    } else {
        let pass = (1u32 << 0) | (1 << 3) | (1 << 11) | (1 << 12);
        (SOL_RAW, ICMP_FILTER, vec![!pass])
    };
    // SAFETY: a valid fd and a pointer to words.len() u32 values of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            words.as_ptr().cast(),
            (words.len() * 4) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl IcmpSocket {
    fn open(v6: bool, ttl: Option<u8>, dont_fragment: bool) -> Result<IcmpSocket, OpenError> {
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let (sock, kind) = match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => (s, Kind::Raw),
            Err(e) if not_permitted(&e) => match Socket::new(domain, Type::DGRAM, Some(proto)) {
                Ok(s) => (s, Kind::Dgram),
                Err(e2) if not_permitted(&e2) => {
                    return Err(OpenError::NotPermitted(explain::io_error(&e2).code))
                }
                Err(e2) => return Err(OpenError::Other(e2)),
            },
            Err(e) => return Err(OpenError::Other(e)),
        };
        let other = OpenError::Other;
        sock.set_nonblocking(true).map_err(other)?;
        // SO_RCVBUFFORCE passes the rmem_max cap when privileged; otherwise take what SO_RCVBUF gives.
        if setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF as i32).is_err() {
            let _ = sock.set_recv_buffer_size(RCVBUF);
        }
        let _ = sock.set_send_buffer_size(RCVBUF);
        if let Some(t) = ttl {
            if v6 {
                sock.set_unicast_hops_v6(u32::from(t)).map_err(other)?;
            } else {
                sock.set_ttl(u32::from(t)).map_err(other)?;
            }
        }
        if dont_fragment {
            // Path MTU discovery "do": the DF bit is set and an oversized echo fails with EMSGSIZE, as ping -M do.
            if v6 {
                setsockopt_int(
                    &sock,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MTU_DISCOVER,
                    libc::IPV6_PMTUDISC_DO,
                )
            } else {
                setsockopt_int(
                    &sock,
                    libc::IPPROTO_IP,
                    libc::IP_MTU_DISCOVER,
                    libc::IP_PMTUDISC_DO,
                )
            }
            .map_err(other)?;
        }
        // Ask for the TTL / hop limit of each reply as ancillary data (raw IPv4 has it in the header).
        if v6 {
            setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1).map_err(other)?;
        } else if kind == Kind::Dgram {
            setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVTTL, 1).map_err(other)?;
        }
        if kind == Kind::Dgram {
            // ICMP errors about our requests arrive on the error queue only when asked for.
            let _ = if v6 {
                setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)
            } else {
                setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
            };
        }
        // Kernel receive timestamps, as iputils uses: RTTs do not include the time replies wait in our queue.
        let _ = setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1);
        if kind == Kind::Raw {
            // Only echo replies and errors reach us; not our own echo requests (a raw socket on loopback sees
            // them), not neighbour discovery. Best effort: the parser ignores them anyway.
            let _ = set_type_filter(&sock, v6);
        }
        let mut dgram_id = 0;
        if kind == Kind::Dgram {
            let any: SocketAddr = if v6 {
                (Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (Ipv4Addr::UNSPECIFIED, 0).into()
            };
            sock.bind(&any.into()).map_err(other)?;
            dgram_id = sock
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.port())
                .unwrap_or(0);
        }
        Ok(IcmpSocket {
            sock,
            v6,
            kind,
            dgram_id,
        })
    }

    /// One datagram (or, with `MSG_ERRQUEUE`, one queued ICMP error) and its ancillary data.
    fn recv(&self, buf: &mut [u8], flags: i32) -> io::Result<Received> {
        let mut name = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut control = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is a valid starting value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in msg refers to live buffers of the lengths given.
        let n =
            unsafe { libc::recvmsg(self.sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT | flags) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut r = Received {
            len: (n as usize).min(buf.len()),
            // SAFETY: the kernel filled msg_name with msg_namelen bytes of a sockaddr.
            src: unsafe { sockaddr_ip(name.as_ptr(), msg.msg_namelen) },
            ttl: None,
            stamp: None,
            error: None,
        };
        // SAFETY: walking the control buffer with the CMSG macros the kernel's layout requires; every read is
        // of a type the (level, type) pair says is there, and within cmsg_len.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let (level, typ) = ((*c).cmsg_level, (*c).cmsg_type);
                let data = libc::CMSG_DATA(c);
                let data_len = ((*c).cmsg_len as usize).saturating_sub(data as usize - c as usize);
                if (level == libc::IPPROTO_IPV6 && typ == libc::IPV6_HOPLIMIT)
                    || (level == libc::IPPROTO_IP && typ == libc::IP_TTL)
                {
                    let v = std::ptr::read_unaligned(data.cast::<i32>());
                    r.ttl = u8::try_from(v).ok();
                } else if level == libc::SOL_SOCKET && typ == libc::SO_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                    if ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec) {
                        r.stamp = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                    }
                } else if ((level == libc::IPPROTO_IP && typ == libc::IP_RECVERR)
                    || (level == libc::IPPROTO_IPV6 && typ == libc::IPV6_RECVERR))
                    && data_len >= std::mem::size_of::<libc::sock_extended_err>()
                {
                    let ee = std::ptr::read_unaligned(data.cast::<libc::sock_extended_err>());
                    let off_len = data_len - std::mem::size_of::<libc::sock_extended_err>();
                    let mut off = MaybeUninit::<libc::sockaddr_storage>::zeroed();
                    let copy = off_len.min(std::mem::size_of::<libc::sockaddr_storage>());
                    std::ptr::copy_nonoverlapping(
                        data.add(std::mem::size_of::<libc::sock_extended_err>()),
                        off.as_mut_ptr().cast::<u8>(),
                        copy,
                    );
                    r.error = Some(QueuedError {
                        origin: ee.ee_origin,
                        icmp_type: ee.ee_type,
                        code: ee.ee_code,
                        offender: sockaddr_ip(off.as_ptr(), copy as libc::socklen_t),
                    });
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(r)
    }

    fn id_for(&self, base: u16, host: usize) -> u16 {
        match self.kind {
            Kind::Dgram => self.dgram_id,
            Kind::Raw => base.wrapping_add(host as u16),
        }
    }
}

/// What `recvmsg` returned, with its ancillary data.
struct Received {
    len: usize,
    src: Option<IpAddr>,
    /// TTL / hop limit (IP_TTL, IPV6_HOPLIMIT).
    ttl: Option<u8>,
    /// Kernel receive time since the epoch (SO_TIMESTAMPNS).
    stamp: Option<Duration>,
    /// From the error queue (IP_RECVERR / IPV6_RECVERR).
    error: Option<QueuedError>,
}

/// An ICMP error queued on a datagram socket (`sock_extended_err`).
struct QueuedError {
    origin: u8,
    icmp_type: u8,
    code: u8,
    offender: Option<IpAddr>,
}

/// sock_extended_err origins for ICMP and ICMPv6 errors.
const SO_EE_ORIGIN_ICMP: u8 = 2;
const SO_EE_ORIGIN_ICMP6: u8 = 3;

/// # Safety
/// `sa` must point to `len` readable bytes of a socket address.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr_storage, len: libc::socklen_t) -> Option<IpAddr> {
    let len = len as usize;
    match i32::from((*sa).ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            let s = &*sa.cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr))))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let s = &*sa.cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(s.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Replied,
    Errored,
}

struct Probe {
    key: (IpAddr, u16, u16),
    host: usize,
    seq: u16,
    sent: Instant,
    /// Wall-clock send time, to compare with the kernel's receive timestamp.
    sent_wall: Option<Duration>,
    state: State,
}

/// The probes in flight, in send order (so timeouts expire from the front), with a map from
/// (address, identifier, sequence) to the probe's serial number.
#[derive(Default)]
pub(crate) struct Inflight {
    probes: VecDeque<Probe>,
    first_serial: u64,
    by_key: HashMap<(IpAddr, u16, u16), u64>,
    pending: usize,
    /// The next sequence number on the wire for datagram sockets, where every probe shares the kernel's
    /// identifier: one counter for all hosts keeps (address, id, seq) unique even when two names resolve to
    /// the same address.
    wire_seq: u16,
}

/// What a received message means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Reply {
        host: usize,
        /// The host's own sequence number (icmp_seq as shown), whatever went on the wire.
        seq: u16,
        rtt: Duration,
        duplicate: bool,
    },
    Error {
        host: usize,
        seq: u16,
    },
    /// Not ours, or too late.
    Ignore,
}

impl Inflight {
    fn push(
        &mut self,
        key: (IpAddr, u16, u16),
        host: usize,
        seq: u16,
        sent: Instant,
        sent_wall: Option<Duration>,
    ) {
        let serial = self.first_serial + self.probes.len() as u64;
        self.by_key.insert(key, serial);
        self.probes.push_back(Probe {
            key,
            host,
            seq,
            sent,
            sent_wall,
            state: State::Pending,
        });
        self.pending += 1;
    }

    fn get(&mut self, key: &(IpAddr, u16, u16)) -> Option<&mut Probe> {
        let serial = *self.by_key.get(key)?;
        let idx = serial.checked_sub(self.first_serial)?;
        self.probes.get_mut(usize::try_from(idx).ok()?)
    }

    /// Matches a parsed message from `src` against the probes in flight. Pure apart from updating the probe's
    /// state; `token` is checked when the request carried one.
    pub(crate) fn classify(
        &mut self,
        parsed: &Parsed,
        src: Option<IpAddr>,
        token: Option<[u8; TOKEN_LEN]>,
        now: Instant,
        rx_wall: Option<Duration>,
    ) -> Match {
        match parsed {
            Parsed::EchoReply {
                id,
                seq,
                token: got,
                source,
                ..
            } => {
                let Some(src) = src.or(*source) else {
                    return Match::Ignore;
                };
                if token.is_some() && *got != token {
                    return Match::Ignore;
                }
                let Some(p) = self.get(&(src, *id, *seq)) else {
                    return Match::Ignore;
                };
                let mono = now.saturating_duration_since(p.sent);
                // The kernel timestamp when it is sane (the wall clock can step); our own clock otherwise.
                let rtt = match (rx_wall, p.sent_wall) {
                    (Some(rx), Some(tx)) if rx >= tx && rx - tx <= mono => rx - tx,
                    _ => mono,
                };
                let (host, seq) = (p.host, p.seq);
                match p.state {
                    State::Pending => {
                        p.state = State::Replied;
                        self.pending -= 1;
                        Match::Reply {
                            host,
                            seq,
                            rtt,
                            duplicate: false,
                        }
                    }
                    State::Replied => Match::Reply {
                        host,
                        seq,
                        rtt,
                        duplicate: true,
                    },
                    State::Errored => Match::Ignore,
                }
            }
            Parsed::Error {
                original_destination,
                id,
                seq,
                ..
            } => {
                let Some(p) = self.get(&(*original_destination, *id, *seq)) else {
                    return Match::Ignore;
                };
                if p.state != State::Pending {
                    return Match::Ignore;
                }
                p.state = State::Errored;
                let (host, seq) = (p.host, p.seq);
                self.pending -= 1;
                Match::Error { host, seq }
            }
        }
    }

    /// Forgets probes sent more than `timeout` ago (unanswered ones are lost). Returns when the next one
    /// expires.
    fn expire(&mut self, now: Instant, timeout: Duration) -> Option<Instant> {
        while let Some(front) = self.probes.front() {
            let until = front.sent + timeout;
            if until > now {
                return Some(until);
            }
            if front.state == State::Pending {
                self.pending -= 1;
            }
            if self.by_key.get(&front.key) == Some(&self.first_serial) {
                self.by_key.remove(&front.key);
            }
            self.probes.pop_front();
            self.first_serial += 1;
        }
        None
    }

    /// The hosts of the probes still waiting for a reply whose window (`timeout` from the send) has not ended,
    /// one entry per probe.
    fn unfinished(&self, now: Instant, timeout: Duration) -> Vec<usize> {
        self.probes
            .iter()
            .filter(|p| p.state == State::Pending && p.sent + timeout > now)
            .map(|p| p.host)
            .collect()
    }

    /// Drops every probe: the run is over; anything unanswered is lost.
    fn clear(&mut self) {
        self.probes.clear();
        self.by_key.clear();
        self.pending = 0;
    }
}

/// Open sockets for the families in use.
pub(crate) struct Engine {
    v4: Option<IcmpSocket>,
    v6: Option<IcmpSocket>,
    /// Per-family open failures other than permission (IPv6 disabled, ...): hosts of that family get it.
    v6_error: Option<io::Error>,
    v4_error: Option<io::Error>,
}

impl Engine {
    /// Opens one socket per family listed (`false` = IPv4, `true` = IPv6).
    pub fn open(families: &[bool], req: &PingRequest) -> Result<Engine, OpenError> {
        let mut e = Engine {
            v4: None,
            v6: None,
            v4_error: None,
            v6_error: None,
        };
        for &v6 in families {
            match IcmpSocket::open(v6, req.ttl, req.dont_fragment) {
                Ok(s) if v6 => e.v6 = Some(s),
                Ok(s) => e.v4 = Some(s),
                Err(OpenError::Other(err)) if families.len() > 1 => {
                    if v6 {
                        e.v6_error = Some(err)
                    } else {
                        e.v4_error = Some(err)
                    }
                }
                Err(err) => return Err(err),
            }
        }
        if families.len() > 1 && e.v4.is_none() && e.v6.is_none() {
            return Err(OpenError::Other(
                e.v4_error
                    .take()
                    .unwrap_or_else(|| io::Error::from(io::ErrorKind::Unsupported)),
            ));
        }
        Ok(e)
    }

    pub fn socket_kind(&self) -> &'static str {
        let k = self.v4.as_ref().or(self.v6.as_ref()).map(|s| s.kind);
        match k {
            Some(Kind::Dgram) => "datagram",
            _ => "raw",
        }
    }

    fn sock(&self, v6: bool) -> Option<&IcmpSocket> {
        if v6 {
            self.v6.as_ref()
        } else {
            self.v4.as_ref()
        }
    }

    /// Runs the sweep to the end (count, deadline or Ctrl-C). Returns whether it was interrupted.
    pub fn run(
        &self,
        req: &PingRequest,
        hosts: &mut [HostState],
        start: Instant,
        on_event: &mut dyn FnMut(&PingEvent),
    ) -> anyhow::Result<bool> {
        for h in hosts.iter_mut() {
            let Some(a) = h.addr else { continue };
            let err = if a.is_ipv6() {
                &self.v6_error
            } else {
                &self.v4_error
            };
            if let Some(e) = err {
                h.send_error = Some(explain::io_error(e));
            }
        }
        let rs = std::collections::hash_map::RandomState::new();
        let mut hasher = rs.build_hasher();
        hasher.write_u32(std::process::id());
        let random = hasher.finish();
        let token = random.to_be_bytes();
        let base_id = (random >> 48) as u16;
        let data = packet::payload(token, req.size);
        let check_token = (req.size >= TOKEN_LEN).then_some(token);
        let mut sched = Schedule::new(hosts, req, start);
        let mut inflight = Inflight::default();
        let end = req.deadline.map(|d| start + d);
        let mut buf = vec![0u8; RECV_MAX];
        let socks: Vec<&IcmpSocket> = [self.v4.as_ref(), self.v6.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        loop {
            if interrupt::requested() {
                // Probes still within their reply window are not lost: the host simply has not answered yet.
                for h in inflight.unfinished(Instant::now(), req.timeout) {
                    if let Some(host) = hosts.get_mut(h) {
                        host.unfinished += 1;
                    }
                }
                inflight.clear();
                return Ok(true);
            }
            let now = Instant::now();
            if end.is_some_and(|e| now >= e) {
                break;
            }
            let mut sent_now = 0;
            while let Some((h, due)) = sched.peek() {
                if due > now || sent_now >= 256 {
                    break;
                }
                self.send_one(
                    hosts,
                    h,
                    sched.round(),
                    base_id,
                    &data,
                    &mut inflight,
                    on_event,
                );
                sched.advance(due);
                sent_now += 1;
                if sent_now % 32 == 0 {
                    for s in &socks {
                        self.drain(s, &mut buf, hosts, &mut inflight, check_token, on_event);
                    }
                }
            }
            for s in &socks {
                self.drain(s, &mut buf, hosts, &mut inflight, check_token, on_event);
            }
            let now = Instant::now();
            let next_expiry = inflight.expire(now, req.timeout);
            let next_send = sched.peek().map(|(_, due)| due);
            if next_send.is_none() && inflight.pending == 0 {
                break;
            }
            let mut wake = now + Duration::from_millis(100);
            for t in [next_send, next_expiry, end].into_iter().flatten() {
                wake = wake.min(t);
            }
            wait_readable(&socks, wake.saturating_duration_since(now));
        }
        inflight.clear();
        Ok(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_one(
        &self,
        hosts: &mut [HostState],
        h: usize,
        round: u64,
        base_id: u16,
        data: &[u8],
        inflight: &mut Inflight,
        on_event: &mut dyn FnMut(&PingEvent),
    ) {
        let Some(addr) = hosts[h].addr else { return };
        let Some(sock) = self.sock(addr.is_ipv6()) else {
            return;
        };
        let id = sock.id_for(base_id, h);
        let seq = (round.wrapping_add(1) & 0xffff) as u16;
        let wire_seq = match sock.kind {
            Kind::Raw => seq,
            Kind::Dgram => {
                inflight.wire_seq = inflight.wire_seq.wrapping_add(1);
                inflight.wire_seq
            }
        };
        let msg = packet::echo_request(sock.v6, id, wire_seq, data);
        let dst: SockAddr = SocketAddr::new(addr, 0).into();
        let sent = Instant::now();
        let sent_wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok();
        let mut result = sock.sock.send_to(&msg, &dst);
        // A full send buffer at --rate 0: wait a little for room, a bounded number of times.
        for _ in 0..50 {
            match &result {
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    std::thread::sleep(Duration::from_millis(1));
                    result = sock.sock.send_to(&msg, &dst);
                }
                _ => break,
            }
        }
        let host = &mut hosts[h];
        host.sent += 1;
        match result {
            Ok(_) => inflight.push((addr, id, wire_seq), h, seq, sent, sent_wall),
            Err(e) => {
                host.errors += 1;
                let ex = explain::io_error(&e);
                on_event(&PingEvent::SendError {
                    host: &host.label,
                    address: addr,
                    seq,
                    error: &ex,
                });
                host.send_error = Some(ex);
            }
        }
    }

    fn drain(
        &self,
        sock: &IcmpSocket,
        buf: &mut [u8],
        hosts: &mut [HostState],
        inflight: &mut Inflight,
        token: Option<[u8; TOKEN_LEN]>,
        on_event: &mut dyn FnMut(&PingEvent),
    ) {
        // A datagram socket gets ICMP errors on its error queue (IP_RECVERR), not as packets.
        let mut errqueue = sock.kind == Kind::Dgram;
        // Bounded: at most this many datagrams per call; the poll loop comes back for more.
        for _ in 0..4096 {
            let flags = if errqueue { libc::MSG_ERRQUEUE } else { 0 };
            let got = match sock.recv(buf, flags) {
                Ok(r) => r,
                Err(_) if errqueue => {
                    errqueue = false;
                    continue;
                }
                Err(_) => return,
            };
            let (n, src, cmsg_ttl, rx_wall) = (got.len, got.src, got.ttl, got.stamp);
            let now = Instant::now();
            let parsed = match (&got.error, src) {
                (Some(e), Some(dst))
                    if e.origin == SO_EE_ORIGIN_ICMP || e.origin == SO_EE_ORIGIN_ICMP6 =>
                {
                    packet::parse_queued_error(
                        &buf[..n],
                        sock.v6,
                        e.icmp_type,
                        e.code,
                        dst,
                        e.offender,
                    )
                }
                (Some(_), _) => None,
                (None, _) => packet::parse_reply(&buf[..n], sock.v6, sock.kind == Kind::Raw),
            };
            let Some(parsed) = parsed else {
                continue;
            };
            match inflight.classify(&parsed, src, token, now, rx_wall) {
                Match::Ignore => {}
                Match::Reply {
                    host,
                    seq,
                    rtt,
                    duplicate,
                } => {
                    let (icmp_len, ttl) = match &parsed {
                        Parsed::EchoReply { icmp_len, ttl, .. } => (*icmp_len, ttl.or(cmsg_ttl)),
                        Parsed::Error { .. } => continue,
                    };
                    let h = &mut hosts[host];
                    let Some(address) = h.addr else { continue };
                    h.record(ReplyRecord {
                        seq,
                        bytes: icmp_len,
                        ttl,
                        rtt,
                        duplicate,
                        tcp_port: None,
                        refused: None,
                    });
                    if let Some(r) = h.replies.last() {
                        on_event(&PingEvent::Reply {
                            host: &h.label,
                            address,
                            reply: r,
                        });
                    }
                }
                Match::Error { host, seq } => {
                    let Parsed::Error {
                        kind, code, source, ..
                    } = parsed
                    else {
                        continue;
                    };
                    let Some(from) = source.or(src) else { continue };
                    let h = &mut hosts[host];
                    let Some(address) = h.addr else { continue };
                    h.errors += 1;
                    let report = IcmpErrorReport {
                        from,
                        seq,
                        icmp_type: type_name(kind),
                        code,
                        message: packet::describe_error(kind, code, sock.v6),
                    };
                    on_event(&PingEvent::IcmpError {
                        host: &h.label,
                        address,
                        error: &report,
                    });
                    h.icmp_error = Some(report);
                }
            }
        }
    }
}

fn type_name(k: IcmpErrorKind) -> &'static str {
    match k {
        IcmpErrorKind::DestinationUnreachable => "destination-unreachable",
        IcmpErrorKind::TimeExceeded => "time-exceeded",
        IcmpErrorKind::PacketTooBig => "packet-too-big",
        IcmpErrorKind::ParameterProblem => "parameter-problem",
    }
}

/// Waits until a socket is readable or `d` passes (nanosecond precision: pacing gaps are a millisecond or less).
fn wait_readable(socks: &[&IcmpSocket], d: Duration) {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    ppoll(&mut fds, d);
}

/// ppoll(2) over `fds` for at most `d`; the events land in each entry's `revents`.
pub(super) fn ppoll(fds: &mut [libc::pollfd], d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    };
    // SAFETY: fds is a live array of fds.len() pollfd; ts is a valid timespec; no signal mask change.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: u16, seq: u16, token: Option<[u8; 8]>) -> Parsed {
        Parsed::EchoReply {
            id,
            seq,
            icmp_len: 64,
            token,
            ttl: Some(64),
            source: None,
        }
    }

    #[test]
    fn replies_match_by_source_id_and_seq_and_dups_are_flagged() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let tok = Some(*b"tokentok");
        let mut f = Inflight::default();
        let t0 = Instant::now();
        f.push((a, 100, 1), 0, 1, t0, None);
        f.push((b, 101, 1), 1, 1, t0, None);
        assert_eq!(f.pending, 2);
        let now = t0 + Duration::from_millis(5);
        // Wrong source, foreign id, wrong seq, foreign token: ignored.
        assert_eq!(
            f.classify(&reply(100, 1, tok), Some(b), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(999, 1, tok), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 2, tok), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 1, Some(*b"someone ")), Some(a), tok, now, None),
            Match::Ignore
        );
        assert_eq!(
            f.classify(&reply(100, 1, tok), Some(a), tok, now, None),
            Match::Reply {
                host: 0,
                seq: 1,
                rtt: Duration::from_millis(5),
                duplicate: false
            }
        );
        assert!(matches!(
            f.classify(&reply(100, 1, tok), Some(a), tok, now, None),
            Match::Reply {
                duplicate: true,
                ..
            }
        ));
        assert_eq!(f.pending, 1);
        let err = Parsed::Error {
            kind: IcmpErrorKind::DestinationUnreachable,
            code: 1,
            original_destination: b,
            id: 101,
            seq: 1,
            source: Some("10.0.0.254".parse().unwrap()),
        };
        assert_eq!(
            f.classify(&err, None, tok, now, None),
            Match::Error { host: 1, seq: 1 }
        );
        assert_eq!(f.classify(&err, None, tok, now, None), Match::Ignore);
        assert_eq!(f.pending, 0);
    }

    #[test]
    fn kernel_timestamps_give_the_rtt_when_sane() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mut f = Inflight::default();
        let t0 = Instant::now();
        let tx = Duration::from_secs(1_000_000);
        f.push((a, 1, 1), 0, 1, t0, Some(tx));
        f.push((a, 1, 2), 0, 2, t0, Some(tx));
        let now = t0 + Duration::from_millis(5);
        // Received 20 us after sending by the kernel's clock, seen by us 5 ms later: 20 us.
        assert!(matches!(
            f.classify(&reply(1, 1, None), Some(a), None, now, Some(tx + Duration::from_micros(20))),
            Match::Reply { rtt, .. } if rtt == Duration::from_micros(20)
        ));
        // A wall clock that stepped backwards: our own clock.
        assert!(matches!(
            f.classify(&reply(1, 2, None), Some(a), None, now, Some(tx - Duration::from_secs(3))),
            Match::Reply { rtt, .. } if rtt == Duration::from_millis(5)
        ));
    }

    #[test]
    fn late_replies_after_the_timeout_are_ignored() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mut f = Inflight::default();
        let t0 = Instant::now();
        f.push((a, 1, 1), 0, 1, t0, None);
        f.push((a, 1, 2), 0, 2, t0 + Duration::from_secs(1), None);
        let next = f.expire(t0 + Duration::from_millis(1500), Duration::from_secs(1));
        assert_eq!(next, Some(t0 + Duration::from_secs(2)));
        assert_eq!(f.pending, 1);
        let now = t0 + Duration::from_millis(1600);
        assert_eq!(
            f.classify(&reply(1, 1, None), Some(a), None, now, None),
            Match::Ignore
        );
        assert!(matches!(
            f.classify(&reply(1, 2, None), Some(a), None, now, None),
            Match::Reply {
                host: 0,
                duplicate: false,
                ..
            }
        ));
    }
}
