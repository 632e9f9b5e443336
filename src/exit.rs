//! Outcomes and exit codes: 0 every target answered, 1 a target failed, 2 bad input or usage, 130 interrupted.

use std::process::ExitCode;

/// What a finished run says about its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target answered as asked (found, open, reachable, 2xx).
    Success,
    /// At least one target said no (not found, closed, filtered, unreachable, HTTP error).
    TargetFailed,
    /// The run was interrupted (Ctrl-C) after printing what it had.
    Interrupted,
}

impl Outcome {
    /// `Success` when every item succeeded, `TargetFailed` otherwise.
    pub fn all(ok: impl IntoIterator<Item = bool>) -> Outcome {
        if ok.into_iter().all(|b| b) {
            Outcome::Success
        } else {
            Outcome::TargetFailed
        }
    }

    /// `Interrupted` when Ctrl-C stopped the run, else `Success` when `ok`, else `TargetFailed`: the mapping
    /// every report's [`crate::render::Report::outcome`] uses.
    pub fn of(interrupted: bool, ok: bool) -> Outcome {
        match (interrupted, ok) {
            (true, _) => Outcome::Interrupted,
            (false, true) => Outcome::Success,
            (false, false) => Outcome::TargetFailed,
        }
    }

    /// The worse of two outcomes.
    pub fn and(self, other: Outcome) -> Outcome {
        self.code().max(other.code()).into()
    }

    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => SUCCESS,
            Outcome::TargetFailed => TARGET_FAILED,
            Outcome::Interrupted => INTERRUPTED,
        }
    }
}

impl From<u8> for Outcome {
    fn from(code: u8) -> Self {
        match code {
            SUCCESS => Outcome::Success,
            INTERRUPTED => Outcome::Interrupted,
            _ => Outcome::TargetFailed,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(o.code())
    }
}

/// Every target answered.
pub const SUCCESS: u8 = 0;
/// A target failed: not found, closed, filtered, unreachable, HTTP >= 400.
pub const TARGET_FAILED: u8 = 1;
/// Bad arguments, bad input, or netdiag could not do its job.
pub const USAGE: u8 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_documented_table() {
        assert_eq!(Outcome::Success.code(), 0);
        assert_eq!(Outcome::TargetFailed.code(), 1);
        assert_eq!(Outcome::Interrupted.code(), 130);
        assert_eq!(USAGE, 2);
    }

    #[test]
    fn all_and_and_pick_the_worse() {
        assert_eq!(Outcome::all([true, true]), Outcome::Success);
        assert_eq!(Outcome::all([true, false]), Outcome::TargetFailed);
        assert_eq!(Outcome::all([]), Outcome::Success);
        assert_eq!(
            Outcome::Success.and(Outcome::TargetFailed),
            Outcome::TargetFailed
        );
        assert_eq!(
            Outcome::TargetFailed.and(Outcome::Interrupted),
            Outcome::Interrupted
        );
        assert_eq!(Outcome::of(true, true), Outcome::Interrupted);
        assert_eq!(Outcome::of(false, true), Outcome::Success);
        assert_eq!(Outcome::of(false, false), Outcome::TargetFailed);
    }
}
