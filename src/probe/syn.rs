//! The SYN (half-open) scanner: raw SYNs, never a handshake, as masscan, ZMap and `nmap -sS` do.
//!
//! - Sending: when the route to a target leaves by an Ethernet interface and the next hop's MAC is in the
//!   neighbour table, whole frames (Ethernet, IP, TCP) through an AF_PACKET transmit ring per sending thread,
//!   qdisc bypassed: one frame template per target built once with `pnet_packet`, each SYN a copy with the
//!   port and cookie patched and the checksum updated (RFC 1624), one `send()` per batch. Otherwise (loopback,
//!   tunnels, an unresolved next hop) a raw TCP socket per family (the kernel writes the IP header) in
//!   `sendmmsg` batches. Batches of up to 1,024 under a packets-per-second cap either way.
//! - Matching: the sequence number is a SYN cookie, a keyed SipHash of (target address, our address, target
//!   port, our port) with a key drawn for the run, as masscan does. A SYN-ACK counts only when `ack - 1` is the
//!   cookie; a RST when `ack` is the cookie + 1 (or the cookie, as ZMap accepts); an ICMP error only when the
//!   TCP header it quotes carries our port and the cookie. Nothing else can set a port's state, so a stray
//!   packet never invents an open port.
//! - Receiving: a thread of its own reads the same raw TCP sockets and raw ICMP / ICMPv6 sockets with
//!   `recvmmsg`; classic BPF filters in the kernel pass only TCP to our source port and destination-unreachable
//!   messages, so the thread wakes for replies, not for every packet of the host.
//! - The source port is reserved with a bound TCP socket, so no connection of this host gets it; the kernel
//!   answers each SYN-ACK with a RST because no socket owns that connection, which keeps the scan half-open.
//! - States as nmap -sS gives them: SYN-ACK open, RST closed, ICMP unreachable filtered (named with its code
//!   and sender), silence filtered after the retries.
//! - Before the burst, one SYN goes to each address and the scan waits (briefly) for its answer, so the
//!   kernel's neighbour (ARP / NDP) lookup is done before thousands of packets queue behind it and are dropped.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{Ipv4Packet, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags, TcpPacket};
use socket2::Socket;

use super::engine::{Done, Work};
use super::model::{PortState, Progress, Reason};
use super::timing::RttEstimator;
use crate::explain::icmp::Message;
use crate::interrupt;
use crate::net::filter;
use crate::net::mmsg::RecvBatch;
use crate::net::poll::{self, Interest, PollFd};
use crate::net::raw::{RawProtocol, RawSocket};
use crate::net::route;
use crate::net::txring::{self, LinkInfo, TxRing};
use crate::net::{sockopt, OpenError};

/// `NETDIAG_SYN_PHASES=1` in the environment: one line on stderr per phase of a run (sockets open, warm-up
/// answered, each round sent, the wait over, results built), with the milliseconds since the first, for
/// profiling where a scan's time goes. Nothing is printed without it.
pub fn phase(name: &str) {
    static START: std::sync::OnceLock<Option<Instant>> = std::sync::OnceLock::new();
    if let Some(t0) =
        START.get_or_init(|| std::env::var_os("NETDIAG_SYN_PHASES").map(|_| Instant::now()))
    {
        eprintln!(
            "syn phase: {:9.3} ms  {name}",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// The default packets-per-second cap: 100,000 SYNs of 64 bytes on the wire are about 51 Mbit/s, a twentieth of a
/// gigabit LAN.
pub const DEFAULT_RATE: u32 = 100_000;

/// How the SYN engine runs; the timeout and retries come from the caller.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long to wait for answers after the last SYN of a round.
    pub timeout: Duration,
    /// Rounds of SYNs to ports still silent after the first.
    pub retries: u32,
    /// Packets per second.
    pub rate: u32,
}

/// Raw sockets could not be opened.
#[derive(Debug)]
pub enum SynError {
    /// No root or CAP_NET_RAW.
    NotPermitted(io::Error),
    Other(io::Error),
}

impl std::fmt::Display for SynError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SynError::NotPermitted(e) => write!(
                f,
                "--syn sends raw packets and needs root or the CAP_NET_RAW capability ({e}); run it as root, \
                 grant the capability (setcap cap_net_raw+ep), or drop --syn to use the connect scan"
            ),
            SynError::Other(e) => write!(f, "--syn: cannot open a raw socket: {e}"),
        }
    }
}

impl std::error::Error for SynError {}

impl From<OpenError> for SynError {
    fn from(e: OpenError) -> SynError {
        match e {
            OpenError::NotPermitted(e) => SynError::NotPermitted(e),
            OpenError::Other(e) => SynError::Other(e),
        }
    }
}

/// What a run sent, for benchmarks and the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    pub packets: u64,
    /// From the first SYN to the last.
    pub sending: Duration,
    /// Rounds sent (the first and the retries the timing rule allowed).
    pub tries: u32,
    /// The wait after the last round.
    pub last_wait: Duration,
    /// SYNs of the rounds that left through the packet socket's transmit ring, and through the raw socket
    /// (the warm-up's always go through the kernel's stack, which resolves the next hop; they are in neither).
    pub ring_packets: u64,
    pub raw_packets: u64,
}

/// How the SYNs left, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMethod {
    /// Whole Ethernet frames through an AF_PACKET transmit ring (PACKET_TX_RING, qdisc bypassed).
    TxRing,
    /// TCP headers through a raw IP socket in `sendmmsg` batches only: the route is not over Ethernet, the
    /// next hop's link-layer address was not known, or the scan is small.
    Sendmmsg,
}

