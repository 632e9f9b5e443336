//! Per-hop statistics as mtr keeps them: probes sent and answered, loss, last/best/average/worst round trip,
//! the sample standard deviation (mtr's StDev), jitter between consecutive answers, every router that
//! answered, the ICMP errors other than "time exceeded" each sent, and MPLS labels.

use std::net::IpAddr;
use std::time::Duration;

use super::wire::MplsLabel;

/// How a probe was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// ICMP time exceeded in transit: a router on the way.
    TimeExceeded,
    /// ICMP echo reply.
    EchoReply,
    /// TCP SYN-ACK: the port is open.
    SynAck,
    /// TCP RST: the host is there, the port closed.
    Rst,
    /// Any other ICMP error: destination unreachable (with its code), packet too big, parameter problem.
    Error { v6: bool, icmp_type: u8, code: u8 },
}

impl ReplyKind {
    /// ICMP port unreachable: a UDP probe reached its destination.
    pub fn is_port_unreachable(self) -> bool {
        matches!(
            self,
            ReplyKind::Error {
                v6: false,
                icmp_type: 3,
                code: 3
            } | ReplyKind::Error {
                v6: true,
                icmp_type: 1,
                code: 4
            }
        )
    }
}

/// An ICMP error other than "time exceeded" heard at a hop, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteAcc {
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub mtu: Option<u32>,
    pub count: u64,
}

/// One router (or the destination) that answered at a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponderAcc {
    pub address: IpAddr,
    pub received: u64,
    /// The labels of its latest answer that carried any.
    pub mpls: Vec<MplsLabel>,
}

/// Running sums over one hop's answers (no per-sample storage: a 10,000-round report stays small).
#[derive(Debug, Clone, Default)]
pub struct HopAcc {
    /// Probes finished: answered or timed out (probes still in flight are not counted yet).
    pub sent: u64,
    pub received: u64,
    mean: f64,
    ssd: f64,
    best: f64,
    worst: f64,
    last: Option<f64>,
    jitter_last: Option<f64>,
    jitter_sum: f64,
    jitter_max: f64,
    jitter_n: u64,
    pub responders: Vec<ResponderAcc>,
    pub notes: Vec<NoteAcc>,
}

/// The statistics of a hop, in milliseconds; None without answers.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct HopStats {
    pub last_ms: Option<f64>,
    pub best_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    pub worst_ms: Option<f64>,
    /// Sample standard deviation of the round trips (mtr's StDev).
    pub stddev_ms: Option<f64>,
    /// |difference| between the last two round trips.
    pub jitter_ms: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
    pub jitter_max_ms: Option<f64>,
}

/// A round trip in milliseconds to the microsecond (mtr shows tenths; JSON keeps three decimals).
fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

impl HopAcc {
    /// A probe of this hop timed out.
    pub fn lost(&mut self) {
        self.sent += 1;
    }

    /// A probe of this hop was answered by `from` after `rtt`.
    pub fn answered(&mut self, from: IpAddr, rtt: Duration, mpls: &[MplsLabel]) {
        self.sent += 1;
        self.received += 1;
        let ms = rtt.as_secs_f64() * 1000.0;
        // Welford: the mean and the sum of squared deviations, as mtr keeps them.
        let n = self.received as f64;
        let old = self.mean;
        self.mean += (ms - old) / n;
        self.ssd += (ms - old) * (ms - self.mean);
        if self.received == 1 || ms < self.best {
            self.best = ms;
        }
        if self.received == 1 || ms > self.worst {
            self.worst = ms;
        }
        if let Some(prev) = self.last {
            let j = (ms - prev).abs();
            self.jitter_last = Some(j);
            self.jitter_sum += j;
            self.jitter_n += 1;
            self.jitter_max = self.jitter_max.max(j);
        }
        self.last = Some(ms);
        match self.responders.iter_mut().find(|r| r.address == from) {
            Some(r) => {
                r.received += 1;
                if !mpls.is_empty() {
                    r.mpls = mpls.to_vec();
                }
            }
            None => self.responders.push(ResponderAcc {
                address: from,
                received: 1,
                mpls: mpls.to_vec(),
            }),
        }
    }

