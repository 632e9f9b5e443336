//! A process's descriptor table (`/proc/PID/fd`): the target of each descriptor, read with one readlinkat(2)
//! per entry against the open directory and no allocation per entry (`sockets -p` walks every process).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// An open directory stream; closed on drop.
struct Dir {
    dir: *mut libc::DIR,
}

impl Dir {
    fn open(path: &CStr) -> io::Result<Dir> {
        // SAFETY: path is NUL-terminated; the result is checked and owned right away.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: owned is a valid directory descriptor; on success fdopendir takes it over (closedir closes it),
        // so ownership leaves `owned` only then; on failure `owned` still closes it.
        let dir = unsafe { libc::fdopendir(owned.as_raw_fd()) };
        if dir.is_null() {
            return Err(io::Error::last_os_error());
        }
        let _ = owned.into_raw_fd();
        Ok(Dir { dir })
    }

    fn fd(&self) -> RawFd {
        // SAFETY: dir is a valid DIR* until drop.
        unsafe { libc::dirfd(self.dir) }
    }

    /// The next entry's name, copied into `name`; false at the end.
    fn next_name(&mut self, name: &mut Vec<u8>) -> bool {
        // SAFETY: dir is a valid DIR* until drop; the entry is read before the next readdir on this stream.
        let ent = unsafe { libc::readdir(self.dir) };
        if ent.is_null() {
            return false;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let s = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        name.clear();
        name.extend_from_slice(s.to_bytes_with_nul());
        true
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: dir came from fdopendir and is closed exactly once, here.
        unsafe { libc::closedir(self.dir) };
    }
}

/// Calls `f` with the link target of every descriptor of process `pid` (`socket:[12345]`, `/dev/null`, ...).
/// Fails when the table cannot be opened (EACCES / EPERM for another user's process without root, ENOENT when
/// it exited); descriptors that close during the walk are skipped.
pub fn for_each_fd_link(pid: u32, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let path = CString::new(format!("/proc/{pid}/fd"))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut dir = Dir::open(&path)?;
    let dfd = dir.fd();
    let mut name = Vec::with_capacity(16);
    let mut link = [0u8; 64];
    // Bounded: a descriptor table cannot list more entries than the kernel's fd limit (nr_open, at most 2^30).
    while dir.next_name(&mut name) {
        if name.first() == Some(&b'.') {
            continue;
        }
        // SAFETY: dfd stays open while dir lives; name is NUL-terminated; link is writable for its length.
        let n = unsafe {
            libc::readlinkat(
                dfd,
                name.as_ptr().cast(),
                link.as_mut_ptr().cast(),
                link.len(),
            )
        };
        if n > 0 {
            f(&link[..n as usize]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn lists_this_process_socket_and_fails_for_a_missing_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd()))
            .unwrap()
            .ino();
        let want = format!("socket:[{ino}]");
        let mut links = Vec::new();
        for_each_fd_link(std::process::id(), |l| links.push(l.to_vec())).unwrap();
        assert!(links.iter().any(|l| l == want.as_bytes()), "{want}");
        // pid_max is at most 2^22: this one cannot exist.
        let e = for_each_fd_link(u32::MAX, |_| {}).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
