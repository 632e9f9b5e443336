//! `-o FILE`: the body is streamed to a temporary file beside FILE (same directory, so the final rename is
//! atomic) and renamed into place only once it arrived whole. A failed or cut-short fetch leaves nothing under
//! the final name.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

/// The temporary file being written and the name it gets when whole.
#[derive(Debug)]
pub struct Sink {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
    bytes: u64,
}

impl Sink {
    /// Creates `.NAME.netdiag-PID.part` beside `path`.
    pub fn create(path: &Path) -> io::Result<Sink> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
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
            tmp,
            path: path.to_path_buf(),
            bytes: 0,
        })
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts over: a new hop's body replaces the last one's (only the final body is saved).
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.bytes = 0;
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Flushes to disk and renames into place; returns the bytes saved.
    pub fn commit(self) -> io::Result<u64> {
        let r = self
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        if r.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        r.map(|()| self.bytes)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}
