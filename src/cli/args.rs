//! What every subcommand's flags share: the lazy flag wrapper and value parsers. Kept apart from `cli/mod.rs` so
//! the subcommand files depend on this file, never back on the dispatcher that depends on them.

use std::time::Duration;

use clap::Args;

/// A subcommand's flags, added to clap's command tree only when that subcommand is parsed or its help shown.
/// clap otherwise builds every subcommand's arguments on every start, a large part of the cost of a command
/// that runs for a millisecond (`netdiag port 80/tcp`).
#[derive(Debug)]
pub struct Lazy<T>(pub T);

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(T::augment_args)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(T::augment_args_for_update)
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

/// clap value parser for durations: plain seconds (0.5) or humantime (500ms, 2s).
pub fn duration_arg(s: &str) -> Result<Duration, String> {
    netdiag::duration::parse(s)
}