impl SendMethod {
    pub fn name(self) -> &'static str {
        match self {
            SendMethod::TxRing => "tx-ring",
            SendMethod::Sendmmsg => "sendmmsg",
        }
    }
}

impl Sent {
    /// The method of this run: the transmit ring once it carried any SYN (the first batches of a run go by the
    /// raw socket while the ring is set up; `ring_packets` counts the rest).
    pub fn method(&self) -> SendMethod {
        if self.ring_packets == 0 {
            SendMethod::Sendmmsg
        } else {
            SendMethod::TxRing
        }
    }
}

/// The result of a run: one `Done` per item, as the connect engine gives it.
pub struct Outcome {
    pub done: Vec<Done>,
    pub interrupted: bool,
    pub sent: Sent,
}

// Item states, one byte each.
const PENDING: u8 = 0;
const OPEN: u8 = 1;
const CLOSED: u8 = 2;
const ICMP: u8 = 3;
const SEND_ERROR: u8 = 4;

/// The TCP header of every SYN: 20 bytes and an MSS option (as nmap sends).
const SYN_LEN: usize = 24;
/// How long the neighbour warm-up may wait for the first answers.
const WARMUP: Duration = Duration::from_millis(200);
/// Batch size of sends and receives.
const BATCH: usize = 1024;

/// One family's raw sockets and our side of it.
struct Family {
    tcp: RawSocket,
    icmp: RawSocket,
    /// The bound TCP socket reserving our source port (kept open for the run).
    _reserve: Socket,
    port: u16,
}

/// Per address: the address we send from, and the family.
#[derive(Clone, Copy)]
struct Target {
    addr: IpAddr,
    src: IpAddr,
}

struct Shared<'a> {
    work: &'a Work<'a>,
    targets: Vec<Target>,
    by_addr: HashMap<IpAddr, usize>,
    /// Index of each port in `work.ports`, or u32::MAX.
    port_index: Vec<u32>,
    key: RandomState,
    state: Vec<AtomicU8>,
    /// Microseconds since `start` of the last SYN, then of the answer.
    sent_at: Vec<AtomicU32>,
    latency: Vec<AtomicU32>,
    icmp: Mutex<Vec<(usize, Message, IpAddr)>>,
    errors: Mutex<Vec<(usize, i32)>>,
    answered: AtomicUsize,
    progress: Option<&'a Progress>,
    start: Instant,
    stop: AtomicBool,
    v4: Option<Family>,
    v6: Option<Family>,
}

/// Opens what a scan of `work` needs (raw sockets of each family it uses). Fails before any packet is sent when
/// the process lacks the privilege.
pub fn run(work: &Work, cfg: &Config, progress: Option<&Progress>) -> Result<Outcome, SynError> {
    phase("syn run");
    let total = work.len();
    let need4 = work.addrs.iter().any(IpAddr::is_ipv4);
    let need6 = work.addrs.iter().any(IpAddr::is_ipv6);
    let v4 = need4.then(|| open_family(false)).transpose()?;
    let v6 = need6.then(|| open_family(true)).transpose()?;
    let mut targets = Vec::with_capacity(work.addrs.len());
    let mut by_addr = HashMap::new();
    for (i, a) in work.addrs.iter().enumerate() {
        targets.push(Target {
            addr: *a,
            src: source_for(*a),
        });
        by_addr.entry(*a).or_insert(i);
    }
    phase("sockets open, sources found");
    let mut port_index = vec![u32::MAX; 65536];
    for (i, p) in work.ports.iter().enumerate() {
        if port_index[usize::from(*p)] == u32::MAX {
            port_index[usize::from(*p)] = i as u32;
        }
    }
    let shared = Shared {
        work,
        targets,
        by_addr,
        port_index,
        key: RandomState::new(),
        state: (0..total).map(|_| AtomicU8::new(PENDING)).collect(),
        sent_at: (0..total).map(|_| AtomicU32::new(0)).collect(),
        latency: (0..total).map(|_| AtomicU32::new(0)).collect(),
        icmp: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
        answered: AtomicUsize::new(0),
        progress,
        start: Instant::now(),
        stop: AtomicBool::new(false),
        v4,
        v6,
    };
    let sent = std::thread::scope(|s| {
        let rx = s.spawn(|| receive(&shared));
        let sent = send_rounds(&shared, cfg);
        shared.stop.store(true, Ordering::SeqCst);
        let _ = rx.join();
        phase("receiver stopped");
        sent
    });
    let out = finish(&shared, sent);
    phase("states collected");
    Ok(out)
}

fn open_family(v6: bool) -> Result<Family, SynError> {
    let tcp = RawSocket::open(v6, RawProtocol::Tcp)?;
    let icmp = RawSocket::open(v6, RawProtocol::Icmp)?;
    let reserve = crate::net::socket::tcp_socket(v6).map_err(SynError::Other)?;
    reserve
        .bind(&crate::net::socket::any_addr(v6).into())
        .map_err(SynError::Other)?;
    let port = crate::net::socket::local_port(&reserve)
        .ok_or_else(|| SynError::Other(io::Error::other("no local port")))?;
    tcp.attach_filter(&filter::tcp_to_port(!v6, port, 128))
        .map_err(SynError::Other)?;
    icmp.attach_filter(&filter::icmp_unreachable(!v6, 256))
        .map_err(SynError::Other)?;
    for s in [&tcp, &icmp] {
        sockopt::grow_recv_buffer(s, 32 << 20);
        let _ = s.socket().set_send_buffer_size(4 << 20);
    }
    Ok(Family {
        tcp,
        icmp,
        _reserve: reserve,
        port,
    })
}

