//! The TCP connect engine: non-blocking `connect()` over epoll (from `net/`), one event loop per core.
//!
//! Each thread owns its own epoll instance and takes work in chunks from a shared counter, so the cores stay
//! busy until the last port. All probes share one timeout, so the order in which they start is the order of
//! their deadlines: a FIFO of (slot, generation, deadline) replaces a timer per socket. Running out of file
//! descriptors (EMFILE/ENFILE) or local ports (EADDRNOTAVAIL) is never a port state: the probe is retried once
//! sockets free up, and the thread lowers its own concurrency.
//!
//! On loopback a connect to a closed port in the ephemeral range can connect to itself (the kernel picks the
//! destination port as the source port) or to another of the scanner's own sockets (simultaneous open). Both
//! look like an open port; both are detected and reported closed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket};

use super::model::{PortState, Reason};
use super::timing::{Next, RttEstimator};
use crate::explain::icmp::Message;
use crate::interrupt;
use crate::net::epoll::{self, Epoll, Events};
use crate::net::errqueue::{self, Origin};
use crate::net::socket as netsock;
use crate::net::sockopt;

/// The outcome of one probe, kept small: scans hold one per port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub state: PortState,
    pub reason: Reason,
    /// Connect latency in microseconds (for open and refused probes).
    pub latency_us: u32,
}

impl Done {
    const NOT_SCANNED: Done = Done {
        state: PortState::Interrupted,
        reason: Reason::None,
        latency_us: 0,
    };

    pub fn latency(&self) -> Option<Duration> {
        match self.state {
            PortState::Open | PortState::Closed if self.reason != Reason::SelfConnect => {
                Some(Duration::from_micros(u64::from(self.latency_us)))
            }
            _ => None,
        }
    }
}

/// What the engine is asked to probe: every address × every port, item `i` being
/// (`addrs[i / ports.len()]`, `ports[i % ports.len()]`).
pub struct Work<'a> {
    pub addrs: &'a [IpAddr],
    pub ports: &'a [u16],
}

impl Work<'_> {
    pub fn len(&self) -> usize {
        self.addrs.len() * self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn item(&self, i: usize) -> SocketAddr {
        let n = self.ports.len();
        SocketAddr::new(self.addrs[i / n], self.ports[i % n])
    }
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub timeout: Duration,
    /// Sockets in flight at once, over all threads.
    pub concurrency: usize,
    pub threads: usize,
    /// New connections per second, over all threads.
    pub rate: Option<u32>,
    /// Close open connections with a FIN (the peer sees a normal close) instead of a reset. Scans reset, so no
    /// TIME_WAIT piles up; a single check (`diagnose`) closes politely, so the server does not log a reset.
    pub graceful_close: bool,
    /// Adapt each host's timeout to the round trips measured to it, with `timeout` as the ceiling, and try a
    /// silent port once more before calling it filtered ([`super::timing`], the one rule for every scanner).
    /// Off: every probe waits `timeout` once.
    pub adaptive: bool,
}

/// The result of a run: one `Done` per item (`Interrupted` when Ctrl-C came first), and whether Ctrl-C stopped it.
pub struct Outcome {
    pub done: Vec<Done>,
    pub interrupted: bool,
}

const CHUNK: usize = 128;
/// How often a waiting loop looks at the Ctrl-C flag.
const POLL_INTERRUPT: Duration = Duration::from_millis(50);
/// Pause before retrying a probe that hit a resource limit with nothing else in flight.
const BACKOFF: Duration = Duration::from_millis(5);
/// Retries of one probe that keeps hitting a resource limit with nothing in flight, before its errno is reported.
const MAX_IDLE_RETRIES: u32 = 200;
/// Probes per thread that may be "young" (started less than `YOUNG_AGE` ago) at once. Refused and accepted
/// connects on a local network finish young; only probes waiting for a timeout (or a far host) grow old, and only
/// they need the large concurrency. Keeping the young window small keeps the kernel's queues and caches small: a
/// full loopback scan took 0.34 s with 64, 0.39 s with 256 and 0.53 s with 1,024 (same run, idle machine), and
/// silent ports still all wait together.
const YOUNG_WINDOW: usize = 64;
const YOUNG_AGE: Duration = Duration::from_millis(5);

