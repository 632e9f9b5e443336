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
///
/// A sweep (one echo per host, `count` 1) retries as fping does: a host with no reply yet is pinged again, up
/// to `retries` times, the n-th retry [`retry_wait`]`(n)` after the previous try (fping's 500 ms initial
/// wait, times 1.5 per retry), never later than the per-reply timeout.
pub(crate) struct Schedule {
    /// Retries still to send: (due, host, try number ≥ 1), earliest first.
    retry: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize, u64)>>,
    retries: u64,
    timeout: Duration,
    /// What the last `peek` chose: a retry (its try number), or the regular round.
    peeked: Option<u64>,
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
        let retries = if req.count == Some(1) {
            u64::from(req.retries)
        } else {
            0
        };
        Schedule {
            retry: std::collections::BinaryHeap::new(),
            retries,
            timeout: req.timeout,
            peeked: None,
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

    /// The next host to ping and when, or `None` when every echo has been sent. Retries of hosts that have
    /// answered meanwhile (per `hosts`: a reply, an ICMP error, or a local send error) are dropped.
    pub fn peek(&mut self, hosts: &[HostState]) -> Option<(usize, Instant)> {
        while let Some(std::cmp::Reverse((_, h, _))) = self.retry.peek() {
            // A reply ends the retries, and so does an error: an ICMP error is an answer, and a send that failed
            // here (no route) fails the same way 500 ms later.
            if hosts
                .get(*h)
                .is_some_and(|x| x.received == 0 && x.errors == 0 && x.send_error.is_none())
            {
                break;
            }
            self.retry.pop();
        }
        let regular = if self.order.is_empty() || self.count.is_some_and(|c| self.round >= c) {
            None
        } else {
            let h = self.order[self.pos];
            Some((h, self.next_global.max(self.next_host[h])))
        };
        let retry = self
            .retry
            .peek()
            .map(|std::cmp::Reverse((due, h, n))| (*h, self.next_global.max(*due), *n));
        let (h, due, peeked) = match (regular, retry) {
            (Some((h, d)), Some((_, rd, _))) if d <= rd => (h, d, None),
            (_, Some((rh, rd, n))) => (rh, rd, Some(n)),
            (Some((h, d)), None) => (h, d, None),
            (None, None) => return None,
        };
        if self.end.is_some_and(|e| due >= e) {
            return None;
        }
        self.peeked = peeked;
        Some((h, due))
    }

    /// Marks the peeked send as done.
    pub fn advance(&mut self, due: Instant) {
        if let Some(n) = self.peeked.take() {
            if let Some(std::cmp::Reverse((_, h, _))) = self.retry.pop() {
                self.next_global = due + self.gap;
                if n < self.retries {
                    self.retry.push(std::cmp::Reverse((
                        due + retry_wait(n + 1, self.timeout),
                        h,
                        n + 1,
                    )));
                }
            }
            return;
        }
        let h = self.order[self.pos];
        if self.retries > 0 {
            self.retry
                .push(std::cmp::Reverse((due + retry_wait(1, self.timeout), h, 1)));
        }
        self.next_host[h] = due + self.interval;
        self.next_global = due + self.gap;
        self.pos += 1;
        if self.pos == self.order.len() {
            self.pos = 0;
            self.round += 1;
        }
    }

    /// The round of the peeked send (for a retry, its try number), for the sequence number.
    pub fn round(&self) -> u64 {
        self.peeked.unwrap_or(self.round)
    }
}

/// fping's wait before retry `n` (1 for the first retry): 500 ms × 1.5^(n−1), at most `timeout`.
pub fn retry_wait(n: u64, timeout: Duration) -> Duration {
    let exp = i32::try_from(n.saturating_sub(1))
        .unwrap_or(i32::MAX)
        .min(64);
    Duration::from_secs_f64(0.5 * 1.5f64.powi(exp)).min(timeout)
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
        while let Some((h, due)) = s.peek(&hosts) {
            got.push((h, (due - t0).as_millis()));
            s.advance(due);
        }
        assert_eq!(
            got,
            vec![(0, 0), (1, 10), (2, 20), (0, 1000), (1, 1010), (2, 1020)]
        );
    }

    #[test]
    fn a_sweep_retries_silent_hosts_with_fpings_backoff() {
        let mut hosts: Vec<HostState> = (1..=2)
            .map(|i| HostState::new(format!("h{i}"), Ok(IpAddr::from([127, 0, 0, i]))))
            .collect();
        let mut req = PingRequest::new(vec![]);
        req.count = Some(1);
        req.retries = 3;
        req.rate = Some(100.0);
        req.timeout = Duration::from_secs(2);
        let t0 = Instant::now();
        let mut s = Schedule::new(&hosts, &req, t0);
        let mut got = Vec::new();
        while let Some((h, due)) = s.peek(&hosts) {
            got.push((h, (due - t0).as_millis(), s.round()));
            s.advance(due);
            // Host 1 answers its first echo.
            if h == 1 {
                hosts[1].received = 1;
            }
        }
        assert_eq!(
            got,
            vec![
                (0, 0, 0),
                (1, 10, 0),
                (0, 500, 1),
                (0, 1250, 2),
                (0, 2375, 3)
            ]
        );
        assert_eq!(
            retry_wait(1, Duration::from_millis(300)),
            Duration::from_millis(300)
        );
        let mut req = PingRequest::new(vec![]);
        req.count = Some(2);
        req.retries = 3;
        let mut s = Schedule::new(&hosts[..1], &req, t0);
        let mut n = 0;
        while let Some((_, due)) = s.peek(&hosts[..1]) {
            s.advance(due);
            n += 1;
        }
        assert_eq!(n, 2, "retries apply to sweeps (count 1) only");
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
        while let Some((_, due)) = s.peek(&hosts) {
            s.advance(due);
            n += 1;
            assert!(n < 10);
        }
        assert_eq!(n, 3);
    }
}
