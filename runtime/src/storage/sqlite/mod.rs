//! The embedded SQLite backend.
//!
//! - [`schema`]: connection settings (WAL, `synchronous=FULL`) and migrations.
//! - [`writer`]: the one writer thread, with group commit.
//! - [`checkpoint`]: the thread that copies the WAL into the database file.
//! - [`ops`]: the statements of each write, fenced by the expected sequence.
//! - [`reader`]: read-only connections for concurrent reads.
//! - [`leases`]: leases of consumers.
//! - [`schedule`]: the outbox and timers.
//! - [`lock`]: the lock that keeps a database file to one process.
//!
//! Why rusqlite rather than sqlx: the backend is built around a dedicated writer
//! thread that runs synchronous statements back to back and commits a whole
//! batch with one fsync (group commit); rusqlite gives exactly that — a plain
//! synchronous connection, savepoints and a prepared-statement cache — without
//! an async driver's per-statement round trips through its own worker thread.
//! rusqlite and sqlx cannot share a build (both link their own SQLite), so the
//! choice is one or the other.

mod checkpoint;
mod leases;
mod lock;
mod metrics;
mod ops;
mod reader;
mod schedule;
mod schema;
mod view;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};

use self::ops::WriteOp;
use self::reader::ReadPool;
use self::writer::{Counters, Request};
use super::view::{Dialect, SqlValue};
use super::{
    Claim, DueCall, EntityStore, EventAppend, FeedRecord, FeedSource, OffsetStore, QueuedWrite,
    Replay, ScheduleOp, ScheduleStore, StateWrite, Storage, StorageError, StorageResult,
    StoredState, ViewBatch, ViewStore,
};
use crate::clock::{self, Clock, unix_millis};

pub use self::schema::SCHEMA_VERSION;

/// Settings of a [`SqliteStorage`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How many read-only connections serve reads concurrently (at least 1).
    pub readers: usize,
    /// The most writes committed together in one transaction.
    pub max_batch: usize,
    /// How many writes may wait for the writer before callers wait to enqueue.
    pub queue_capacity: usize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// WAL size, in pages, at which the writer copies the WAL back into the
    /// database file itself (a checkpoint inside its commit, which the writes
    /// queued behind it wait for). Larger values copy pages that are
    /// rewritten often fewer times, at the cost of a larger WAL file.
    pub checkpoint_pages: u32,
    /// How often a thread of its own checkpoints while the writer commits,
    /// so that the writer rarely reaches `checkpoint_pages`; `None`: only the
    /// writer checkpoints.
    pub checkpoint_interval: Option<Duration>,
    /// The clock the schedule's due times and the leases' expiry are kept
    /// by (the system clock by default; a service opens its storage with its
    /// own, [`Service::clock`](crate::Service::clock)).
    pub clock: Arc<dyn Clock>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            max_batch: 1024,
            queue_capacity: 8192,
            busy_timeout: Duration::from_secs(5),
            checkpoint_pages: schema::WAL_CHECKPOINT_PAGES * checkpoint::BACKSTOP_FACTOR,
            checkpoint_interval: Some(checkpoint::INTERVAL),
            clock: clock::system(),
        }
    }
}

/// Counters of the writer, to show how writes were batched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed (one fsync each).
    pub transactions: u64,
    /// Writes committed.
    pub writes: u64,
    /// Writes that failed, conflicts included.
    pub failed: u64,
}

/// The SQLite storage backend: one file in WAL mode, one writer thread with
/// group commit, a pool of read-only connections. One process at a time
/// serves a file: opening a file another process (or another open storage)
/// serves fails with [`StorageError::InUse`].
///
/// Dropping it (or [`SqliteStorage::close`]) lets the writer finish the writes
/// already queued; operations after `close` fail with [`StorageError::Closed`].
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    /// The writer's queue; `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// `None` when only the writer checkpoints.
    checkpointer: Option<checkpoint::Checkpointer>,
    readers: ReadPool,
    counters: Arc<Counters>,
    closed: AtomicBool,
    /// The last committed feed offset, published by the writer after commits.
    feed_head: watch::Receiver<u64>,
    /// Due times and leases are kept by this clock.
    clock: Arc<dyn Clock>,
    /// Held while the storage is open; released when it is dropped.
    _lock: lock::FileLock,
}

