//! One server per data directory.
//!
//! Two servers writing one WAL would interleave records and destroy both histories, so the data
//! directory is locked for the life of the process (an advisory `flock` on `boltd.lock`, released
//! by the kernel however the process ends, SIGKILL included). The file holds the owner's PID so
//! that the refusal can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held while the server runs; dropping it releases the directory.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir` (which must exist) or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, String> {
        let path = dir.join("boltd.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if let Err(e) = file.try_lock() {
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            let owner = owner.trim();
            return Err(match e {
                std::fs::TryLockError::WouldBlock => format!(
                    "the data directory {} is in use by another boltd{} (--data-directory): \
                     stop that server or give this one another directory",
                    dir.display(),
                    if owner.is_empty() {
                        String::new()
                    } else {
                        format!(" (PID {owner})")
                    }
                ),
                std::fs::TryLockError::Error(e) => {
                    format!("cannot lock {}: {e}", path.display())
                }
            });
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.sync_all());
        written.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(DirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_directory_and_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(
            err.contains(&format!("PID {}", std::process::id())),
            "{err}"
        );
        drop(held);
        assert!(DirLock::acquire(dir.path()).is_ok());
    }
}