/// The address the kernel sends from toward `to` (a UDP socket's connect picks it; nothing is sent).
fn source_for(to: IpAddr) -> IpAddr {
    let any = crate::net::socket::any_addr(to.is_ipv6());
    UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(SocketAddr::new(to, 9))?;
            s.local_addr()
        })
        .map_or(any.ip(), |a| a.ip())
}

impl Shared<'_> {
    fn family(&self, v6: bool) -> Option<&Family> {
        if v6 {
            self.v6.as_ref()
        } else {
            self.v4.as_ref()
        }
    }

    fn cookie(&self, target: IpAddr, src: IpAddr, dport: u16, sport: u16) -> u32 {
        self.key.hash_one((target, src, dport, sport)) as u32
    }

    fn micros(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_micros()).unwrap_or(u32::MAX)
    }

    /// Sets item `i`'s state when it is still pending; true when this answer was the first.
    fn settle(&self, i: usize, state: u8) -> bool {
        if self.state[i]
            .compare_exchange(PENDING, state, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let now = self.micros();
        let rtt = now.saturating_sub(self.sent_at[i].load(Ordering::Relaxed));
        self.latency[i].store(rtt, Ordering::Relaxed);
        self.answered.fetch_add(1, Ordering::Release);
        if let Some(p) = self.progress {
            p.add_done(1);
        }
        true
    }

    /// The item of a reply from `target` port `port`, when we scanned it.
    fn item(&self, target: IpAddr, port: u16) -> Option<(usize, Target)> {
        let a = *self.by_addr.get(&target)?;
        let p = self.port_index[usize::from(port)];
        (p != u32::MAX).then(|| (a * self.work.ports.len() + p as usize, self.targets[a]))
    }

    /// Writes the SYN for item `i` into `buf`; None when its family has no socket.
    fn build(&self, i: usize, buf: &mut [u8; SYN_LEN]) -> Option<()> {
        let n = self.work.ports.len();
        let t = self.targets[i / n];
        let dport = self.work.ports[i % n];
        let fam = self.family(t.addr.is_ipv6())?;
        let seq = self.cookie(t.addr, t.src, dport, fam.port);
        let mut p = MutableTcpPacket::new(buf)?;
        p.set_source(fam.port);
        p.set_destination(dport);
        p.set_sequence(seq);
        p.set_acknowledgement(0);
        p.set_data_offset(6);
        p.set_reserved(0);
        p.set_flags(TcpFlags::SYN);
        p.set_window(1024);
        p.set_urgent_ptr(0);
        p.set_checksum(0);
        p.set_options(&[tcp::TcpOption::mss(1460)]);
        let sum = match (t.src, t.addr) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&p.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&p.to_immutable(), &s, &d),
            _ => return None,
        };
        p.set_checksum(sum);
        Some(())
    }
}

/// The rounds: every item once (after the neighbour warm-up), then the silent ones again, under the one timing
/// rule of every scanner (`super::timing`): each host's wait comes from the round trips its answers measured
/// (the warm-up's first, then every round's), with `--timeout` as the ceiling, doubled for the retry. Unlike a
/// connect, whose SYN the kernel retransmits within the one try, a raw SYN lost once (to a neighbour queue
/// still resolving, say) is lost for good, so a silent item is always sent again, `retries` times, as nmap -sS
/// does, even when its first wait was the ceiling. Each round's wait is cut short when every item has its
/// answer.
fn send_rounds(sh: &Shared, cfg: &Config) -> Sent {
    let total = sh.work.len();
    let n = sh.work.ports.len();
    let mut est: Vec<RttEstimator> = sh
        .work
        .addrs
        .iter()
        .map(|_| RttEstimator::new(cfg.timeout))
        .collect();
    let mut sampled = vec![false; total];
    let mut sent = Sent::default();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut paths: Option<Paths> = None;
    for round in 0..=cfg.retries {
        let todo: Vec<usize> = if round == 0 {
            // Warm-up: the first port of each address, and a short wait for the answers.
            let warm: Vec<usize> = (0..sh.work.addrs.len()).map(|a| a * n).collect();
            first = Some(Instant::now());
            sent.packets += send_items(sh, &warm, &mut Pacer::new(cfg.rate.max(1)), None).0 as u64;
            let until = Instant::now() + WARMUP.min(cfg.timeout);
            while Instant::now() < until
                && !interrupt::requested()
                && warm
                    .iter()
                    .any(|&i| sh.state[i].load(Ordering::Acquire) == PENDING)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            phase("warm-up answered");
            // The warm-up's SYNs went through the kernel, which resolved each next hop's link-layer address;
            // from here frames can be built whole.
            paths = find_paths(sh);
            phase(&format!(
                "paths found ({} of {} targets by the transmit ring)",
                paths
                    .as_ref()
                    .map_or(0, |p| p.frames.iter().flatten().count()),
                sh.targets.len()
            ));
            if total < RING_MIN {
                paths = None;
            }
            if let Some(p) = paths.as_ref() {
                open_in_background(p);
            }
            sample_answers(sh, &mut est, &mut sampled);
            (0..total).filter(|i| i % n != 0).collect()
        } else {
            (0..total)
                .filter(|&i| sh.state[i].load(Ordering::Acquire) == PENDING)
                .collect()
        };
        if todo.is_empty() && round > 0 {
            break;
        }
        // The longest wait any host with a probe in this round needs (hosts are waited for together).
        let tries = u8::try_from(round).unwrap_or(u8::MAX);
        let wait = todo
            .iter()
            .map(|&i| i / n)
            .fold(Duration::ZERO, |w, a| w.max(est[a].timeout_for(tries)));
        let wait = if todo.is_empty() { cfg.timeout } else { wait };
        first.get_or_insert_with(Instant::now);
        let (all, ring) = send_parallel(sh, &todo, cfg.rate.max(1), paths.as_ref());
        sent.packets += all as u64;
        sent.ring_packets += ring as u64;
        sent.raw_packets += (all - ring) as u64;
        phase(&format!(
            "round {round} sent ({} packets, wait up to {wait:?})",
            todo.len()
        ));
        sent.tries = round + 1;
        sent.last_wait = wait;
        last = Instant::now();
        let until = last + wait;
        while Instant::now() < until
            && !interrupt::requested()
            && sh.answered.load(Ordering::Acquire) < total
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        phase(&format!(
            "round {round} wait over ({} of {total} answered)",
            sh.answered.load(Ordering::Acquire)
        ));
        if interrupt::requested() || sh.answered.load(Ordering::Acquire) >= total {
            break;
        }
        sample_answers(sh, &mut est, &mut sampled);
    }
    sent.sending = first.map_or(Duration::ZERO, |f| last.saturating_duration_since(f));
    if let Some(p) = paths {
        close_in_background(
            p.rings
                .lock()
                .map(|mut v| v.split_off(0))
                .unwrap_or_default(),
        );
    }
    sent
}

