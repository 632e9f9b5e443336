//! The trace loop, whatever the sockets: every TTL of a round sent at once, rounds started every `interval`
//! (several may be in flight, as in mtr), replies matched to probes by sequence number in any order, each
//! probe with its own deadline. A round whose hops all answer costs one round trip; a silent hop costs one
//! timeout, not one per probe.
//!
//! The sockets sit behind [`Prober`]: raw sockets when privileged, ordinary ones (datagram ICMP, UDP and TCP
//! with the error queue) when not. The engine never sees a packet.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant, SystemTime};

use crate::net::poll::{self, Interest, PollFd};

use super::flow::ProbeSpec;
use super::hops::{HopAcc, ReplyKind};
use super::wire::MplsLabel;

/// When something was sent or heard: the monotonic clock, and the wall clock the kernel's receive timestamps
/// use.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub at: Instant,
    pub wall: Option<Duration>,
}

impl Stamp {
    pub fn now() -> Stamp {
        Stamp {
            at: Instant::now(),
            wall: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok(),
        }
    }

    /// Now on the monotonic clock, with the kernel's receive time when there is one.
    pub fn received(kernel: Option<Duration>) -> Stamp {
        let mut s = Stamp::now();
        if kernel.is_some() {
            s.wall = kernel;
        }
        s
    }

    /// The time from `sent` to `self`: by the kernel's receive timestamp when both wall times are known and
    /// agree with the monotonic clock's order, else by the monotonic clock.
    pub fn since(&self, sent: &Stamp) -> Duration {
        let mono = self.at.saturating_duration_since(sent.at);
        match (self.wall, sent.wall) {
            (Some(r), Some(s)) if r >= s && r - s <= mono + Duration::from_millis(5) => r - s,
            _ => mono,
        }
    }
}

/// An answer a prober matched to one of its probes.
#[derive(Debug, Clone)]
pub struct Heard {
    pub seq: u16,
    pub from: IpAddr,
    pub kind: ReplyKind,
    pub at: Stamp,
    pub mpls: Vec<MplsLabel>,
    pub mtu: Option<u32>,
}

/// Sockets that send probes and hear answers.
pub trait Prober {
    /// Sends one probe; the stamp is taken just before the send.
    fn send(&mut self, probe: &ProbeSpec) -> io::Result<Stamp>;
    /// The descriptors to wait on, and for what.
    fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)>;
    /// Reads what arrived; `ready[i]` tells whether the i-th descriptor of the last `wait_list` fired.
    fn receive(&mut self, ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()>;
    /// The probe is finished (answered or timed out): let go of what it holds.
    fn forget(&mut self, _seq: u16) {}
}

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub first_ttl: u8,
    pub max_ttl: u8,
    pub rounds: u32,
    pub interval: Duration,
    pub timeout: Duration,
    pub flows: u16,
    pub destination: IpAddr,
    /// UDP: ICMP port unreachable from the destination means "arrived".
    pub port_unreachable_arrives: bool,
    /// The first sequence number (random per run).
    pub first_seq: u16,
}

/// Where a trace ended, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The destination answered the probe of this TTL.
    Reached { ttl: u8 },
    /// A router (or the destination) rejected the probe of this TTL with an ICMP error.
    Rejected {
        ttl: u8,
        from: IpAddr,
        kind: ReplyKind,
    },
}

impl End {
    pub fn ttl(&self) -> u8 {
        match *self {
            End::Reached { ttl } | End::Rejected { ttl, .. } => ttl,
        }
    }
}

/// A probe in flight.
struct Pending {
    ttl: u8,
    round: u32,
    sent: Stamp,
    deadline: Instant,
}

/// What a run found, hop by hop (index = TTL − 1), and how it ended.
#[derive(Debug, Clone)]
pub struct Progress {
    pub hops: Vec<HopAcc>,
    pub end: Option<End>,
    pub rounds_done: u32,
    pub interrupted: bool,
    pub elapsed: Duration,
    /// Answers that came after their probe's deadline (not counted as answers).
    pub late: u64,
}

impl Progress {
    /// The highest TTL worth showing: the end, or the last hop that answered plus one silent one.
    pub fn last_ttl(&self, first: u8, max: u8) -> u8 {
        if let Some(end) = self.end {
            return end.ttl().max(first);
        }
        let answered = self
            .hops
            .iter()
            .rposition(|h| h.received > 0)
            .map(|i| i as u8 + 1);
        match answered {
            Some(t) => (t + 1).min(max).max(first),
            None => first,
        }
    }
}