/// Runs every probe of `work` and returns one outcome per item. `progress` counts finished probes.
pub fn run(work: &Work, cfg: &Config, progress: Option<&AtomicUsize>) -> Outcome {
    let total = work.len();
    let threads = cfg
        .threads
        .clamp(1, 64)
        .min(total.div_ceil(CHUNK).max(1))
        .min(cfg.concurrency.max(1));
    let next = AtomicUsize::new(0);
    let loopback = work.addrs.iter().any(IpAddr::is_loopback);
    // One probe cannot meet another of ours; only a self-connect is possible, and that is checked directly.
    let ports_in_use: Vec<AtomicU16> = if loopback && total > 1 {
        (0..2 * 65536).map(|_| AtomicU16::new(0)).collect()
    } else {
        Vec::new()
    };
    let est = Mutex::new(HashMap::new());
    let first_samples = AtomicUsize::new(0);
    let shared = Shared {
        est: &est,
        first_samples: &first_samples,
        work,
        next: &next,
        progress,
        ports_in_use: &ports_in_use,
        ephemeral: ephemeral_range(),
    };
    let per_thread = ThreadConfig {
        timeout: cfg.timeout,
        concurrency: (cfg.concurrency / threads).max(1),
        rate: cfg.rate.map(|r| (f64::from(r) / threads as f64).max(0.001)),
        graceful_close: cfg.graceful_close,
        adaptive: cfg.adaptive,
    };
    let mut done = vec![Done::NOT_SCANNED; total];
    let mut merge = |res: io::Result<Vec<(u32, Done)>>| match res {
        Ok(v) => {
            for (i, d) in v {
                done[i as usize] = d;
            }
        }
        Err(e) => {
            // epoll itself failed: no probe of that thread can be trusted; say so on each remaining port.
            let code = e.raw_os_error().unwrap_or(libc::EIO);
            for d in done
                .iter_mut()
                .filter(|d| d.state == PortState::Interrupted)
            {
                *d = Done {
                    state: PortState::Error,
                    reason: Reason::Errno(code),
                    latency_us: 0,
                };
            }
        }
    };
    if threads == 1 {
        let r = Loop::new(&shared, &per_thread).and_then(Loop::run);
        merge(r);
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| Loop::new(&shared, &per_thread).and_then(Loop::run)))
                .collect();
            for h in handles {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("scan thread panicked")));
                merge(r);
            }
        });
    }
    let interrupted = done.iter().any(|d| d.state == PortState::Interrupted);
    Outcome { done, interrupted }
}

struct Shared<'a> {
    /// Round-trip estimate per host (address index), shared by the threads, when adaptive.
    est: &'a Mutex<HashMap<u32, RttEstimator>>,
    /// Hosts that have had their first round trip measured: a thread that sees this grow shortens the waits of
    /// its probes in flight.
    first_samples: &'a AtomicUsize,
    work: &'a Work<'a>,
    next: &'a AtomicUsize,
    progress: Option<&'a AtomicUsize>,
    /// Per local port (IPv4 then IPv6), how many of our sockets use it; empty when no target is loopback.
    ports_in_use: &'a [AtomicU16],
    /// The kernel's range of local ports for connect(). A connect can only reach itself or another of our
    /// sockets when its target port is in this range, so only those probes need their local port tracked.
    ephemeral: (u16, u16),
}

/// `net.ipv4.ip_local_port_range` of this network namespace (also used for IPv6); every port when unreadable.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| parse_port_range(&s))
        .unwrap_or((1, 65535))
}

