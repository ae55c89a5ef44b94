//! One writer per database: a lock file beside it (`<db>.lock`), held for the whole run
//! with an OS file lock, so a second `run` is refused with a clear message instead of
//! waiting or corrupting anything. The lock dies with the process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held while a run writes the database.
#[derive(Debug)]
pub struct DbLock {
    file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("database {db} is in use by another echo-health run ({holder}); wait for it to finish or stop it")]
    Busy { db: String, holder: String },
    #[error("cannot create lock file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl DbLock {
    /// Takes the lock of `db` or says who holds it.
    pub fn acquire(db: &Path) -> Result<DbLock, LockError> {
        let path = PathBuf::from(format!("{}.lock", db.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| LockError::Io { path: path.display().to_string(), source: e })?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io { path: path.display().to_string(), source: e })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() { "holder unknown".to_owned() } else { holder.trim().to_owned() };
                return Err(LockError::Busy { db: db.display().to_string(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Io { path: path.display().to_string(), source: e });
            }
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "pid {} since {}", std::process::id(), chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
        let _ = file.flush();
        Ok(DbLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.duckdb");
        let first = DbLock::acquire(&db).unwrap();
        let err = DbLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("in use by another echo-health run") && err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        DbLock::acquire(&db).unwrap();
    }
}
