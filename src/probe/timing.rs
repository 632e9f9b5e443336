//! How long a probe waits, and when a silent probe is tried again: the one rule for every scanner (the
//! connect engine, `probe --udp`, and the SYN scanner).
//!
//! # The timeout
//!
//! Each target host has an [`RttEstimator`]: RFC 6298's smoothed round trip (`srtt`) and its variation
//! (`rttvar`), fed with every round trip measured to that host (an echo before the scan, a SYN answered by a
//! SYN-ACK or a reset, an ICMP error, a UDP reply). The timeout of the next probe to that host is
//!
//! ```text
//! rto = clamp(srtt + max(G, 4 · rttvar), floor, ceiling)
//! ```
//!
//! with `G` = [`GRANULARITY`], `floor` = [`FLOOR`] (or the ceiling, if that is lower) and `ceiling` the run's
//! `--timeout`. The first sample sets `srtt = R`, `rttvar = R / 2`; each later one
//! `rttvar = 3/4 · rttvar + 1/4 · |srtt − R|`, then `srtt = 7/8 · srtt + 1/8 · R` (RFC 6298 §2). Before any
//! sample the timeout is the ceiling: nothing is known, so the user's bound applies.
//!
//! The floor is nmap's default `--min-rtt-timeout` (100 ms): a round trip measured at 50 µs on a quiet link
//! is no promise for the next one on a busy machine, and the retry below catches the rest.
//!
//! # The retry
//!
//! A probe that gets no answer within its timeout is sent once more ([`MAX_TRIES`] = 2 in all) before the
//! port is called filtered (TCP) or `open|filtered` (UDP). The retry waits twice the then-current timeout
//! (RFC 6298 §5.5's back-off), never more than the ceiling. A probe whose timeout already was the ceiling
//! (no round trip measured, or the ceiling is below the floor) is not retried: it has waited as long as the
//! user allowed, and a retry would double the run for nothing the user asked for. Every answer — open,
//! closed, or an ICMP error — ends the probe at once, whichever try it came on.
//! The SYN scanner keeps the timeouts but always makes its retry: a raw SYN has no kernel retransmission
//! behind it, so one lost packet would otherwise read as filtered.
//!
//! The estimator is plain data (no clock, no I/O): callers pass measured durations in and read timeouts out.

use std::time::Duration;

/// The lowest adaptive timeout (nmap's default `--min-rtt-timeout`).
pub const FLOOR: Duration = Duration::from_millis(100);

/// RFC 6298's clock granularity `G`: the least variation term added to the smoothed round trip.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Tries of one probe in all: the first and one retry.
pub const MAX_TRIES: u8 = 2;

/// Round-trip estimate of one host (RFC 6298 §2), bounded by a floor and the run's `--timeout` ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttEstimator {
    /// Smoothed round trip, in seconds; `None` before the first sample.
    srtt: Option<f64>,
    /// Round-trip variation, in seconds.
    rttvar: f64,
    samples: u32,
    ceiling: Duration,
}

impl RttEstimator {
    /// An estimator with nothing measured yet, whose timeouts never exceed `ceiling` (`--timeout`).
    pub fn new(ceiling: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: 0.0,
            samples: 0,
            ceiling,
        }
    }

    /// Feeds one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                self.srtt = Some(0.875 * s + 0.125 * r);
            }
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// Round trips measured so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// The smoothed round trip, once one was measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_secs_f64)
    }

    /// The ceiling (`--timeout`).
    pub fn ceiling(&self) -> Duration {
        self.ceiling
    }

    /// The timeout of a first try: `clamp(srtt + max(G, 4·rttvar), floor, ceiling)`, or the ceiling before any
    /// sample.
    pub fn timeout(&self) -> Duration {
        let Some(s) = self.srtt else {
            return self.ceiling;
        };
        let var = (4.0 * self.rttvar).max(GRANULARITY.as_secs_f64());
        let rto = Duration::try_from_secs_f64(s + var).unwrap_or(self.ceiling);
        rto.max(FLOOR).min(self.ceiling)
    }

    /// The timeout of try number `tries + 1` (`tries` = tries already made, 0 for the first): the timeout,
    /// doubled for the retry, never above the ceiling.
    pub fn timeout_for(&self, tries: u8) -> Duration {
        let t = self.timeout();
        if tries == 0 {
            t
        } else {
            t.saturating_mul(2).min(self.ceiling)
        }
    }

    /// What to do with a probe that stayed silent for its whole timeout, after `tries` tries (1 after the
    /// first): try again, or call it silent for good. `waited` is the timeout that try had.
    pub fn after_silence(&self, tries: u8, waited: Duration) -> Next {
        retry_rule(tries, waited, self.ceiling)
    }
}