impl SqliteStorage {
    /// Open (creating it and its directory when missing) the database at `path`,
    /// apply pending migrations and start the writer thread.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> StorageResult<SqliteStorage> {
        let path = path.as_ref().to_path_buf();
        let lock = lock::FileLock::acquire(&path)?;
        let conn = schema::open_writer(&path, options.busy_timeout, options.checkpoint_pages)?;
        let readers = ReadPool::open(path.clone(), options.readers, options.busy_timeout)?;
        let (requests, queue) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let max_batch = options.max_batch.max(1);
        let thread_counters = counters.clone();
        let (head_sender, feed_head) = watch::channel(writer::feed_head(&conn)?);
        let clock = options.clock;
        let writer_clock = clock.clone();
        let writer = std::thread::Builder::new()
            .name("plinth-sqlite-writer".to_owned())
            .spawn(move || {
                writer::run(
                    conn,
                    queue,
                    max_batch,
                    thread_counters,
                    head_sender,
                    writer_clock,
                )
            })
            .map_err(|e| StorageError::Backend(format!("cannot start the writer thread: {e}")))?;
        let checkpointer = match options.checkpoint_interval {
            Some(interval) => Some(checkpoint::Checkpointer::start(
                &path,
                options.busy_timeout,
                interval,
                counters.clone(),
            )?),
            None => None,
        };
        Ok(SqliteStorage {
            path,
            requests: Some(requests),
            writer: Mutex::new(Some(writer)),
            checkpointer,
            readers,
            counters,
            closed: AtomicBool::new(false),
            feed_head,
            clock,
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many transactions and writes the writer committed so far.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Finish the queued writes, stop the writer and close the connections.
    /// Later operations fail with [`StorageError::Closed`]. Closing twice is fine.
    pub async fn close(&self) -> StorageResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        self.readers.close();
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        let (reply, done) = oneshot::channel();
        let Some(requests) = &self.requests else {
            return Ok(());
        };
        if requests.send(Request::Close { reply }).await.is_ok() {
            // An error means the writer already stopped: closed either way.
            let _ = done.await;
        }
        let handle = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StorageError::Backend(format!("cannot stop the writer: {e}")))?
                .map_err(|_| StorageError::Backend("the writer thread panicked".to_owned()))?;
        }
        Ok(())
    }

    /// Queue a write and wait until it is durable.
    async fn write(&self, op: WriteOp) -> StorageResult<u64> {
        self.queue(op).await?.await
    }

    /// Queue a write behind every write queued before it (the writer takes
    /// them in order and commits a batch in one transaction), with the
    /// future of its outcome.
    async fn queue(&self, op: WriteOp) -> StorageResult<QueuedWrite> {
        let (reply, outcome) = oneshot::channel();
        self.requests
            .as_ref()
            .ok_or(StorageError::Closed)?
            .send(Request::Write {
                op,
                reply,
                span: tracing::Span::current(),
            })
            .await
            .map_err(|_| StorageError::Closed)?;
        // The writer drops the reply only when it stops without running the write.
        Ok(Box::pin(async move {
            outcome.await.map_err(|_| StorageError::Closed)?
        }))
    }

    /// Run a read, unless the storage is closed.
    async fn read<T, F>(&self, query: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StorageResult<T> + Send + 'static,
    {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed);
        }
        self.readers.run(query).await
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.readers.close();
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        // With the only sender gone, the writer commits what is queued and stops.
        drop(self.requests.take());
        if let Some(handle) = self.writer.get_mut().ok().and_then(Option::take) {
            // Joining waits only for the writes already queued.
            let _ = handle.join();
        }
    }
}

impl EntityStore for SqliteStorage {
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>> {
        let (type_id, entity_id) = (type_id.to_owned(), entity_id.to_owned());
        Box::pin(self.read(move |conn| reader::load_state(conn, &type_id, &entity_id)))
    }

    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.write(WriteOp::State(write)))
    }

    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>> {
        let (type_id, entity_id) = (type_id.to_owned(), entity_id.to_owned());
        Box::pin(self.read(move |conn| reader::load_journal(conn, &type_id, &entity_id)))
    }

    fn append_events(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.write(WriteOp::Append(append)))
    }

    fn queue_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        Box::pin(self.queue(WriteOp::State(write)))
    }

    fn queue_append(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        Box::pin(self.queue(WriteOp::Append(append)))
    }
}

impl FeedSource for SqliteStorage {
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>> {
        let type_ids = type_ids.to_vec();
        Box::pin(self.read(move |conn| reader::read_feed(conn, after, &type_ids, limit)))
    }

    fn feed_watch(&self) -> Option<watch::Receiver<u64>> {
        Some(self.feed_head.clone())
    }
}

