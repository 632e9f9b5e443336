//! Process-wide calls the network code needs: the effective user, the open-files limit (sockets in flight),
//! signal dispositions (Ctrl-C), and a network namespace of the thread's own (for tests).

use std::io;

/// True when running as root (euid 0). Capabilities are not looked at: opening the socket is the real test.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Raises the open-files soft limit to the hard limit and returns the soft limit now in force.
pub fn raise_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to write.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: raised is a valid rlimit; raising the soft limit up to the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

/// The open-files soft limit in force, without changing it.
pub fn nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to write.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}

/// Clock ticks per second (the unit of /proc's CPU times) and the page size in bytes (of /proc's RSS).
pub fn clock_ticks_and_page_size() -> (u64, u64) {
    // SAFETY: sysconf has no preconditions; -1 (unknown) is mapped to 1 below.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (ticks.max(1) as u64, page.max(1) as u64)
}

/// Installs `handler` for `signal` (signal(2) semantics: BSD, the handler stays installed). The handler must
/// do only async-signal-safe work.
pub fn set_signal_handler(signal: i32, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: installing a handler has no memory-safety preconditions; the caller's handler is an extern "C"
    // function, whose async-signal safety is the caller's contract above.
    unsafe {
        libc::signal(signal, handler as libc::sighandler_t);
    }
}

/// Restores the default action for `signal`. Async-signal-safe: a handler may call it.
pub fn reset_signal(signal: i32) {
    // SAFETY: signal() is async-signal-safe; SIG_DFL is always a valid disposition.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}

/// Moves the calling thread (only it) into a new, empty network namespace, with loopback down; processes it
/// starts are born in it. Needs CAP_SYS_ADMIN. Tests use it for traffic nobody else can see.
pub fn unshare_network_namespace() -> io::Result<()> {
    // SAFETY: unshare only changes this thread's namespaces; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Fills `buf` from the kernel's random pool (getrandom(2), never blocking once the pool is ready); false when
/// the call failed or came back short (the caller picks its own fallback).
pub fn random_bytes(buf: &mut [u8]) -> bool {
    // SAFETY: getrandom writes at most buf.len() bytes into buf, a live mutable slice.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    n >= 0 && n as usize == buf.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_limit_is_at_least_what_it_was() {
        let n = raise_nofile_limit().unwrap();
        assert!(n >= 3);
        assert_eq!(raise_nofile_limit().unwrap(), n);
        assert_eq!(nofile_limit().unwrap(), n);
        let (ticks, page) = clock_ticks_and_page_size();
        assert!(ticks >= 1 && page >= 512);
    }

    #[test]
    fn a_new_namespace_has_only_loopback() {
        if !is_root() {
            eprintln!("skipping a_new_namespace_has_only_loopback: needs root");
            return;
        }
        let links = std::thread::spawn(|| {
            unshare_network_namespace().unwrap();
            std::fs::read_to_string("/proc/thread-self/net/dev").unwrap()
        })
        .join()
        .unwrap();
        let names: Vec<&str> = links
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(names, vec!["lo"], "{links}");
    }
}
