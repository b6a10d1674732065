//! One process per database file: an exclusive advisory lock on
//! `<file>.lock`, held while the storage is open.
//!
//! Each process caches the entities it serves; a second process on the same
//! file would serve state the first one changed under it. The lock turns that
//! into a clear error at start. The operating system drops the lock when the
//! process ends, also on SIGKILL, so a crash never leaves the file locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::storage::{StorageError, StorageResult};

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(super) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Lock the database at `db` (creating its directory and the lock file
    /// when missing), or fail with [`StorageError::InUse`].
    pub(super) fn acquire(db: &Path) -> StorageResult<FileLock> {
        let path = lock_path(db);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StorageError::Backend(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::Backend(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(FileLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StorageError::InUse(format!(
                "{} is served by another process (it holds {}); an SQLite database serves one \
                 process: stop the other one, give this one its own PLINTH_DATA_DIR, or use \
                 PostgreSQL (PLINTH_STORAGE=postgres://...) to run several",
                db.display(),
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(StorageError::Backend(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// `<db>.lock` beside the database file.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