/// Feeds each host's estimator with the round trips of the answers that came since the last call.
fn sample_answers(sh: &Shared, est: &mut [RttEstimator], sampled: &mut [bool]) {
    let n = sh.work.ports.len();
    for (i, done) in sampled.iter_mut().enumerate() {
        if *done || sh.state[i].load(Ordering::Acquire) == PENDING {
            continue;
        }
        *done = true;
        let us = sh.latency[i].load(Ordering::Relaxed);
        if us > 0 {
            est[i / n].sample(Duration::from_micros(u64::from(us)));
        }
    }
}

/// Paces sends to `rate` packets per second: how many may go now.
struct Pacer {
    rate: f64,
    start: Instant,
    sent: u64,
}

impl Pacer {
    fn new(rate: u32) -> Pacer {
        Pacer {
            rate: f64::from(rate),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Waits until at least one packet may go; returns how many (at most `want`).
    fn allow(&mut self, want: usize) -> usize {
        loop {
            // A burst of at most a few milliseconds' worth after an idle spell.
            let due = (self.start.elapsed().as_secs_f64() * self.rate) as u64;
            let slack = (self.rate * 0.002).max(1.0) as u64;
            if due + slack < self.sent {
                // far ahead (cannot happen) — resynchronise
                self.sent = due;
            }
            let may = (due + slack).saturating_sub(self.sent);
            if may > 0 {
                let k = (may as usize).min(want);
                self.sent += k as u64;
                return k;
            }
            if interrupt::requested() {
                return 0;
            }
            let wait = (self.sent + 1 - due - slack.min(self.sent)) as f64 / self.rate;
            std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.000_05, 0.01)));
        }
    }
}

/// Sends `items` from one thread per core, each with its share of the rate. On a local link the kernel does the
/// whole round trip (our send, the target's stack, its answer, our receive queue) inside the sending system
/// call, so the sending threads are where the cores are spent.
fn send_parallel(sh: &Shared, items: &[usize], rate: u32, paths: Option<&Paths>) -> (usize, usize) {
    let threads = sending_threads().min(items.len().div_ceil(BATCH).max(1));
    if threads == 1 {
        return send_items(sh, items, &mut Pacer::new(rate), paths);
    }
    let share = (rate / threads as u32).max(1);
    let per = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = items
            .chunks(per)
            .map(|chunk| s.spawn(move || send_items(sh, chunk, &mut Pacer::new(share), paths)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or((0, 0)))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    })
}

