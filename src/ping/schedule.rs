//! A run's per-host state and the pacing of its sends, shared by the ICMP and TCP engines.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::model::{IcmpErrorReport, PingRequest, ReplyRecord, MAX_REPLIES_KEPT};
use super::stats::RttAccumulator;
use crate::explain::Explanation;

/// Per-host state during a run (shared by the ICMP and TCP engines).
#[derive(Debug)]
pub(crate) struct HostState {
    pub label: String,
    pub addr: Option<IpAddr>,
    pub resolve_error: Option<Explanation>,
    pub sent: u64,
    /// Of `sent`: still within their reply window when the run was interrupted.
    pub unfinished: u64,
    pub received: u64,
    pub duplicates: u64,
    pub errors: u64,
    pub rtt: RttAccumulator,
    pub replies: Vec<ReplyRecord>,
    pub icmp_error: Option<IcmpErrorReport>,
    pub send_error: Option<Explanation>,
}

impl HostState {
    pub fn new(label: String, addr: Result<IpAddr, Explanation>) -> HostState {
        let (addr, resolve_error) = match addr {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        };
        HostState {
            label,
            addr,
            resolve_error,
            sent: 0,
            unfinished: 0,
            received: 0,
            duplicates: 0,
            errors: 0,
            rtt: RttAccumulator::default(),
            replies: Vec::new(),
            icmp_error: None,
            send_error: None,
        }
    }

    /// Records a reply (or duplicate); it is then `self.replies.last()`.
    pub fn record(&mut self, r: ReplyRecord) {
        if r.duplicate {
            self.duplicates += 1;
        } else {
            self.received += 1;
            self.rtt.add(r.rtt);
        }
        if self.replies.len() < MAX_REPLIES_KEPT {
            self.replies.push(r);
        } else if let Some(last) = self.replies.last_mut() {
            // Over the cap: the latest takes the last slot, so the event still sees it.
            *last = r;
        }
    }
}

/// The pacing of sends: round-robin over the hosts, `interval` between two sends to one host, `gap` between
/// any two sends. Times are scheduled, not measured, so pacing does not drift.
pub(crate) struct Schedule {
    order: Vec<usize>,
    pos: usize,
    round: u64,
    count: Option<u64>,
    interval: Duration,
    gap: Duration,
    next_global: Instant,
    next_host: Vec<Instant>,
    end: Option<Instant>,
}

impl Schedule {
    pub fn new(hosts: &[HostState], req: &PingRequest, start: Instant) -> Schedule {
        let order: Vec<usize> = (0..hosts.len())
            .filter(|&i| hosts[i].addr.is_some())
            .collect();
        let gap = match req.rate {
            Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64((1.0 / r).min(60.0)),
            _ => Duration::ZERO,
        };
        Schedule {
            next_host: vec![start; hosts.len()],
            order,
            pos: 0,
            round: 0,
            count: req.count,
            interval: req.interval,
            gap,
            next_global: start,
            end: req.deadline.map(|d| start + d),
        }
    }

    /// The next host to ping and when, or `None` when every echo has been sent.
    pub fn peek(&self) -> Option<(usize, Instant)> {
        if self.order.is_empty() || self.count.is_some_and(|c| self.round >= c) {
            return None;
        }
        let h = self.order[self.pos];
        let due = self.next_global.max(self.next_host[h]);
        if self.end.is_some_and(|e| due >= e) {
            return None;
        }
        Some((h, due))
    }

    /// Marks the peeked send as done.
    pub fn advance(&mut self, due: Instant) {
        let h = self.order[self.pos];
        self.next_host[h] = due + self.interval;
        self.next_global = due + self.gap;
        self.pos += 1;
        if self.pos == self.order.len() {
            self.pos = 0;
            self.round += 1;
        }
    }

    pub fn round(&self) -> u64 {
        self.round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_round_robin_with_gap_and_interval() {
        let hosts: Vec<HostState> = (1..=3)
            .map(|i| HostState::new(format!("h{i}"), Ok(IpAddr::from([127, 0, 0, i]))))
            .collect();
        let mut req = PingRequest::new(vec![]);
        req.count = Some(2);
        req.rate = Some(100.0);
        req.interval = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut s = Schedule::new(&hosts, &req, t0);
        let mut got = Vec::new();
        while let Some((h, due)) = s.peek() {
            got.push((h, (due - t0).as_millis()));
            s.advance(due);
        }
        assert_eq!(
            got,
            vec![(0, 0), (1, 10), (2, 20), (0, 1000), (1, 1010), (2, 1020)]
        );
    }

    #[test]
    fn schedule_stops_at_the_deadline() {
        let hosts = vec![HostState::new("h".into(), Ok(IpAddr::from([127, 0, 0, 1])))];
        let mut req = PingRequest::new(vec![]);
        req.count = None;
        req.deadline = Some(Duration::from_millis(2500));
        let t0 = Instant::now();
        let mut s = Schedule::new(&hosts, &req, t0);
        let mut n = 0;
        while let Some((_, due)) = s.peek() {
            s.advance(due);
            n += 1;
            assert!(n < 10);
        }
        assert_eq!(n, 3);
    }
}