/// Parses `ip_local_port_range` ("32768\t60999\n"). Never panics.
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let mut it = s.split_whitespace().map(|w| w.parse::<u16>().ok());
    match (it.next()??, it.next()??, it.next()) {
        (lo, hi, None) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

struct ThreadConfig {
    timeout: Duration,
    concurrency: usize,
    rate: Option<f64>,
    graceful_close: bool,
    adaptive: bool,
}

/// One socket of the event loop. A socket whose connect was refused is reset by the kernel when netdiag reads the
/// error with a second `connect()`, and is then reused for the next probe: no socket(), epoll_ctl() or close() per
/// refused port, which is most of a scan's system time.
struct Slot {
    /// The socket, if the slot has one.
    sock: Option<Socket>,
    v6: bool,
    /// A probe is in flight on it.
    live: bool,
    item: u32,
    /// Counts the probes of this slot, so FIFO entries of earlier probes are recognised as stale.
    seq: u32,
    start: Instant,
    /// Index into `ports_in_use` (family offset + local port), when tracked.
    local: Option<usize>,
    /// In flight for longer than `YOUNG_AGE`.
    old: bool,
    /// Tries of this probe before the current one (0: the first).
    tries: u8,
    /// How long the current try waits.
    timeout: Duration,
}

struct Loop<'a> {
    sh: &'a Shared<'a>,
    cfg: &'a ThreadConfig,
    ep: Epoll,
    slots: Vec<Slot>,
    /// Idle slots holding a reset socket, per family (IPv4, IPv6).
    idle: [Vec<u32>; 2],
    /// Idle slots without a socket.
    empty: Vec<u32>,
    /// Deadlines of the probes in flight (earliest first): (deadline, slot, generation). An entry whose slot has
    /// moved on to another generation is stale and skipped.
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// `first_samples` as this thread last saw it.
    seen_first: usize,
    /// Probes that stayed silent and are to be tried again: item → (tries made, time waited so far).
    attempts: HashMap<u32, (u8, Duration)>,
    resend: VecDeque<u32>,
    /// Probes by start time, to count the ones that grew old (a second FIFO, aged at `YOUNG_AGE`).
    young: VecDeque<(u32, u32, Instant)>,
    old: usize,
    inflight: usize,
    cap: usize,
    chunk: std::ops::Range<usize>,
    retry: VecDeque<(u32, u32)>,
    backoff_until: Option<Instant>,
    started: u64,
    t0: Instant,
    results: Vec<(u32, Done)>,
    finished_since_report: usize,
}

enum Start {
    Pending,
    Finished(Done),
    Retry(i32),
}

