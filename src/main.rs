//! The netdiag binary: parse, run, print the error, map to the exit code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use netdiag::{exit, render};

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(
            std::io::stderr(),
            "netdiag: internal error: {info} (this is a bug; please report it)"
        );
    }));
    let parsed = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return ExitCode::from(cli::clap_exit(e)),
    };
    match cli::run(parsed) {
        Ok(outcome) => outcome.into(),
        Err(e) if render::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "netdiag: error: {msg}");
            ExitCode::from(exit::USAGE)
        }
    }
}