impl OffsetStore for SqliteStorage {
    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        let consumer = consumer.to_owned();
        Box::pin(self.read(move |conn| reader::load_offset(conn, &consumer)))
    }

    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>> {
        let op = WriteOp::Offset {
            consumer: consumer.to_owned(),
            offset,
        };
        Box::pin(async move { self.write(op).await.map(drop) })
    }

    fn claim_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        let op = WriteOp::Claim(leases::Claim {
            name: name.to_owned(),
            holder: holder.to_owned(),
            ttl,
        });
        Box::pin(async move { self.write(op).await.map(|held| held == 1) })
    }

    fn release_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, StorageResult<()>> {
        let op = WriteOp::Release {
            name: name.to_owned(),
            holder: holder.to_owned(),
        };
        Box::pin(async move { self.write(op).await.map(drop) })
    }

    fn count_leases<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        let prefix = prefix.to_owned();
        let clock = self.clock.clone();
        Box::pin(self.read(move |conn| leases::count(conn, &prefix, clock.as_ref())))
    }
}

impl ScheduleStore for SqliteStorage {
    fn schedule(&self, ops: Vec<ScheduleOp>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { self.write(WriteOp::Schedule(ops)).await.map(drop) })
    }

    fn claim_due(&self, claim: Claim) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        let clock = self.clock.clone();
        Box::pin(async move {
            let (mut due, read_at) = self
                .read(move |conn| {
                    let due = schedule::due(conn, claim, clock.as_ref())?;
                    Ok((due, unix_millis(clock.as_ref())))
                })
                .await?;
            if !due.is_empty() {
                let keys = due.iter().map(|call| call.key.clone()).collect();
                self.write(WriteOp::Postpone {
                    keys,
                    hold: claim.hold,
                })
                .await?;
                // Waits count from the return, not from the read.
                let passed = unix_millis(self.clock.as_ref())
                    .saturating_sub(read_at)
                    .max(0);
                for call in &mut due {
                    call.due_in_ms = call.due_in_ms.saturating_sub(passed);
                }
            }
            Ok(due)
        })
    }

    fn retry_later<'a>(
        &'a self,
        key: &'a str,
        attempts: u32,
        error: &'a str,
        delay: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        let op = WriteOp::Retry {
            key: key.to_owned(),
            attempts,
            error: error.to_owned(),
            delay,
        };
        Box::pin(async move { self.write(op).await.map(|found| found > 0) })
    }

    fn complete(&self, keys: Vec<String>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { self.write(WriteOp::Complete(keys)).await.map(drop) })
    }

    fn next_due(&self) -> BoxFuture<'_, StorageResult<Option<Duration>>> {
        let clock = self.clock.clone();
        Box::pin(self.read(move |conn| schedule::next_due(conn, clock.as_ref())))
    }

    fn list_scheduled(&self, limit: usize) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        let clock = self.clock.clone();
        Box::pin(self.read(move |conn| schedule::list(conn, limit, clock.as_ref())))
    }
}

impl Storage for SqliteStorage {
    fn views(&self) -> Option<&dyn ViewStore> {
        Some(self)
    }

    fn close(&self) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(SqliteStorage::close(self))
    }

    fn describe(&self) -> String {
        format!("SQLite {}", self.path.display())
    }

    fn metrics_text(&self, out: &mut String) {
        metrics::metrics_text(&self.counters, out);
    }
}

impl ViewStore for SqliteStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn view_schema(&self, statements: Vec<String>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { self.write(WriteOp::ViewSchema(statements)).await.map(drop) })
    }

    fn view_write(&self, batch: ViewBatch) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { self.write(WriteOp::ViewBatch(batch)).await.map(drop) })
    }

    fn view_applied_seq<'a>(
        &'a self,
        consumer: &'a str,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<u64>>> {
        let (consumer, type_id, entity_id) = (
            consumer.to_owned(),
            type_id.to_owned(),
            entity_id.to_owned(),
        );
        Box::pin(self.read(move |conn| view::applied_seq(conn, &consumer, &type_id, &entity_id)))
    }

    fn view_has_applied<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<bool>> {
        let consumer = consumer.to_owned();
        Box::pin(self.read(move |conn| view::has_applied(conn, &consumer)))
    }

    fn view_query(
        &self,
        sql: Arc<str>,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<Vec<SqlValue>>>> {
        Box::pin(self.read(move |conn| view::query(conn, &sql, &params, columns)))
    }
}

/// A SQLite failure as a storage error.
fn backend(err: rusqlite::Error) -> StorageError {
    StorageError::Backend(err.to_string())
}

/// A sequence number or offset as SQLite's signed integer.
fn to_sql_int(value: u64) -> StorageResult<i64> {
    i64::try_from(value)
        .map_err(|_| StorageError::Backend(format!("{value} exceeds the largest storable number")))
}