fn is_end(kind: ReplyKind, from: IpAddr, cfg: &RunConfig, ttl: u8) -> Option<End> {
    let reached = || Some(End::Reached { ttl });
    match kind {
        ReplyKind::EchoReply | ReplyKind::SynAck | ReplyKind::Rst => reached(),
        k if k.is_port_unreachable() && from == cfg.destination && cfg.port_unreachable_arrives => {
            reached()
        }
        // Unreachables end the path; so does "packet too big" (ICMPv6's "fragmentation needed"): no probe of
        // this size gets past that router.
        ReplyKind::Error { v6, icmp_type, .. }
            if (!v6 && icmp_type == 3) || (v6 && (icmp_type == 1 || icmp_type == 2)) =>
        {
            Some(End::Rejected { ttl, from, kind })
        }
        _ => None,
    }
}

/// The state of one run.
struct Run<'a> {
    prober: &'a mut dyn Prober,
    cfg: &'a RunConfig,
    p: Progress,
    inflight: HashMap<u16, Pending>,
    /// Probes that timed out lately: an answer to one is late (counted, not used), and their sequence numbers
    /// are not reused while they may still be answered. Bounded by [`EXPIRED_KEPT`].
    expired: HashSet<u16>,
    /// Per round: probes not finished yet.
    outstanding: Vec<u32>,
    heard: Vec<Heard>,
}

/// Runs the rounds. `on_round` sees the progress each time a round is complete (for the live table).
pub fn run(
    prober: &mut dyn Prober,
    cfg: &RunConfig,
    on_round: &mut dyn FnMut(&Progress),
) -> io::Result<Progress> {
    let start = Instant::now();
    let mut r = Run {
        prober,
        cfg,
        p: Progress {
            hops: vec![HopAcc::default(); usize::from(cfg.max_ttl)],
            end: None,
            rounds_done: 0,
            interrupted: false,
            elapsed: Duration::ZERO,
            late: 0,
        },
        inflight: HashMap::new(),
        expired: HashSet::new(),
        outstanding: Vec::new(),
        heard: Vec::new(),
    };
    let mut next_seq = cfg.first_seq;
    let mut counter = 0u32;
    let mut rounds_sent = 0u32;
    loop {
        if crate::interrupt::requested() {
            r.p.interrupted = true;
            break;
        }
        let now = Instant::now();
        let round_due = start + cfg.interval * rounds_sent;
        if rounds_sent < cfg.rounds && now >= round_due {
            r.send_round(rounds_sent, &mut next_seq, &mut counter)?;
            rounds_sent += 1;
            continue;
        }
        r.complete_rounds(start, on_round);
        if rounds_sent >= cfg.rounds && r.inflight.is_empty() {
            break;
        }
        // Wait for an answer, the next deadline, or the next round.
        let mut wake = r
            .inflight
            .values()
            .map(|q| q.deadline)
            .min()
            .unwrap_or(now + cfg.timeout);
        if rounds_sent < cfg.rounds {
            wake = wake.min(round_due);
        }
        r.take_answers(wake)?;
        r.expire(Instant::now());
    }
    r.p.elapsed = start.elapsed();
    Ok(r.p)
}

