//! Socket inode → owning processes, from one walk of /proc/PID/fd.
//!
//! The walk is the slow part of `ss -p`: one readlink per open file on the machine. It runs on every core
//! (threads take the next pid from a shared counter, so one process with 10,000 fds does not leave a core
//! idle), uses `readlinkat` on the fd directory to avoid building paths (`net::fdtable`), keeps only the inodes asked for, and
//! reads /proc/PID/comm only for processes that hold one. Processes that exit mid-walk are skipped; fd
//! directories we may not read are counted so the caller can say so.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::model::Owner;
use crate::net::fdtable;

/// The owners found, and how many processes' fd tables could not be read (permission denied).
#[derive(Debug, Default)]
pub struct OwnerMap {
    pub by_inode: HashMap<u64, Vec<Owner>>,
    pub denied: usize,
}

/// Most threads the walk uses.
const MAX_THREADS: usize = 8;

/// Maps each wanted socket inode to the processes holding it, sorted by pid.
pub fn owners(wanted: &HashSet<u64>) -> OwnerMap {
    if wanted.is_empty() {
        return OwnerMap::default();
    }
    let pids = list_pids();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS);
    let parts: Vec<(Vec<(u64, u32)>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| walk(&pids, &next, wanted)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut map = OwnerMap::default();
    let mut names: HashMap<u32, String> = HashMap::new();
    for (found, denied) in parts {
        map.denied += denied;
        for (inode, pid) in found {
            let program = names.entry(pid).or_insert_with(|| comm(pid)).clone();
            map.by_inode
                .entry(inode)
                .or_default()
                .push(Owner { pid, program });
        }
    }
    for v in map.by_inode.values_mut() {
        v.sort_by_key(|o| o.pid);
        v.dedup_by_key(|o| o.pid);
    }
    map
}

fn list_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// One worker: takes pids from the shared counter until none are left.
fn walk(pids: &[u32], next: &AtomicUsize, wanted: &HashSet<u64>) -> (Vec<(u64, u32)>, usize) {
    let mut found = Vec::new();
    let mut denied = 0usize;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&pid) = pids.get(i) else {
            return (found, denied);
        };
        if crate::interrupt::requested() {
            // Ctrl-C: stop walking; the caller prints what was found and exits 130.
            return (found, denied);
        }
        if let Err(e) = scan_pid(pid, wanted, &mut found) {
            if e == libc::EACCES || e == libc::EPERM {
                denied += 1;
            }
            // ENOENT/ESRCH: the process exited mid-walk; anything else: nothing to report for it.
        }
    }
}

/// Reads one process's fd table; `Err(errno)` when the directory cannot be opened.
fn scan_pid(pid: u32, wanted: &HashSet<u64>, found: &mut Vec<(u64, u32)>) -> Result<(), i32> {
    fdtable::for_each_fd_link(pid, |link| {
        if let Some(inode) = socket_inode(link) {
            if wanted.contains(&inode) {
                found.push((inode, pid));
            }
        }
    })
    .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// `socket:[12345]` → 12345. Pure; never panics.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut v = 0u64;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// The process name from /proc/PID/comm, control characters replaced; `?` when it already exited.
fn comm(pid: u32) -> String {
    match std::fs::read(format!("/proc/{pid}/comm")) {
        Ok(b) => {
            let b = b.strip_suffix(b"\n").unwrap_or(&b);
            String::from_utf8_lossy(b)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        }
        Err(_) => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_parse() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12a]"), None);
        assert_eq!(socket_inode(b"pipe:[12]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn finds_this_process_socket() {
        use std::os::unix::fs::MetadataExt;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let meta = std::fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
        let inode = meta.ino();
        let map = owners(&HashSet::from([inode]));
        let o = &map.by_inode[&inode];
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].pid, std::process::id());
        assert!(!o[0].program.is_empty());
    }
}