/// Sends the SYNs of `items` in batches under the pacer, through the transmit ring for the targets `paths`
/// has a frame for, else through the raw socket; returns how many went out, and how many by the ring.
fn send_items(
    sh: &Shared,
    items: &[usize],
    pacer: &mut Pacer,
    paths: Option<&Paths>,
) -> (usize, usize) {
    let mut bufs = vec![[0u8; SYN_LEN]; BATCH];
    let mut count = 0;
    let mut ring_count = 0;
    let n = sh.work.ports.len();
    // This thread's own ring (a ring is one socket's), opened at the first item that goes by it.
    let mut ring: Option<TxRing> = None;
    let mut k = 0;
    while k < items.len() {
        if interrupt::requested() {
            break;
        }
        let want = pacer.allow((items.len() - k).min(BATCH));
        if want == 0 {
            break;
        }
        // A batch through the ring: every item up to the first whose target has no frame.
        if let Some(p) = paths.filter(|p| !p.failed.load(Ordering::Relaxed)) {
            if p.frames[items[k] / n].is_some() {
                if ring.is_none() {
                    ring = p.rings.lock().ok().and_then(|mut v| v.pop());
                }
                if let Some(r) = ring.as_mut() {
                    let end = (k..items.len())
                        .take(want)
                        .find(|&j| p.frames[items[j] / n].is_none())
                        .unwrap_or((k + want).min(items.len()));
                    match send_ring(sh, p, r, &items[k..end]) {
                        Ok(m) => {
                            count += m;
                            ring_count += m;
                            let all = k + m == end;
                            k += m;
                            // Frames the ring could not take go by the raw socket below.
                            if all {
                                continue;
                            }
                        }
                        Err(_) => {
                            // The interface went away or refuses frames: the raw socket from here on; items
                            // whose frames were queued but not sent are pending and go again in the retry.
                            p.failed.store(true, Ordering::Relaxed);
                        }
                    }
                    if k >= items.len() {
                        break;
                    }
                }
            }
        }
        // Build a batch of one family (a batch goes to one socket).
        let v6 = sh.targets[items[k] / sh.work.ports.len()].addr.is_ipv6();
        let mut idx = Vec::with_capacity(want);
        while idx.len() < want && k < items.len() {
            let i = items[k];
            if sh.targets[i / sh.work.ports.len()].addr.is_ipv6() != v6 {
                break;
            }
            k += 1;
            let j = idx.len();
            if sh.build(i, &mut bufs[j]).is_none() {
                sh.errors
                    .lock()
                    .map(|mut e| e.push((i, libc::EAFNOSUPPORT)))
                    .ok();
                sh.settle(i, SEND_ERROR);
                continue;
            }
            idx.push(i);
        }
        let Some(fam) = sh.family(v6) else { continue };
        let mut off = 0;
        let mut stalls = 0;
        while off < idx.len() {
            let now = sh.micros();
            for &i in &idx[off..] {
                sh.sent_at[i].store(now, Ordering::Relaxed);
            }
            let batch: Vec<(&[u8], IpAddr)> = idx[off..]
                .iter()
                .enumerate()
                .map(|(j, &i)| (&bufs[off + j][..], sh.targets[i / sh.work.ports.len()].addr))
                .collect();
            match fam.tcp.send_batch(&batch) {
                Ok(m) if m > 0 => {
                    off += m;
                    count += m;
                    stalls = 0;
                }
                Ok(_) => stalls += 1,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    // The queue is full: wait for room.
                    stalls += 1;
                    let _ = poll::wait(
                        fam.tcp.socket(),
                        Interest::Writable,
                        Instant::now() + Duration::from_millis(10),
                    );
                }
                Err(e) => {
                    // This destination cannot be sent to (no route, a local firewall): its own answer.
                    let i = idx[off];
                    let code = e.raw_os_error().unwrap_or(libc::EIO);
                    sh.errors.lock().map(|mut v| v.push((i, code))).ok();
                    sh.settle(i, SEND_ERROR);
                    off += 1;
                }
            }
            if stalls > 1000 || interrupt::requested() {
                break;
            }
        }
    }
    if let (Some(r), Some(p)) = (ring, paths) {
        if let Ok(mut v) = p.rings.lock() {
            v.push(r);
        }
    }
    (count, ring_count)
}

/// Slots of each sending thread's transmit ring, and their size (a 78-byte IPv6 SYN frame and the slot header).
const RING_SLOTS: usize = 4096;
const RING_SLOT: usize = 128;

/// Queues the frames of `items` on the ring and hands them to the driver; returns how many went. Fewer than
/// asked when the ring stayed full (the caller sends the rest another way); an error when the kernel refused
/// the flush outright.
fn send_ring(sh: &Shared, p: &Paths, ring: &mut TxRing, items: &[usize]) -> io::Result<usize> {
    let n = sh.work.ports.len();
    let now = sh.micros();
    let mut done = 0;
    let mut stalls = 0;
    while done < items.len() {
        let i = items[done];
        let a = i / n;
        let Some(f) = p.frames[a].as_ref() else {
            break;
        };
        let t = sh.targets[a];
        let dport = sh.work.ports[i % n];
        let seq = sh.cookie(t.addr, t.src, dport, p.port(t.addr.is_ipv6()));
        sh.sent_at[i].store(now, Ordering::Relaxed);
        if ring.push(|buf| f.write(buf, dport, seq)) {
            done += 1;
            continue;
        }
        // The ring is full: send what it holds and wait for a slot.
        flush(ring)?;
        if !ring.wait_slot(Duration::from_millis(10))? {
            stalls += 1;
            if stalls > 100 || interrupt::requested() {
                break;
            }
        }
    }
    flush(ring)?;
    Ok(done)
}