impl Run<'_> {
    /// Sends round `round`: every TTL (and every flow) at once, up to the destination once it is known.
    fn send_round(&mut self, round: u32, next_seq: &mut u16, counter: &mut u32) -> io::Result<()> {
        let cfg = self.cfg;
        self.outstanding.push(0);
        for ttl in cfg.first_ttl..=cfg.max_ttl.max(cfg.first_ttl) {
            for flow in 0..cfg.flows {
                // Past the destination (or the router that rejects) there is nothing to learn.
                if self.p.end.is_some_and(|e| ttl > e.ttl()) {
                    return Ok(());
                }
                let seq = take_seq(next_seq, &self.inflight, &self.expired);
                let spec = ProbeSpec {
                    seq,
                    ttl,
                    flow,
                    counter: *counter,
                };
                *counter = counter.wrapping_add(1);
                let sent = self.prober.send(&spec).map_err(|e| {
                    // EMSGSIZE stays as it is, for the caller to say which --size does not fit.
                    if e.raw_os_error() == Some(libc::EMSGSIZE) {
                        e
                    } else {
                        io::Error::new(e.kind(), format!("sending the probe with TTL {ttl}: {e}"))
                    }
                })?;
                self.inflight.insert(
                    seq,
                    Pending {
                        ttl,
                        round,
                        sent,
                        deadline: sent.at + cfg.timeout,
                    },
                );
                if let Some(n) = self.outstanding.last_mut() {
                    *n += 1;
                }
                // Hear what has come meanwhile, without waiting: an answer that arrives while the round is
                // still being sent is stamped when it comes, and may end the round early.
                self.take_answers(Instant::now())?;
            }
        }
        Ok(())
    }

    /// Rounds complete in order: a later one may finish first, the report waits for the earlier ones.
    fn complete_rounds(&mut self, start: Instant, on_round: &mut dyn FnMut(&Progress)) {
        while (self.p.rounds_done as usize) < self.outstanding.len()
            && self.outstanding[self.p.rounds_done as usize] == 0
        {
            self.p.rounds_done += 1;
            self.p.elapsed = start.elapsed();
            on_round(&self.p);
        }
    }

    /// Waits until something is readable or `wake` (a past `wake` only looks), reads it, and records the
    /// answers.
    fn take_answers(&mut self, wake: Instant) -> io::Result<()> {
        let ready = {
            let list = self.prober.wait_list();
            let mut fds: Vec<PollFd<'_>> = list
                .iter()
                .map(|(fd, i)| PollFd::borrowed(*fd, *i))
                .collect();
            if poll::poll(&mut fds, wake)? == 0 {
                return Ok(());
            }
            fds.iter().map(|f| f.ready()).collect::<Vec<bool>>()
        };
        self.heard.clear();
        self.prober.receive(&ready, &mut self.heard)?;
        let heard = std::mem::take(&mut self.heard);
        for h in &heard {
            self.record(h);
        }
        self.heard = heard;
        // Probes beyond the end are not waited for: they only reach the destination (or the same rejecting
        // router) again, which may rate-limit its ICMP.
        if let Some(end) = self.p.end {
            let beyond: Vec<u16> = self
                .inflight
                .iter()
                .filter(|(_, q)| q.ttl > end.ttl())
                .map(|(s, _)| *s)
                .collect();
            for seq in beyond {
                if let Some(q) = self.inflight.remove(&seq) {
                    self.prober.forget(seq);
                    finish(&mut self.outstanding, q.round);
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, h: &Heard) {
        let Some(q) = self.inflight.get(&h.seq) else {
            if self.expired.remove(&h.seq) {
                self.p.late += 1;
            }
            return;
        };
        let rtt = h.at.since(&q.sent);
        if rtt > self.cfg.timeout {
            self.p.late += 1;
            return;
        }
        let Some(q) = self.inflight.remove(&h.seq) else {
            return;
        };
        self.prober.forget(h.seq);
        let hop = &mut self.p.hops[usize::from(q.ttl) - 1];
        hop.answered(h.from, rtt, &h.mpls);
        let end = is_end(h.kind, h.from, self.cfg, q.ttl);
        // The destination's own answer (a UDP probe's port unreachable) is arrival, not an error to note.
        if !matches!(end, Some(End::Reached { .. })) {
            hop.note(h.from, h.kind, h.mtu);
        }
        if let Some(e) = end {
            if self.p.end.is_none_or(|cur| e.ttl() < cur.ttl()) {
                self.p.end = Some(e);
            }
        }
        finish(&mut self.outstanding, q.round);
    }

    /// Probes whose deadline passed are lost.
    fn expire(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .inflight
            .iter()
            .filter(|(_, q)| q.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in expired {
            if let Some(q) = self.inflight.remove(&seq) {
                self.prober.forget(seq);
                self.p.hops[usize::from(q.ttl) - 1].lost();
                finish(&mut self.outstanding, q.round);
                if self.expired.len() >= EXPIRED_KEPT {
                    self.expired.clear();
                }
                self.expired.insert(seq);
            }
        }
    }
}

/// Timed-out probes remembered for late answers.
const EXPIRED_KEPT: usize = 8192;

fn finish(outstanding: &mut [u32], round: u32) {
    if let Some(n) = outstanding.get_mut(round as usize) {
        *n = n.saturating_sub(1);
    }
}

/// The next sequence number neither in flight nor lately timed out, skipping 0 and 0xffff (they cannot be UDP
/// checksums). In flight and remembered are far fewer than 65,534 together, so the loop ends.
fn take_seq(next: &mut u16, inflight: &HashMap<u16, Pending>, expired: &HashSet<u16>) -> u16 {
    loop {
        let s = *next;
        *next = next.wrapping_add(1);
        if s != 0 && s != 0xffff && !inflight.contains_key(&s) && !expired.contains(&s) {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated path for the engine alone (the real sockets are tested in tests/trace.rs): hop `ttl`
    /// answers after 2 × `ttl` ms from 10.0.ttl.1, the destination is hop `dest`, hop `silent` never
    /// answers, and answers come back in reverse order of sending. A loopback UDP socket is the descriptor the
    /// engine waits on: a thread writes a byte to it when an answer is due.
    struct Sim {
        queue: Vec<(Instant, Heard)>,
        rx: std::net::UdpSocket,
        silent: u8,
        dest: u8,
        /// This hop answers after 150 ms.
        slow: u8,
        sent: Vec<ProbeSpec>,
    }

    impl Sim {
        fn new(silent: u8, dest: u8) -> Sim {
            let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            rx.set_nonblocking(true).unwrap();
            Sim {
                queue: Vec::new(),
                rx,
                silent,
                dest,
                slow: 0,
                sent: Vec::new(),
            }
        }
    }

    impl Prober for Sim {
        fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
            self.sent.push(*p);
            let now = Stamp::now();
            if p.ttl == self.silent {
                return Ok(now);
            }
            let hop = p.ttl.min(self.dest);
            let (from, kind) = if p.ttl >= self.dest {
                ("10.0.9.9".parse().unwrap(), ReplyKind::EchoReply)
            } else {
                (IpAddr::from([10, 0, hop, 1]), ReplyKind::TimeExceeded)
            };
            let delay = if p.ttl == self.slow {
                Duration::from_millis(150)
            } else {
                Duration::from_millis(u64::from(hop) * 2)
            };
            let mut at = now;
            at.at += delay;
            at.wall = None;
            // Newest first: the engine must not care about order.
            self.queue.insert(
                0,
                (
                    now.at + delay,
                    Heard {
                        seq: p.seq,
                        from,
                        kind,
                        at,
                        mpls: Vec::new(),
                        mtu: None,
                    },
                ),
            );
            let to = self.rx.local_addr().unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let _ = tx.send_to(&[1], to);
            });
            Ok(now)
        }

        fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
            use std::os::fd::AsFd;
            vec![(self.rx.as_fd(), Interest::Readable)]
        }

        fn receive(&mut self, _ready: &[bool], heard: &mut Vec<Heard>) -> io::Result<()> {
            let mut b = [0u8; 8];
            while self.rx.recv(&mut b).is_ok() {}
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = self.queue.drain(..).partition(|(t, _)| *t <= now);
            self.queue = later;
            heard.extend(due.into_iter().map(|(_, h)| h));
            Ok(())
        }
    }

    fn cfg(rounds: u32) -> RunConfig {
        RunConfig {
            first_ttl: 1,
            max_ttl: 8,
            rounds,
            interval: Duration::from_millis(30),
            timeout: Duration::from_millis(200),
            flows: 1,
            destination: "10.0.9.9".parse().unwrap(),
            port_unreachable_arrives: false,
            first_seq: 0xfffe,
        }
    }

    #[test]
    fn all_ttls_at_once_silent_hop_costs_one_timeout() {
        let mut sim = Sim::new(2, 4);
        let mut rounds_seen = 0;
        let p = run(&mut sim, &cfg(1), &mut |_| rounds_seen += 1).unwrap();
        assert_eq!(rounds_seen, 1);
        assert_eq!(p.end, Some(End::Reached { ttl: 4 }));
        assert_eq!(sim.sent.len(), 8, "every TTL of the first round at once");
        // Sequence numbers skip 0xffff and 0.
        assert!(sim.sent.iter().all(|s| s.seq != 0 && s.seq != 0xffff));
        assert_eq!(p.hops[0].received, 1);
        assert_eq!((p.hops[1].sent, p.hops[1].received), (1, 0));
        assert_eq!(
            p.hops[3].responders[0].address,
            "10.0.9.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p.last_ttl(1, 8), 4);
        // One timeout (200 ms) for the silent hop, not one per probe; generous bound for a busy machine.
        assert!(p.elapsed >= Duration::from_millis(200), "{:?}", p.elapsed);
    }

    #[test]
    fn later_rounds_stop_at_the_destination() {
        let mut sim = Sim::new(0, 3);
        let mut seen = Vec::new();
        let p = run(&mut sim, &cfg(5), &mut |p| seen.push(p.rounds_done)).unwrap();
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        assert_eq!(p.rounds_done, 5);
        // 8 probes in round 1; rounds sent after the destination was found carry TTLs 1-3 only.
        assert!(sim.sent.len() < 8 * 5, "{}", sim.sent.len());
        assert!(sim.sent.iter().rev().take(3).all(|s| s.ttl <= 3));
        for ttl in 0..3 {
            assert_eq!(p.hops[ttl].received, 5, "hop {}", ttl + 1);
            assert_eq!(p.hops[ttl].loss_percent(), 0.0);
        }
    }

    #[test]
    fn answers_after_the_deadline_are_late_not_received() {
        let mut sim = Sim::new(0, 4);
        sim.slow = 2;
        let mut c = cfg(3);
        c.timeout = Duration::from_millis(100);
        c.interval = Duration::from_millis(250);
        let p = run(&mut sim, &c, &mut |_| {}).unwrap();
        assert_eq!((p.hops[1].sent, p.hops[1].received), (3, 0));
        assert!(p.late >= 1, "{}", p.late);
        assert_eq!(p.hops[2].received, 3);
        // A timed-out probe's sequence number is not given to a new probe while its answer may come.
        let mut seqs: Vec<u16> = sim.sent.iter().map(|s| s.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), sim.sent.len());
    }

    #[test]
    fn a_silent_path_ends_one_hop_after_the_last_answer() {
        let mut sim = Sim::new(0, 99);
        sim.silent = 0;
        let mut c = cfg(1);
        c.max_ttl = 6;
        // Hops 4 and up never answer.
        struct Cut(Sim);
        impl Prober for Cut {
            fn send(&mut self, p: &ProbeSpec) -> io::Result<Stamp> {
                if p.ttl >= 4 {
                    return Ok(Stamp::now());
                }
                self.0.send(p)
            }
            fn wait_list(&self) -> Vec<(BorrowedFd<'_>, Interest)> {
                self.0.wait_list()
            }
            fn receive(&mut self, r: &[bool], h: &mut Vec<Heard>) -> io::Result<()> {
                self.0.receive(r, h)
            }
        }
        let mut cut = Cut(sim);
        let p = run(&mut cut, &c, &mut |_| {}).unwrap();
        assert_eq!(p.end, None);
        assert_eq!(p.last_ttl(1, 6), 4);
        assert_eq!(p.hops[3].received, 0);
    }

    #[test]
    fn unreachables_and_packet_too_big_end_the_trace() {
        let c = cfg(1);
        let r2: IpAddr = "10.0.2.1".parse().unwrap();
        let prohibited = ReplyKind::Error {
            v6: false,
            icmp_type: 3,
            code: 13,
        };
        assert_eq!(
            is_end(prohibited, r2, &c, 3),
            Some(End::Rejected {
                ttl: 3,
                from: r2,
                kind: prohibited
            })
        );
        let ptb = ReplyKind::Error {
            v6: true,
            icmp_type: 2,
            code: 0,
        };
        assert!(matches!(
            is_end(ptb, r2, &c, 3),
            Some(End::Rejected { ttl: 3, .. })
        ));
        // ICMPv6 type 3 is time exceeded, not an unreachable.
        let te6 = ReplyKind::Error {
            v6: true,
            icmp_type: 3,
            code: 1,
        };
        assert_eq!(is_end(te6, r2, &c, 3), None);
        assert_eq!(is_end(ReplyKind::TimeExceeded, r2, &c, 3), None);
        let port = ReplyKind::Error {
            v6: false,
            icmp_type: 3,
            code: 3,
        };
        let mut udp = c.clone();
        udp.port_unreachable_arrives = true;
        assert_eq!(
            is_end(port, c.destination, &udp, 4),
            Some(End::Reached { ttl: 4 })
        );
        // Port unreachable from a router is a rejection.
        assert!(matches!(
            is_end(port, r2, &udp, 4),
            Some(End::Rejected { .. })
        ));
    }

    #[test]
    fn stamps_prefer_the_kernel_clock_when_it_agrees() {
        let sent = Stamp::now();
        let mut got = sent;
        got.at += Duration::from_millis(10);
        got.wall = sent.wall.map(|w| w + Duration::from_millis(9));
        assert_eq!(got.since(&sent), Duration::from_millis(9));
        // A kernel time far from the monotonic clock (a clock step) is not believed.
        got.wall = sent.wall.map(|w| w + Duration::from_secs(3600));
        assert_eq!(got.since(&sent), Duration::from_millis(10));
    }
}
