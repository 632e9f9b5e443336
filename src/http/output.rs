//! `-o FILE`: the body is streamed to a temporary file beside FILE (same directory, so the final rename is
//! atomic) and renamed into place only once it arrived whole. A failed or cut-short fetch leaves nothing under
//! the final name. Through a symbolic link, the file it points to is replaced, not the link. A FILE that exists
//! and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written in place, as curl does: a rename
//! would put a regular file where the device was.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

/// The temporary file being written and the name it gets when whole.
#[derive(Debug)]
pub struct Sink {
    file: File,
    /// `None` when writing in place (a device or FIFO).
    tmp: Option<PathBuf>,
    /// The name to rename to (the link's target for a symbolic link).
    target: PathBuf,
    /// The name the user gave.
    path: PathBuf,
    bytes: u64,
}

impl Sink {
    /// Creates `.NAME.netdiag-PID.part` beside `path` (beside the file a link points to), or opens `path` itself
    /// when it is a device or FIFO.
    pub fn create(path: &Path) -> io::Result<Sink> {
        if std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file() && !m.is_dir()) {
            let file = File::options().write(true).open(path)?;
            return Ok(Sink {
                file,
                tmp: None,
                target: path.to_path_buf(),
                path: path.to_path_buf(),
                bytes: 0,
            });
        }
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
        let tmp_name = format!(
            ".{}.netdiag-{}.part",
            name.to_string_lossy(),
            std::process::id()
        );
        let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        Ok(Sink {
            file,
            tmp: Some(tmp),
            target,
            path: path.to_path_buf(),
            bytes: 0,
        })
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts over: a new hop's body replaces the last one's (only the final body is saved). A device or FIFO
    /// cannot take back what it was given: there the earlier body stays written.
    pub fn restart(&mut self) -> io::Result<()> {
        if self.tmp.is_some() {
            self.file.set_len(0)?;
            self.file.rewind()?;
        }
        self.bytes = 0;
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Flushes to disk and renames into place; returns the bytes saved.
    pub fn commit(mut self) -> io::Result<u64> {
        let Some(tmp) = &self.tmp else {
            return self.file.flush().map(|()| self.bytes);
        };
        let r = self
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(tmp, &self.target));
        if r.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        r.map(|()| self.bytes)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        if let Some(tmp) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
