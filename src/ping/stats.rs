//! Round-trip statistics as iputils `ping` computes them: min/avg/max and mdev = sqrt(mean(rtt²) − mean(rtt)²).

use std::time::Duration;

use serde::Serialize;

/// Running sums over the round-trip times of one host (no per-sample storage).
#[derive(Debug, Clone, Copy, Default)]
pub struct RttAccumulator {
    n: u64,
    sum: f64,
    sum2: f64,
    min: f64,
    max: f64,
}

/// min/avg/max/mdev in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RttStats {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub mdev_ms: f64,
}

impl RttAccumulator {
    pub fn add(&mut self, rtt: Duration) {
        // iputils works in microseconds; doing the same keeps the figures comparable to the last digit.
        let us = rtt.as_secs_f64() * 1e6;
        if self.n == 0 || us < self.min {
            self.min = us;
        }
        if self.n == 0 || us > self.max {
            self.max = us;
        }
        self.n += 1;
        self.sum += us;
        self.sum2 += us * us;
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    /// The statistics, or `None` without samples.
    pub fn stats(&self) -> Option<RttStats> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let avg = self.sum / n;
        let var = (self.sum2 / n - avg * avg).max(0.0);
        Some(RttStats {
            min_ms: round3(self.min / 1000.0),
            avg_ms: round3(avg / 1000.0),
            max_ms: round3(self.max / 1000.0),
            mdev_ms: round3(var.sqrt() / 1000.0),
        })
    }
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Packet loss in percent as ping prints it: (sent − received) × 100 / sent; 0 when nothing was sent.
pub fn loss_percent(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    let lost = sent.saturating_sub(received) as f64;
    (lost * 100.0 / sent as f64 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_iputils_on_a_known_sample() {
        // ping -c 5: times 0.033 0.020 0.018 0.019 0.020 ms -> min/avg/max/mdev = 0.018/0.022/0.033/0.005
        let mut a = RttAccumulator::default();
        for us in [33, 20, 18, 19, 20] {
            a.add(Duration::from_micros(us));
        }
        let s = a.stats().unwrap();
        assert_eq!(s.min_ms, 0.018);
        assert_eq!(s.max_ms, 0.033);
        assert_eq!(s.avg_ms, 0.022);
        assert_eq!(s.mdev_ms, 0.006); // sqrt(mean(x^2) - mean^2) = 5.6 us
    }

    #[test]
    fn one_sample_has_zero_mdev_and_none_has_no_stats() {
        assert!(RttAccumulator::default().stats().is_none());
        let mut a = RttAccumulator::default();
        a.add(Duration::from_millis(2));
        let s = a.stats().unwrap();
        assert_eq!(
            (s.min_ms, s.avg_ms, s.max_ms, s.mdev_ms),
            (2.0, 2.0, 2.0, 0.0)
        );
    }

    #[test]
    fn loss_is_a_percentage_of_sent() {
        assert_eq!(loss_percent(4, 4), 0.0);
        assert_eq!(loss_percent(4, 3), 25.0);
        assert_eq!(loss_percent(3, 0), 100.0);
        assert_eq!(loss_percent(0, 0), 0.0);
        assert_eq!(loss_percent(3, 1), 66.667);
    }
}