impl<'a> Loop<'a> {
    fn new(sh: &'a Shared<'a>, cfg: &'a ThreadConfig) -> io::Result<Loop<'a>> {
        Ok(Loop {
            sh,
            cfg,
            ep: Epoll::new()?,
            slots: Vec::new(),
            idle: [Vec::new(), Vec::new()],
            empty: Vec::new(),
            deadlines: BinaryHeap::new(),
            seen_first: 0,
            attempts: HashMap::new(),
            resend: VecDeque::new(),
            young: VecDeque::new(),
            old: 0,
            inflight: 0,
            cap: cfg.concurrency,
            chunk: 0..0,
            retry: VecDeque::new(),
            backoff_until: None,
            started: 0,
            t0: Instant::now(),
            results: Vec::new(),
            finished_since_report: 0,
        })
    }

    fn run(mut self) -> io::Result<Vec<(u32, Done)>> {
        let mut events = Events::with_capacity(1024);
        loop {
            if interrupt::requested() {
                break;
            }
            let now = Instant::now();
            let rate_wait = self.fill(now);
            if self.inflight == 0 && rate_wait.is_none() {
                // fill() stops with nothing in flight and nothing to wait for only when the work is done.
                break;
            }
            let wait = self.wait_time(Instant::now(), rate_wait);
            // A signal ends the wait with no events; the loop then looks at the Ctrl-C flag.
            self.ep.wait(&mut events, wait)?;
            for (token, flags) in events.iter() {
                self.on_event(token as u32, flags);
            }
            self.shorten_waits();
            self.expire(Instant::now());
            self.report_progress();
        }
        self.report_progress();
        Ok(mem::take(&mut self.results))
    }

    /// Starts probes until the concurrency cap, the rate or the work runs out. Returns how long to wait for the
    /// rate limiter (or backoff) when that is what stopped it.
    fn fill(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.backoff_until {
            if now < until {
                return Some(until - now);
            }
            self.backoff_until = None;
        }
        self.age(now);
        while self.inflight < self.cap && self.inflight - self.old < YOUNG_WINDOW {
            if let Some(rate) = self.cfg.rate {
                let allowed = (now.duration_since(self.t0).as_secs_f64() * rate) as u64 + 1;
                if self.started >= allowed {
                    let next = (self.started as f64) / rate;
                    let at = self.t0 + Duration::from_secs_f64(next);
                    return Some(
                        at.saturating_duration_since(now)
                            .max(Duration::from_micros(100)),
                    );
                }
            }
            let Some((item, tries)) = self.next_item() else {
                // No more work: idle sockets are not needed any more.
                self.close_idle();
                return None;
            };
            self.started += 1;
            match self.start(item) {
                Start::Pending => {}
                Start::Finished(d) => self.finish(item, d),
                Start::Retry(code) => {
                    if self.inflight == 0 && tries >= MAX_IDLE_RETRIES {
                        self.finish(item, failed(code, 0));
                        continue;
                    }
                    self.retry.push_front((item, tries + 1));
                    self.close_idle();
                    if self.inflight > 0 {
                        // Wait for sockets in flight to finish: they free descriptors and ports.
                        self.cap = self.inflight;
                        return None;
                    }
                    self.backoff_until = Some(now + BACKOFF);
                    return Some(BACKOFF);
                }
            }
        }
        None
    }

    /// Marks probes started more than `YOUNG_AGE` ago and still in flight as old.
    fn age(&mut self, now: Instant) {
        while let Some(&(slot, seq, start)) = self.young.front() {
            if start + YOUNG_AGE > now {
                break;
            }
            self.young.pop_front();
            let s = &mut self.slots[slot as usize];
            if s.live && s.seq == seq && !s.old {
                s.old = true;
                self.old += 1;
            }
        }
    }

    /// The probe on a slot is over (answered, timed out or abandoned).
    fn end_probe(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if s.old {
            s.old = false;
            self.old -= 1;
        }
        s.live = false;
        self.inflight -= 1;
    }

    fn next_item(&mut self) -> Option<(u32, u32)> {
        if let Some(r) = self.retry.pop_front() {
            return Some(r);
        }
        if let Some(item) = self.resend.pop_front() {
            return Some((item, 0));
        }
        if self.chunk.is_empty() {
            let total = self.sh.work.len();
            let start = self.sh.next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= total {
                return None;
            }
            self.chunk = start..(start + CHUNK).min(total);
        }
        self.chunk.next().map(|i| (i as u32, 0))
    }

    fn wait_time(&self, now: Instant, rate_wait: Option<Duration>) -> Duration {
        let mut wait = POLL_INTERRUPT;
        if let Some(r) = rate_wait {
            wait = wait.min(r);
        }
        if let Some(Reverse((deadline, _, _))) = self.deadlines.peek() {
            wait = wait.min(deadline.saturating_duration_since(now));
        }
        if self.inflight - self.old >= YOUNG_WINDOW {
            if let Some(&(_, _, start)) = self.young.front() {
                wait = wait.min((start + YOUNG_AGE).saturating_duration_since(now));
            }
        }
        wait
    }

    /// An idle slot with a socket of the family (reused, or new and registered with epoll).
    fn socket_slot(&mut self, v6: bool) -> Result<(u32, bool), Start> {
        if let Some(i) = self.idle[usize::from(v6)].pop() {
            return Ok((i, true));
        }
        let sock = match netsock::tcp_socket(v6) {
            Ok(s) => s,
            Err(e) => {
                let code = errno(&e);
                return Err(match code {
                    libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => {
                        Start::Retry(code)
                    }
                    _ => Start::Finished(failed(code, 0)),
                });
            }
        };
        let i = match self.empty.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    sock: None,
                    v6,
                    live: false,
                    item: 0,
                    seq: 0,
                    start: self.t0,
                    local: None,
                    old: false,
                    tries: 0,
                    timeout: Duration::ZERO,
                });
                (self.slots.len() - 1) as u32
            }
        };
        // Edge-triggered: an idle (reset) socket reports HUP forever under level triggering.
        if let Err(e) = self
            .ep
            .add(sock.as_fd(), epoll::OUT | epoll::EDGE, u64::from(i))
        {
            let code = errno(&e);
            drop(sock);
            self.empty.push(i);
            return Err(match code {
                libc::ENOMEM | libc::ENOSPC => Start::Retry(code),
                _ => Start::Finished(failed(code, 0)),
            });
        }
        // ICMP errors about the SYN on the error queue: who rejected it, and how.
        let _ = errqueue::enable(&sock, v6);
        let s = &mut self.slots[i as usize];
        s.sock = Some(sock);
        s.v6 = v6;
        Ok((i, false))
    }

    fn start(&mut self, item: u32) -> Start {
        let addr = self.sh.work.item(item as usize);
        let (slot, reused) = match self.socket_slot(addr.is_ipv6()) {
            Ok(x) => x,
            Err(s) => return s,
        };
        let sa = SockAddr::from(addr);
        let start = Instant::now();
        let code = connect_errno(self.slots[slot as usize].sock.as_ref(), &sa);
        match code {
            libc::EINPROGRESS => {
                let local = self.track_local(slot, addr);
                let tries = self.attempts.get(&item).map_or(0, |a| a.0);
                let timeout = if self.cfg.adaptive {
                    self.estimator(item).timeout_for(tries)
                } else {
                    self.cfg.timeout
                };
                let s = &mut self.slots[slot as usize];
                s.live = true;
                s.item = item;
                s.seq = s.seq.wrapping_add(1);
                s.start = start;
                s.local = local;
                s.old = false;
                s.tries = tries;
                s.timeout = timeout;
                let seq = s.seq;
                self.inflight += 1;
                self.deadlines.push(Reverse((start + timeout, slot, seq)));
                self.young.push_back((slot, seq, start));
                Start::Pending
            }
            0 => {
                let local = self.track_local(slot, addr);
                let d = self.connected(slot, addr, start, local);
                self.drop_socket(slot, local, true);
                Start::Finished(d)
            }
            libc::EALREADY | libc::EISCONN | libc::EINVAL if reused => {
                // The reused socket was not reset as expected: use a fresh one.
                self.drop_socket(slot, None, false);
                self.start(item)
            }
            libc::EADDRNOTAVAIL | libc::EAGAIN | libc::ENOBUFS => {
                self.drop_socket(slot, None, false);
                Start::Retry(code)
            }
            _ => {
                self.drop_socket(slot, None, false);
                Start::Finished(failed(code, micros(start.elapsed())))
            }
        }
    }

    fn on_event(&mut self, slot: u32, flags: u32) {
        let i = slot as usize;
        let Some(s) = self.slots.get(i) else {
            return;
        };
        if !s.live {
            // A wakeup from an idle socket's reset: nothing in flight there.
            return;
        }
        let (item, start, local, v6, tries) = (s.item, s.start, s.local, s.v6, s.tries);
        let addr = self.sh.work.item(item as usize);
        // A second connect() tells how the first one ended: 0 connected, EALREADY still in progress, or the
        // error — and on an error the kernel resets the socket so it can be used again.
        let code = connect_errno(s.sock.as_ref(), &SockAddr::from(addr));
        let d = match code {
            libc::EALREADY | libc::EINPROGRESS => {
                // An ICMP error can leave the socket in SYN-SENT with the error pending (EPOLLERR, SO_ERROR
                // set) while connect() still says EALREADY: read SO_ERROR, or the port waits for the
                // kernel's SYN retransmission.
                if flags & (epoll::ERR | epoll::HUP) == 0 {
                    return;
                }
                let pending = s
                    .sock
                    .as_ref()
                    .and_then(|sock| sockopt::get_int(sock, libc::SOL_SOCKET, libc::SO_ERROR).ok())
                    .unwrap_or(0);
                if pending == 0 {
                    return;
                }
                let d = self.failure(slot, addr, pending, start);
                self.end_probe(slot);
                // Still half-open in the kernel: closed, not reused.
                self.drop_socket(slot, local, false);
                d
            }
            0 | libc::EISCONN => {
                let d = self.connected(slot, addr, start, local);
                self.end_probe(slot);
                self.drop_socket(slot, local, true);
                d
            }
            _ => {
                let d = self.failure(slot, addr, code, start);
                self.end_probe(slot);
                self.untrack(local);
                self.slots[i].local = None;
                self.idle[usize::from(v6)].push(slot);
                d
            }
        };
        let answered = matches!(d.reason, Reason::None | Reason::Icmp { .. })
            || d.reason == Reason::Errno(libc::ECONNREFUSED);
        // Karn: only first tries measure the round trip.
        if answered && tries == 0 {
            self.measured(item, Duration::from_micros(u64::from(d.latency_us)));
        }
        self.attempts.remove(&item);
        self.finish(item, d);
        if self.cap < self.cfg.concurrency && self.retry.is_empty() {
            // Pressure is gone: grow back slowly.
            self.cap += 1;
        }
    }

    /// A probe that ended with `code`: the ICMP error behind it when the error queue holds one (type, code and
    /// sender), else the errno. Drains the queue so a reused socket starts clean.
    fn failure(&self, slot: u32, addr: SocketAddr, code: i32, start: Instant) -> Done {
        let latency_us = micros(start.elapsed());
        let mut icmp = None;
        if let Some(sock) = self.slots[slot as usize].sock.as_ref() {
            for _ in 0..8 {
                match errqueue::read(sock) {
                    Ok(Some(r)) => {
                        if icmp.is_none() {
                            if let (Origin::Icmp | Origin::Icmp6, Some(from)) =
                                (r.error.origin, r.error.offender)
                            {
                                icmp = Some((
                                    Message {
                                        v6: r.error.origin == Origin::Icmp6,
                                        icmp_type: r.error.icmp_type,
                                        code: r.error.icmp_code,
                                    },
                                    from,
                                ));
                            }
                        }
                    }
                    _ => break,
                }
            }
        }
        match icmp {
            Some((msg, from)) => Done {
                state: super::model::state_of_icmp(msg, from == addr.ip()),
                reason: Reason::Icmp {
                    msg,
                    from,
                    by_target: from == addr.ip(),
                },
                latency_us,
            },
            None if code == libc::EACCES && addr.is_ipv6() => Done {
                state: PortState::Filtered,
                reason: Reason::DeniedV6,
                latency_us,
            },
            None => failed(code, latency_us),
        }
    }

    fn host_of(&self, item: u32) -> u32 {
        (item as usize / self.sh.work.ports.len().max(1)) as u32
    }

    /// The estimate of the host of `item` (a copy).
    fn estimator(&self, item: u32) -> RttEstimator {
        let host = self.host_of(item);
        let est = self.sh.est.lock().unwrap_or_else(|e| e.into_inner());
        est.get(&host)
            .copied()
            .unwrap_or_else(|| RttEstimator::new(self.cfg.timeout))
    }

    /// A round trip measured to the host of `item`.
    fn measured(&mut self, item: u32, rtt: Duration) {
        if !self.cfg.adaptive {
            return;
        }
        let host = self.host_of(item);
        let first = {
            let mut est = self.sh.est.lock().unwrap_or_else(|e| e.into_inner());
            let e = est
                .entry(host)
                .or_insert_with(|| RttEstimator::new(self.cfg.timeout));
            e.sample(rtt);
            e.samples() == 1
        };
        if first {
            self.sh.first_samples.fetch_add(1, Ordering::Relaxed);
        }
        self.shorten_waits();
    }

    /// When some host has had its first round trip measured (by any thread), the probes in flight to it were
    /// started with the ceiling: give them the measured timeout instead.
    fn shorten_waits(&mut self) {
        if !self.cfg.adaptive {
            return;
        }
        let now_first = self.sh.first_samples.load(Ordering::Relaxed);
        if now_first == self.seen_first {
            return;
        }
        self.seen_first = now_first;
        let est = self.sh.est.lock().unwrap_or_else(|e| e.into_inner());
        for (i, s) in self.slots.iter_mut().enumerate() {
            if !s.live || s.tries != 0 {
                continue;
            }
            let host = (s.item as usize / self.sh.work.ports.len().max(1)) as u32;
            if let Some(e) = est.get(&host) {
                let timeout = e.timeout();
                if timeout < s.timeout {
                    s.timeout = timeout;
                    self.deadlines
                        .push(Reverse((s.start + timeout, i as u32, s.seq)));
                }
            }
        }
    }

    /// A connect that succeeded: open, unless it reached itself or another of our own sockets.
    fn connected(&self, slot: u32, addr: SocketAddr, start: Instant, local: Option<usize>) -> Done {
        let latency_us = micros(start.elapsed());
        let sock = self.slots[slot as usize].sock.as_ref();
        if sock.is_some_and(netsock::is_self_connect) {
            return Done {
                state: PortState::Closed,
                reason: Reason::SelfConnect,
                latency_us,
            };
        }
        if let Some(own) = local {
            let peer = family_offset(&addr) + usize::from(addr.port());
            let users = self.sh.ports_in_use[peer].load(Ordering::Relaxed);
            if peer != own && users > 0 {
                return Done {
                    state: PortState::Closed,
                    reason: Reason::CrossConnect,
                    latency_us,
                };
            }
        }
        Done {
            state: PortState::Open,
            reason: Reason::None,
            latency_us,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((deadline, slot, seq))) = self.deadlines.peek() {
            let i = slot as usize;
            let live = self.slots[i].live && self.slots[i].seq == seq;
            if !live {
                self.deadlines.pop();
                continue;
            }
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let s = &self.slots[i];
            let (item, local, tries, timeout) = (s.item, s.local, s.tries, s.timeout);
            self.end_probe(slot);
            // A socket still in SYN_SENT is closed, not reused.
            self.drop_socket(slot, local, false);
            let waited = self.attempts.get(&item).map_or(Duration::ZERO, |a| a.1) + timeout;
            let next = if self.cfg.adaptive {
                self.estimator(item).after_silence(tries + 1, timeout)
            } else {
                Next::Silent
            };
            if next == Next::Retry {
                self.attempts.insert(item, (tries + 1, waited));
                self.resend.push_back(item);
                continue;
            }
            self.attempts.remove(&item);
            self.finish(
                item,
                Done {
                    state: PortState::Filtered,
                    reason: Reason::Timeout(waited),
                    latency_us: 0,
                },
            );
        }
    }

    fn finish(&mut self, item: u32, d: Done) {
        self.results.push((item, d));
        self.finished_since_report += 1;
    }

    fn report_progress(&mut self) {
        if let Some(p) = self.sh.progress {
            p.fetch_add(self.finished_since_report, Ordering::Relaxed);
        }
        self.finished_since_report = 0;
    }

    /// Notes the local port of a socket to a loopback target, so a connect to it from another of our sockets is
    /// recognised.
    fn track_local(&self, slot: u32, addr: SocketAddr) -> Option<usize> {
        let (lo, hi) = self.sh.ephemeral;
        if self.sh.ports_in_use.is_empty()
            || !addr.ip().is_loopback()
            || !(lo..=hi).contains(&addr.port())
        {
            return None;
        }
        let port = netsock::local_port(self.slots[slot as usize].sock.as_ref()?)?;
        let i = family_offset(&addr) + usize::from(port);
        self.sh.ports_in_use[i].fetch_add(1, Ordering::Relaxed);
        Some(i)
    }

    fn untrack(&self, local: Option<usize>) {
        if let Some(i) = local {
            self.sh.ports_in_use[i].fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes a slot's socket and makes the slot empty; a connected socket is reset (SO_LINGER 0) so no
    /// TIME_WAIT piles up, unless the run asked for a graceful close.
    fn drop_socket(&mut self, slot: u32, local: Option<usize>, connected: bool) {
        let s = &mut self.slots[slot as usize];
        let sock = s.sock.take();
        s.live = false;
        s.local = None;
        if let Some(sock) = sock {
            if connected && !self.cfg.graceful_close {
                // SO_LINGER 0: close sends a reset.
                let _ = sock.set_linger(Some(Duration::ZERO));
            }
            // Dropping closes it (and takes it out of the epoll set).
        }
        self.untrack(local);
        self.empty.push(slot);
    }

    /// Closes every idle socket (the work ran out, or descriptors are short).
    fn close_idle(&mut self) {
        for fam in 0..2 {
            while let Some(slot) = self.idle[fam].pop() {
                self.drop_socket(slot, None, false);
            }
        }
    }
}

impl Drop for Loop<'_> {
    fn drop(&mut self) {
        // The sockets and the epoll instance close when their fields drop.
        for s in &mut self.slots {
            if let Some(i) = s.local.take() {
                self.sh.ports_in_use[i].fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

fn failed(code: i32, latency_us: u32) -> Done {
    Done {
        state: super::model::state_of_errno(code),
        reason: Reason::Errno(code),
        latency_us,
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

fn family_offset(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        0
    } else {
        65536
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// connect(2) on a slot's socket as an errno (0 when connected): the engine decides by errno.
fn connect_errno(sock: Option<&Socket>, addr: &SockAddr) -> i32 {
    match sock.map(|s| s.connect(addr)) {
        Some(Ok(())) => 0,
        Some(Err(e)) => errno(&e),
        None => libc::EBADF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn cfg(timeout_ms: u64) -> Config {
        Config {
            timeout: Duration::from_millis(timeout_ms),
            concurrency: 64,
            threads: 2,
            rate: None,
            graceful_close: false,
            adaptive: true,
        }
    }

    #[test]
    fn open_and_closed_on_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap().port();
        let closed = {
            let c = TcpListener::bind("127.0.0.1:0").unwrap();
            c.local_addr().unwrap().port()
        };
        let addrs = ["127.0.0.1".parse().unwrap()];
        let ports = [open, closed];
        let work = Work {
            addrs: &addrs,
            ports: &ports,
        };
        let out = run(&work, &cfg(2000), None);
        assert!(!out.interrupted);
        assert_eq!(out.done[0].state, PortState::Open);
        assert_eq!(out.done[1].state, PortState::Closed);
        assert_eq!(out.done[1].reason, Reason::Errno(libc::ECONNREFUSED));
    }

    #[test]
    fn many_ports_with_tiny_concurrency_are_exact() {
        let ls: Vec<TcpListener> = (0..5)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut ports: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
        let open: Vec<u16> = ports.clone();
        // Add closed neighbours.
        for p in open.iter() {
            if *p > 1 {
                ports.push(p - 1);
            }
        }
        ports.sort_unstable();
        ports.dedup();
        let addrs = ["127.0.0.1".parse().unwrap()];
        let work = Work {
            addrs: &addrs,
            ports: &ports,
        };
        let mut c = cfg(2000);
        c.concurrency = 2;
        let out = run(&work, &c, None);
        for (i, p) in ports.iter().enumerate() {
            let want = if open.contains(p) {
                PortState::Open
            } else {
                PortState::Closed
            };
            // A neighbour may be another test's listener; only assert our own are open.
            if open.contains(p) {
                assert_eq!(out.done[i].state, want, "port {p}");
            }
        }
    }

    #[test]
    fn a_socket_connected_to_itself_is_detected() {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let me = s.local_addr().unwrap();
        // Connecting a bound socket to its own address is a TCP simultaneous open with itself.
        s.connect(&me).unwrap();
        assert!(netsock::is_self_connect(&s));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c =
            socket2::Socket::from(std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap());
        assert!(!netsock::is_self_connect(&c));
    }

    #[test]
    fn local_port_range_parses() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("1024 65535"), Some((1024, 65535)));
        for bad in ["", "1", "5 4", "a b", "1 2 3", "70000 1", "\u{0}"] {
            assert_eq!(parse_port_range(bad), None, "{bad:?}");
        }
        let (lo, hi) = ephemeral_range();
        assert!(lo <= hi);
    }
}