    /// An ICMP error other than time exceeded came from `from`.
    pub fn note(&mut self, from: IpAddr, kind: ReplyKind, mtu: Option<u32>) {
        let ReplyKind::Error {
            v6,
            icmp_type,
            code,
        } = kind
        else {
            return;
        };
        match self
            .notes
            .iter_mut()
            .find(|n| n.from == from && n.icmp_type == icmp_type && n.code == code)
        {
            Some(n) => {
                n.count += 1;
                n.mtu = mtu.or(n.mtu);
            }
            None => self.notes.push(NoteAcc {
                from,
                v6,
                icmp_type,
                code,
                mtu,
                count: 1,
            }),
        }
    }

    /// Lost probes in percent of those finished; 0 when none finished.
    pub fn loss_percent(&self) -> f64 {
        crate::ping::stats::loss_percent(self.sent, self.received)
    }

    pub fn stats(&self) -> HopStats {
        if self.received == 0 {
            return HopStats::default();
        }
        let stddev = if self.received > 1 {
            (self.ssd / (self.received as f64 - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        };
        HopStats {
            last_ms: self.last.map(round3),
            best_ms: Some(round3(self.best)),
            avg_ms: Some(round3(self.mean)),
            worst_ms: Some(round3(self.worst)),
            stddev_ms: Some(round3(stddev)),
            jitter_ms: self.jitter_last.map(round3),
            jitter_avg_ms: (self.jitter_n > 0)
                .then(|| round3(self.jitter_sum / self.jitter_n as f64)),
            jitter_max_ms: (self.jitter_n > 0).then(|| round3(self.jitter_max)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn statistics_match_mtr_on_a_known_sample() {
        // RTTs 10, 12, 11, 15 ms: avg 12, best 10, worst 15, sample stddev sqrt(14/3) = 2.160,
        // jitter |12-10|, |11-12|, |15-11| = 2, 1, 4: last 4, average 2.333, max 4.
        let mut h = HopAcc::default();
        for ms in [10, 12, 11, 15] {
            h.answered(ip("10.0.1.2"), Duration::from_millis(ms), &[]);
        }
        h.lost();
        let s = h.stats();
        assert_eq!((h.sent, h.received), (5, 4));
        assert_eq!(h.loss_percent(), 20.0);
        assert_eq!(s.avg_ms, Some(12.0));
        assert_eq!(
            (s.best_ms, s.worst_ms, s.last_ms),
            (Some(10.0), Some(15.0), Some(15.0))
        );
        assert_eq!(s.stddev_ms, Some(2.160));
        assert_eq!(s.jitter_ms, Some(4.0));
        assert_eq!(s.jitter_avg_ms, Some(2.333));
        assert_eq!(s.jitter_max_ms, Some(4.0));
    }

    #[test]
    fn one_answer_has_no_jitter_and_none_has_no_statistics() {
        let mut h = HopAcc::default();
        assert_eq!(h.stats(), HopStats::default());
        h.lost();
        assert_eq!(h.loss_percent(), 100.0);
        h.answered(ip("10.0.1.2"), Duration::from_micros(250), &[]);
        let s = h.stats();
        assert_eq!(s.avg_ms, Some(0.25));
        assert_eq!(s.stddev_ms, Some(0.0));
        assert_eq!(s.jitter_ms, None);
    }

    #[test]
    fn every_responder_is_counted_and_errors_are_noted() {
        let mut h = HopAcc::default();
        let label = MplsLabel {
            label: 16,
            tc: 0,
            bottom: true,
            ttl: 1,
        };
        h.answered(ip("10.0.2.2"), Duration::from_millis(1), &[]);
        h.answered(ip("10.0.2.6"), Duration::from_millis(1), &[label]);
        h.answered(ip("10.0.2.2"), Duration::from_millis(1), &[]);
        assert_eq!(h.responders.len(), 2);
        assert_eq!(h.responders[0].received, 2);
        assert_eq!(h.responders[1].mpls, vec![label]);
        let prohibited = ReplyKind::Error {
            v6: false,
            icmp_type: 3,
            code: 13,
        };
        h.note(ip("10.0.2.2"), prohibited, None);
        h.note(ip("10.0.2.2"), prohibited, None);
        h.note(ip("10.0.2.2"), ReplyKind::TimeExceeded, None);
        assert_eq!(h.notes.len(), 1);
        assert_eq!(h.notes[0].count, 2);
        assert!(!prohibited.is_port_unreachable());
        assert!(ReplyKind::Error {
            v6: true,
            icmp_type: 1,
            code: 4
        }
        .is_port_unreachable());
    }
}
