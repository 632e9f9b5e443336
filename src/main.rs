//! The netdiag binary: parse, run, print the error, map to the exit code.
//!
//! `main` is the C entry point (`no_main`): std's runtime start-up reads /proc/self/maps to place a guard for
//! the main thread's stack, a third of netdiag's start-up cost, which a command that runs for a millisecond
//! feels. std works the same without it (arguments are captured by glibc's init array); what the runtime did
//! that netdiag needs — ignoring SIGPIPE so a closed pipe is an error to handle, not a kill — is done here.
#![cfg_attr(not(test), no_main)]
// In test builds the harness owns the entry point, so the dispatch below is only reached from tests.
#![cfg_attr(test, allow(dead_code))]

mod cli;

use std::io::Write;

use clap::Parser;
use netdiag::{exit, render};

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let code = run();
    // Flush stdout as the runtime would, then leave with the code.
    let _ = std::io::stdout().flush();
    code
}

fn run() -> libc::c_int {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(
            std::io::stderr(),
            "netdiag: internal error: {info} (this is a bug; please report it)"
        );
    }));
    // `netdiag help --help` (and `help -h`): the help of help is the top-level help.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if matches!(args.as_slice(), [h, f] if h == "help" && (f == "--help" || f == "-h")) {
        return match cli::Cli::try_parse_from(["netdiag", "--help"]) {
            Err(e) => i32::from(cli::clap_exit(e)),
            Ok(_) => 0,
        };
    }
    let parsed = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return i32::from(cli::clap_exit(e)),
    };
    match cli::run(parsed) {
        Ok(outcome) => i32::from(outcome.code()),
        Err(e) if render::is_broken_pipe(&e) => i32::from(exit::SUCCESS),
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "netdiag: error: {msg}");
            i32::from(exit::USAGE)
        }
    }
}
