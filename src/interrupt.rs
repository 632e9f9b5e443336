//! Ctrl-C: the first SIGINT sets a flag that long runs (scans, sweeps, servers) poll so they can print what they
//! found and exit 130; a second SIGINT kills the process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: set the flag, and let the next Ctrl-C use the default action.
    INTERRUPTED.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; restoring the default disposition is always valid.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Installs the SIGINT handler. Call once, before a long run starts.
pub fn install() {
    // SAFETY: the handler only touches an atomic and calls signal(), both async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// True once Ctrl-C was pressed.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Marks the run as interrupted (for tests and for engines that stop on their own signal).
pub fn request() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}