/// What follows a silent try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send the probe again.
    Retry,
    /// No answer: filtered (TCP), `open|filtered` (UDP).
    Silent,
}

/// The retry rule on its own: a probe silent after `tries` tries, the last of which waited `waited`, is sent
/// again when it has had fewer than [`MAX_TRIES`] tries and the last wait was shorter than the ceiling.
pub fn retry_rule(tries: u8, waited: Duration, ceiling: Duration) -> Next {
    if tries < MAX_TRIES && waited < ceiling {
        Next::Retry
    } else {
        Next::Silent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_measured_means_the_ceiling() {
        let e = RttEstimator::new(ms(1000));
        assert_eq!(e.timeout(), ms(1000));
        assert_eq!(e.timeout_for(1), ms(1000));
        assert_eq!(e.srtt(), None);
        // At the ceiling already: no retry.
        assert_eq!(e.after_silence(1, e.timeout()), Next::Silent);
    }

    #[test]
    fn first_sample_follows_rfc6298() {
        let mut e = RttEstimator::new(ms(10_000));
        e.sample(ms(200));
        // srtt = 200, rttvar = 100: rto = 200 + 400.
        assert_eq!(e.srtt(), Some(ms(200)));
        assert_eq!(e.timeout(), ms(600));
        e.sample(ms(200));
        // rttvar = 75, srtt = 200: rto = 500.
        assert_eq!(e.timeout(), ms(500));
        assert_eq!(e.samples(), 2);
    }

    #[test]
    fn later_samples_smooth() {
        let mut e = RttEstimator::new(ms(10_000));
        e.sample(ms(100));
        e.sample(ms(300));
        // rttvar = 0.75·50 + 0.25·200 = 87.5; srtt = 0.875·100 + 0.125·300 = 125.
        let srtt = e.srtt().unwrap().as_secs_f64();
        assert!((srtt - 0.125).abs() < 1e-9, "{srtt}");
        let rto = e.timeout().as_secs_f64();
        assert!((rto - (0.125 + 4.0 * 0.0875)).abs() < 1e-9, "{rto}");
    }

    #[test]
    fn fast_links_get_the_floor_and_slow_ones_the_ceiling() {
        let mut e = RttEstimator::new(ms(1000));
        for _ in 0..10 {
            e.sample(Duration::from_micros(60));
        }
        assert_eq!(e.timeout(), FLOOR);
        assert_eq!(e.timeout_for(1), FLOOR * 2);
        let mut slow = RttEstimator::new(ms(1000));
        slow.sample(ms(900));
        assert_eq!(slow.timeout(), ms(1000));
        // A ceiling under the floor wins.
        let mut tight = RttEstimator::new(ms(30));
        tight.sample(Duration::from_micros(10));
        assert_eq!(tight.timeout(), ms(30));
        assert_eq!(tight.after_silence(1, ms(30)), Next::Silent);
    }

    #[test]
    fn a_silent_probe_is_retried_once() {
        let mut e = RttEstimator::new(ms(1000));
        e.sample(ms(1));
        let t = e.timeout();
        assert_eq!(e.after_silence(1, t), Next::Retry);
        assert_eq!(e.after_silence(2, e.timeout_for(1)), Next::Silent);
        assert_eq!(retry_rule(0, ms(1), ms(2)), Next::Retry);
        assert_eq!(retry_rule(MAX_TRIES, ms(1), ms(2)), Next::Silent);
    }

    #[test]
    fn extreme_samples_do_not_panic() {
        let mut e = RttEstimator::new(Duration::MAX);
        e.sample(Duration::MAX);
        e.sample(Duration::ZERO);
        let _ = e.timeout();
        let _ = e.timeout_for(1);
        let mut z = RttEstimator::new(Duration::ZERO);
        z.sample(Duration::ZERO);
        assert_eq!(z.timeout(), Duration::ZERO);
    }
}