/// Hands the ring's queued frames to the driver, waiting out a full device queue (bounded).
fn flush(ring: &mut TxRing) -> io::Result<()> {
    for _ in 0..1000 {
        if ring.queued() == 0 {
            return Ok(());
        }
        match ring.flush() {
            Ok(_) => return Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                let _ = ring.wait_slot(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOBUFS))
}

/// The SYN frame of one target: Ethernet, IP and TCP headers, with port and sequence number 0; each SYN is the
/// copy with those two patched and the TCP checksum updated for them (RFC 1624), nothing recomputed.
struct Frame {
    bytes: Vec<u8>,
    /// Offset of the TCP header.
    tcp: usize,
    /// The template's TCP checksum.
    sum: u16,
}

impl Frame {
    /// Writes the SYN to `dport` with sequence number `seq` into `buf`; returns its length.
    fn write(&self, buf: &mut [u8], dport: u16, seq: u32) -> usize {
        let len = self.bytes.len();
        let Some(out) = buf.get_mut(..len) else {
            return 0;
        };
        out.copy_from_slice(&self.bytes);
        let t = self.tcp;
        out[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        out[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let sum = patched_checksum(self.sum, &[dport, (seq >> 16) as u16, seq as u16]);
        out[t + 16..t + 18].copy_from_slice(&sum.to_be_bytes());
        len
    }
}

/// RFC 1624's incremental update of a ones'-complement checksum whose covered words were 0 and now are
/// `words`: HC' = ~(~HC + m').
fn patched_checksum(sum: u16, words: &[u16]) -> u16 {
    let mut acc = u32::from(!sum);
    for w in words {
        acc += u32::from(*w);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The targets the transmit ring reaches, with their frames.
struct Paths {
    /// The ring's interface: the first target's.
    interface: u32,
    /// Per target, its frame when it leaves by that interface with a known next hop.
    frames: Vec<Option<Frame>>,
    /// Source ports per family.
    ports: (u16, u16),
    /// The ring failed: the raw socket from then on.
    failed: AtomicBool,
    /// Transmit rings ready for a sending thread (opened in the background), taken for a round and given back.
    rings: Arc<Mutex<Vec<TxRing>>>,
}

impl Paths {
    fn port(&self, v6: bool) -> u16 {
        if v6 {
            self.ports.1
        } else {
            self.ports.0
        }
    }
}

/// Finds, for each target, the route the kernel would take and the next hop's link-layer address; builds a
/// frame for those leaving by an Ethernet interface with a usable neighbour entry, all on the
/// interface of the first such target. None when no target qualifies.
fn find_paths(sh: &Shared) -> Option<Paths> {
    let mut nl = route::Rtnl::open().ok()?;
    let mut links: HashMap<u32, Option<LinkInfo>> = HashMap::new();
    let mut neigh: HashMap<(u32, bool), HashMap<IpAddr, Vec<u8>>> = HashMap::new();
    let mut interface = None;
    let mut frames = Vec::with_capacity(sh.targets.len());
    for t in &sh.targets {
        frames.push((|| {
            let fam = sh.family(t.addr.is_ipv6())?;
            if let IpAddr::V6(a) = t.addr {
                // A link-local target needs its scope, which the frame cannot carry: the raw socket's job.
                if a.is_unicast_link_local() {
                    return None;
                }
            }
            let r = nl.route(t.addr).ok()?;
            if r.source.is_some_and(|s| s != t.src) {
                return None;
            }
            if interface.is_some_and(|i| i != r.interface) {
                return None;
            }
            let link = (*links
                .entry(r.interface)
                .or_insert_with(|| txring::link_info(r.interface).ok()))?;
            // Loopback is left to the raw socket: a frame written to `lo` arrives marked as outgoing, not
            // for this host, and TCP drops it (IPv4) — the kernel's own path is the right one there.
            let dst_mac = match link.hardware_type {
                txring::ARPHRD_ETHER => {
                    let v6 = t.addr.is_ipv6();
                    let table = neigh.entry((r.interface, v6)).or_insert_with(|| {
                        nl.neighbours(r.interface, v6)
                            .map(|v| v.into_iter().collect())
                            .unwrap_or_default()
                    });
                    <[u8; 6]>::try_from(table.get(&r.next_hop(t.addr))?.as_slice()).ok()?
                }
                _ => return None,
            };
            interface = Some(r.interface);
            Some(template(t, fam.port, link.mac, dst_mac))
        })());
    }
    Some(Paths {
        interface: interface?,
        frames,
        ports: (
            sh.v4.as_ref().map_or(0, |f| f.port),
            sh.v6.as_ref().map_or(0, |f| f.port),
        ),
        failed: AtomicBool::new(false),
        rings: Arc::new(Mutex::new(Vec::new())),
    })
}

/// The SYN frame to `t` from `sport` with destination port and sequence number 0.
fn template(t: &Target, sport: u16, src_mac: [u8; 6], dst_mac: [u8; 6]) -> Frame {
    let mut tcp_hdr = [0u8; SYN_LEN];
    {
        let mut p = MutableTcpPacket::new(&mut tcp_hdr).expect("24 bytes hold a TCP header");
        p.set_source(sport);
        p.set_data_offset(6);
        p.set_flags(TcpFlags::SYN);
        p.set_window(1024);
        p.set_options(&[tcp::TcpOption::mss(1460)]);
        let sum = match (t.src, t.addr) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&p.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&p.to_immutable(), &s, &d),
            _ => 0,
        };
        p.set_checksum(sum);
    }
    let mut b = Vec::with_capacity(14 + 40 + SYN_LEN);
    b.extend_from_slice(&dst_mac);
    b.extend_from_slice(&src_mac);
    match (t.src, t.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            b.extend_from_slice(&0x0800u16.to_be_bytes());
            let mut ip = [0u8; 20];
            {
                let mut h = MutableIpv4Packet::new(&mut ip).expect("20 bytes hold an IPv4 header");
                h.set_version(4);
                h.set_header_length(5);
                h.set_total_length((20 + SYN_LEN) as u16);
                h.set_flags(pnet_packet::ipv4::Ipv4Flags::DontFragment);
                h.set_ttl(64);
                h.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
                h.set_source(s);
                h.set_destination(d);
                let sum = pnet_packet::ipv4::checksum(&h.to_immutable());
                h.set_checksum(sum);
            }
            b.extend_from_slice(&ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            b.extend_from_slice(&0x86ddu16.to_be_bytes());
            b.extend_from_slice(&[0x60, 0, 0, 0]);
            b.extend_from_slice(&(SYN_LEN as u16).to_be_bytes());
            b.extend_from_slice(&[6, 64]);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&d.octets());
        }
        _ => {}
    }
    let tcp_at = b.len();
    let sum = u16::from_be_bytes([tcp_hdr[16], tcp_hdr[17]]);
    b.extend_from_slice(&tcp_hdr);
    Frame {
        bytes: b,
        tcp: tcp_at,
        sum,
    }
}

/// Scans of fewer probes than this keep to the raw sockets: a packet socket costs the kernel an RCU grace
/// period (milliseconds) to set up and as much to close, more than such a scan takes.
const RING_MIN: usize = 4096;

/// Opens, each in a thread of its own so their RCU grace periods overlap, one transmit ring per sending
/// thread. Nothing waits for them: sending starts through the raw socket and moves to a ring as soon as one is
/// ready. Replies are read from the raw sockets either way (a packet socket's receive ring was tried: under
/// load it dropped whole blocks of replies, where the raw sockets' 32 MB buffers lose none).
fn open_in_background(p: &Paths) {
    for _ in 0..sending_threads() {
        let rings = Arc::clone(&p.rings);
        let index = p.interface;
        std::thread::spawn(move || {
            if let Ok(r) = TxRing::open(index, RING_SLOTS, RING_SLOT) {
                if let Ok(mut v) = rings.lock() {
                    v.push(r);
                }
            }
        });
    }
}

/// Closes packet sockets each in a detached thread, so their RCU grace periods overlap each other and the
/// report's printing instead of adding up.
fn close_in_background<T: Send + 'static>(things: Vec<T>) {
    for t in things {
        std::thread::spawn(move || drop(t));
    }
}

/// The threads that send a round (one per core, at most 8).
fn sending_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// The receive thread: reads replies from every socket until told to stop.
fn receive(sh: &Shared) {
    let fams: Vec<&Family> = [sh.v4.as_ref(), sh.v6.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let mut batch = RecvBatch::new(256, 256);
    loop {
        // Set once by the sending side; only this thread locks it.
        let mut fds: Vec<PollFd> = fams
            .iter()
            .flat_map(|f| {
                [
                    PollFd::new(&f.tcp, Interest::Readable),
                    PollFd::new(&f.icmp, Interest::Readable),
                ]
            })
            .collect();
        // A short timeout: the stop flag is seen within a millisecond of the last round.
        let ready = poll::poll(&mut fds, Instant::now() + Duration::from_millis(1)).unwrap_or(0);
        let flags: Vec<bool> = fds.iter().map(PollFd::ready).collect();
        drop(fds);
        if ready > 0 {
            for (k, f) in fams.iter().enumerate() {
                let v6 = f.tcp.is_v6();
                if flags[2 * k] {
                    drain(&f.tcp, &mut batch, |data, from| on_tcp(sh, v6, data, from));
                }
                if flags[2 * k + 1] {
                    drain(&f.icmp, &mut batch, |data, from| {
                        on_icmp(sh, v6, data, from)
                    });
                }
            }
        }
        if sh.stop.load(Ordering::SeqCst) {
            // One last read of what already arrived.
            for f in &fams {
                let v6 = f.tcp.is_v6();
                drain(&f.tcp, &mut batch, |data, from| on_tcp(sh, v6, data, from));
                drain(&f.icmp, &mut batch, |data, from| {
                    on_icmp(sh, v6, data, from)
                });
            }
            return;
        }
    }
}

fn drain(sock: &RawSocket, batch: &mut RecvBatch, mut each: impl FnMut(&[u8], Option<IpAddr>)) {
    // Bounded: at most 64 batches per wake-up, then back to poll (and the stop flag).
    for _ in 0..64 {
        match sock.recv_batch(batch) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                for d in batch.iter() {
                    each(d.data, d.from.map(|a| a.ip()));
                }
            }
        }
    }
}

