//! What a prober works with: its deadline, and what it fills in (samples, log, the failure and why).

use std::time::{Duration, Instant};

use super::metrics::Samples;
use crate::explain::Explanation;

/// What a failed probe says: the layer that failed and the explanation from the shared table.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `target`, `resolve`, `reach`, `connect`, `tls`, `http`, `talk`, `dns` or a diagnose step.
    pub layer: &'static str,
    pub explanation: Explanation,
}

/// What a prober fills in: its samples, its log (shown with `debug=true`) and, when it failed, why.
#[derive(Debug, Default)]
pub struct ProbeOut {
    pub samples: Samples,
    /// When each line was logged, and the line.
    pub log: Vec<(std::time::SystemTime, String)>,
    pub failure: Option<Failure>,
}

impl ProbeOut {
    /// Adds a line to the probe's log.
    pub fn log(&mut self, msg: impl Into<String>) {
        self.log.push((std::time::SystemTime::now(), msg.into()));
    }

    /// Records the failure (the first one wins: it is the cause) and returns false, the probe's result.
    pub fn fail(&mut self, layer: &'static str, explanation: Explanation) -> bool {
        self.log(format!(
            "{layer} failed: {} ({})",
            explanation.sentence(),
            explanation.code
        ));
        if self.failure.is_none() {
            self.failure = Some(Failure { layer, explanation });
        }
        false
    }
}

/// A probe's deadline, from the time it started.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub total: Duration,
}

impl Deadline {
    pub fn new(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    /// Time left (at least a millisecond, so a library call still gets a positive timeout).
    pub fn left(&self) -> Duration {
        self.at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }
}
