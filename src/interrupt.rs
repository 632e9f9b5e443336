//! Ctrl-C: the first SIGINT sets a flag that long runs (scans, sweeps, servers) poll so they can print what they
//! found and exit 130; a second SIGINT kills the process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::net::process;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: set the flag, and let the next Ctrl-C use the default action.
    INTERRUPTED.store(true, Ordering::SeqCst);
    process::reset_signal(libc::SIGINT);
}

/// Installs the SIGINT handler. Call once, before a long run starts.
pub fn install() {
    // The handler only touches an atomic and restores the default action, both async-signal-safe.
    process::set_signal_handler(libc::SIGINT, on_sigint);
}

/// True once Ctrl-C was pressed.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Marks the run as interrupted (for tests and for engines that stop on their own signal).
pub fn request() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}