/// A TCP packet to our port: IPv4 with its IP header, IPv6 without (the sender from recvmmsg).
fn on_tcp(sh: &Shared, v6: bool, data: &[u8], from: Option<IpAddr>) {
    let (src, dst, seg) = if v6 {
        let Some(src) = from else { return };
        (src, None, data)
    } else {
        let Some(ip) = Ipv4Packet::new(data) else {
            return;
        };
        if ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            return;
        }
        let hl = usize::from(ip.get_header_length()) * 4;
        let Some(seg) = data.get(hl..) else { return };
        (
            IpAddr::V4(ip.get_source()),
            Some(IpAddr::V4(ip.get_destination())),
            seg,
        )
    };
    let Some(t) = TcpPacket::new(seg) else { return };
    let Some(fam) = sh.family(v6) else { return };
    if t.get_destination() != fam.port {
        return;
    }
    let Some((i, target)) = sh.item(src, t.get_source()) else {
        return;
    };
    if dst.is_some_and(|d| d != target.src) {
        return;
    }
    let cookie = sh.cookie(target.addr, target.src, t.get_source(), fam.port);
    let flags = t.get_flags();
    let ack = t.get_acknowledgement();
    if flags & TcpFlags::RST != 0 {
        if ack == cookie.wrapping_add(1) || ack == cookie {
            sh.settle(i, CLOSED);
        }
    } else if flags & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN | TcpFlags::ACK
        && ack == cookie.wrapping_add(1)
        && sh.settle(i, OPEN)
    {
        if let Some(p) = sh.progress {
            p.found(SocketAddr::new(target.addr, t.get_source()));
        }
    }
}

