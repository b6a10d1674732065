//! The checkpointer: a thread with its own connection that copies the WAL back
//! into the database file, so that the writer does not.
//!
//! SQLite checkpoints inside the commit that crosses `wal_autocheckpoint`
//! pages, on the connection that committed: with one writer thread, every
//! write queued behind that commit waits for the copy (the event-sourced p99
//! at 64 in flight was set by those pauses). Here the writer's automatic
//! checkpoint is only a backstop (by default at [`BACKSTOP_FACTOR`] times the
//! size it had alone), and this thread runs a `PASSIVE` checkpoint whenever
//! the writer has committed since the last one, every [`INTERVAL`] by default. `PASSIVE` takes
//! no lock a writer or a reader waits for: it copies what no reader still
//! needs and leaves the rest for the next round, and SQLite starts the WAL
//! from its beginning again once all of it is copied.
//!
//! Durability does not depend on this thread: a commit is durable once its
//! WAL frames are synced; a checkpoint only moves pages the WAL already holds.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::backend;
use super::writer::Counters;
use crate::storage::{StorageError, StorageResult};

/// The default wait between two checkpoints while the writer commits.
pub(super) const INTERVAL: Duration = Duration::from_millis(20);

/// With this thread, the writer checkpoints by itself only past this many times
/// the WAL size it would checkpoint at alone: when this thread falls behind (or
/// a reader holds old pages), the WAL still cannot grow without bound.
pub(super) const BACKSTOP_FACTOR: u32 = 8;

/// The running checkpointer; stopping (or dropping) it ends the thread.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Open its connection to the database at `path` (which the writer has
    /// set up) and start the thread, watching `counters` for commits.
    pub(super) fn start(
        path: &Path,
        busy_timeout: Duration,
        interval: Duration,
        counters: Arc<Counters>,
    ) -> StorageResult<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StorageError::Backend(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(busy_timeout).map_err(backend)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("plinth-sqlite-checkpoint".to_owned())
            .spawn(move || run(conn, stopped, interval, counters))
            .map_err(|e| {
                StorageError::Backend(format!("cannot start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stop the thread and wait for it (a checkpoint under way finishes
    /// first). Stopping twice is fine.
    pub(super) fn stop(&self) {
        drop(self.stop.lock().ok().and_then(|mut stop| stop.take()));
        if let Some(thread) = self.thread.lock().ok().and_then(|mut thread| thread.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>, interval: Duration, counters: Arc<Counters>) {
    let mut seen = counters.transactions.load(Ordering::Relaxed);
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            // The sender is dropped to stop; nothing else is ever sent.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let committed = counters.transactions.load(Ordering::Relaxed);
        if committed == seen {
            continue;
        }
        seen = committed;
        // A failure (the disk, a busy lock past the timeout) leaves the pages
        // in the WAL, where they stay readable and durable: the next round,
        // or the writer's backstop, copies them.
        if let Err(error) = checkpoint(&conn) {
            tracing::warn!(%error, "WAL checkpoint failed; retrying on the next commit");
        }
    }
}

/// One `PASSIVE` checkpoint: copies every WAL frame no reader still needs.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