/// An ICMP / ICMPv6 destination-unreachable quoting one of our SYNs.
fn on_icmp(sh: &Shared, v6: bool, data: &[u8], from: Option<IpAddr>) {
    let (sender, icmp) = if v6 {
        let Some(f) = from else { return };
        (f, data)
    } else {
        let Some(ip) = Ipv4Packet::new(data) else {
            return;
        };
        let hl = usize::from(ip.get_header_length()) * 4;
        let Some(rest) = data.get(hl..) else { return };
        (IpAddr::V4(ip.get_source()), rest)
    };
    if icmp.len() < 8 {
        return;
    }
    let (ty, code) = (icmp[0], icmp[1]);
    let quoted = &icmp[8..];
    // The quoted IP header: our address, the target, and the TCP header after it.
    let (our, target_addr, seg) = if v6 {
        if quoted.len() < 40 || quoted[0] >> 4 != 6 || quoted[6] != 6 {
            return;
        }
        let s: [u8; 16] = quoted[8..24].try_into().unwrap_or([0; 16]);
        let d: [u8; 16] = quoted[24..40].try_into().unwrap_or([0; 16]);
        (IpAddr::from(s), IpAddr::from(d), &quoted[40..])
    } else {
        let Some(ip) = Ipv4Packet::new(quoted) else {
            return;
        };
        if ip.get_version() != 4 || ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            return;
        }
        let hl = usize::from(ip.get_header_length()) * 4;
        let Some(seg) = quoted.get(hl..) else { return };
        (
            IpAddr::V4(ip.get_source()),
            IpAddr::V4(ip.get_destination()),
            seg,
        )
    };
    if seg.len() < 8 {
        return;
    }
    let sport = u16::from_be_bytes([seg[0], seg[1]]);
    let dport = u16::from_be_bytes([seg[2], seg[3]]);
    let seq = u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]);
    let Some(fam) = sh.family(v6) else { return };
    if sport != fam.port {
        return;
    }
    let Some((i, target)) = sh.item(target_addr, dport) else {
        return;
    };
    if our != target.src || seq != sh.cookie(target.addr, target.src, dport, fam.port) {
        return;
    }
    let msg = if v6 {
        Message::v6(ty, code)
    } else {
        Message::v4(ty, code)
    };
    if let Ok(mut v) = sh.icmp.lock() {
        // Recorded before the state, so the state never lacks its details.
        if sh.state[i].load(Ordering::Acquire) == PENDING {
            v.push((i, msg, sender));
            drop(v);
            sh.settle(i, ICMP);
        }
    }
}

/// One `Done` per item from the states the rounds left.
fn finish(sh: &Shared, sent: Sent) -> Outcome {
    let interrupted = interrupt::requested();
    let icmp: HashMap<usize, (Message, IpAddr)> = sh
        .icmp
        .lock()
        .map(|v| v.iter().map(|(i, m, f)| (*i, (*m, *f))).collect())
        .unwrap_or_default();
    let errors: HashMap<usize, i32> = sh
        .errors
        .lock()
        .map(|v| v.iter().copied().collect())
        .unwrap_or_default();
    let n = sh.work.ports.len();
    let done: Vec<Done> = (0..sh.work.len())
        .map(|i| {
            let latency_us = sh.latency[i].load(Ordering::Relaxed);
            match sh.state[i].load(Ordering::Acquire) {
                OPEN => Done {
                    state: PortState::Open,
                    reason: Reason::None,
                    latency_us,
                },
                CLOSED => Done {
                    state: PortState::Closed,
                    reason: Reason::Reset,
                    latency_us,
                },
                ICMP => {
                    let (msg, from) = icmp[&i];
                    Done {
                        state: PortState::Filtered,
                        reason: Reason::SynIcmp {
                            msg,
                            from,
                            by_target: from == sh.targets[i / n].addr,
                        },
                        latency_us,
                    }
                }
                SEND_ERROR => {
                    let code = errors.get(&i).copied().unwrap_or(libc::EIO);
                    Done {
                        state: super::model::state_of_errno(code),
                        reason: Reason::Errno(code),
                        latency_us: 0,
                    }
                }
                _ if interrupted => Done {
                    state: PortState::Interrupted,
                    reason: Reason::None,
                    latency_us: 0,
                },
                _ => Done {
                    state: PortState::Filtered,
                    reason: Reason::NoAnswer {
                        timeout: sent.last_wait,
                        tries: sent.tries,
                    },
                    latency_us: 0,
                },
            }
        })
        .collect();
    Outcome {
        interrupted: done.iter().any(|d| d.state == PortState::Interrupted),
        done,
        sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(addr: &str, src: &str) -> Target {
        Target {
            addr: addr.parse().unwrap(),
            src: src.parse().unwrap(),
        }
    }

    /// Each patched frame carries the checksum a full computation gives.
    #[test]
    fn patched_frames_match_full_checksums() {
        for t in [target("10.1.2.3", "10.1.2.1"), target("fd00::2", "fd00::1")] {
            let f = template(&t, 40_000, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            let mut buf = [0u8; 128];
            for (dport, seq) in [
                (1u16, 0u32),
                (22, 0xdead_beef),
                (65535, u32::MAX),
                (80, 0x0001_0000),
            ] {
                let n = f.write(&mut buf, dport, seq);
                assert_eq!(n, f.bytes.len());
                let seg = &buf[f.tcp..n];
                let p = TcpPacket::new(seg).unwrap();
                assert_eq!(p.get_destination(), dport);
                assert_eq!(p.get_sequence(), seq);
                let want = match (t.src, t.addr) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&p, &s, &d),
                    (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&p, &s, &d),
                    _ => unreachable!(),
                };
                // Ones' complement has two zeros; a receiver accepts either.
                let got = p.get_checksum();
                assert!(
                    got == want || (got, want) == (0xffff, 0) || (got, want) == (0, 0xffff),
                    "{got:#x} {want:#x}"
                );
            }
            if t.addr.is_ipv4() {
                let ip = Ipv4Packet::new(&buf[14..34]).unwrap();
                assert_eq!(pnet_packet::ipv4::checksum(&ip), ip.get_checksum());
                assert_eq!(ip.get_total_length() as usize, 20 + SYN_LEN);
            }
        }
    }
}
