//! The PostgreSQL backend: several processes serve one service over one
//! database.
//!
//! - [`schema`]: versioned migrations under an advisory lock, and the lock
//!   keys and notification channel of a schema.
//! - [`writer`]: the writer task, with group commit of pipelined statements.
//! - [`pipeline`]: sending several statements at once, in order.
//! - [`ops`]: the fenced statements of each write; [`states`]: a batch's
//!   state writes as one statement.
//! - [`reader`]: entity state and journal reads.
//! - [`feed`]: feed reads and the listener that follows other processes'
//!   commits.
//! - [`leases`]: consumer offsets and leases.
//! - [`schedule`]: the outbox and timers.
//! - [`view`], [`values`]: view tables and their values.
//! - [`error`]: which failures are transient.
//! - [`url`]: connection settings from the URL, and the URL for the log.
//!
//! # Why tokio-postgres and deadpool-postgres
//!
//! tokio-postgres pipelines: requests issued on one connection without
//! waiting for each other's answers go out together and PostgreSQL answers
//! them in order, so a batch of writes costs one round trip, not one per
//! statement; group commit below is built on that. sqlx runs one statement
//! per round trip on a connection, and its SQLite driver cannot share a build
//! with rusqlite, which the SQLite backend is built on, so it would be a
//! second SQL toolkit beside rusqlite for no gain. deadpool-postgres is the
//! small pool made for tokio-postgres: it drops connections that closed
//! (after a server restart) and makes new ones on demand, with timeouts for
//! waiting and connecting, so that operations during an outage fail fast and
//! work again once the server is back.
//!
//! # The change feed under several writing processes
//!
//! Feed offsets come from an identity sequence, and a sequence hands out
//! values in the order transactions ask, not the order they commit: with two
//! writers, the one holding offset 7 may commit after the one holding 8, and
//! a consumer that read 8 and then asks for offsets above 8 never sees 7. So
//! every write transaction first takes one advisory transaction lock (per
//! schema, `pg_advisory_xact_lock`) and only then draws offsets; the lock is
//! released by its commit, after the commit became visible. Offsets are
//! therefore drawn and committed in one order across all processes, and a
//! record is readable only when every lower offset is (as
//! [`FeedSource`] requires).
//!
//! The cost: write transactions of all processes on one schema run one at a
//! time, each holding the lock for one pipelined round trip and its commit
//! (the WAL flush). Group commit is what keeps that affordable: a process
//! commits everything queued in one transaction, so the lock is taken once
//! per batch, not per write, and throughput grows with the batch size. Reads,
//! offsets, leases and view batches do not take the lock.
//!
//! # Group commit
//!
//! Entity writes ([`EntityStore::write_state`], [`EntityStore::append_events`])
//! go to one writer task per process, which commits every write queued (up to
//! [`PostgresOptions::max_batch`]) in one transaction, sent as one pipeline:
//! `BEGIN`, the feed lock, the writes (the state writes as one statement),
//! the notification and `COMMIT`. Each write's statement checks its own fence and reports
//! whether it held rather than failing (see [`ops`]), so a conflicting write
//! changes nothing and gets [`StorageError::Conflict`] while the others
//! commit. Writers reply only after `COMMIT` returned; when it fails, every
//! write of the batch fails, with [`StorageError::Transient`] when the
//! connection was lost (the commit may or may not have landed).
//!
//! # Commit notifications
//!
//! [`FeedSource::feed_watch`] is advanced by this process's writer right
//! after each of its commits, and by `LISTEN`/`NOTIFY` for other processes'
//! commits: each write transaction notifies the feed head it committed, and a
//! dedicated connection of each process listens (see [`feed`]), catching up
//! with one read of the head whenever it (re)connects.
//!
//! # Outages
//!
//! Connecting times out after [`PostgresOptions::connect_timeout`] (unless
//! the URL sets `connect_timeout`) and waiting for a free connection after
//! [`PostgresOptions::acquire_timeout`]. While the server is unreachable,
//! operations fail with [`StorageError::Transient`]; broken connections are
//! dropped when they go back to the pool, so once the server is back, the
//! next operations connect again, without reopening the storage. A writer
//! cut off in the middle of a transaction cannot hold the feed lock for long:
//! the server ends sessions idle in a transaction after 30 s.
//!
//! Connections are plain TCP or Unix-socket connections: a URL that requires
//! TLS (`sslmode=require`) is refused.
//!
//! # Tables
//!
//! Everything lives in the connection's current schema, in `plinth_*` tables
//! (see [`schema`]). A value entity's state is stored in its state row and
//! in its feed record, an event in its journal row and its feed record.

mod error;
mod feed;
mod leases;
mod ops;
mod pipeline;
mod reader;
mod schedule;
mod schema;
mod states;
mod url;
mod values;
mod view;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use self::error::{pg, unsigned};
use self::ops::WriteOp;
use self::schema::Keys;
use self::writer::{Request, Writer};
use super::{
    Claim, DueCall, EntityStore, EventAppend, FeedRecord, FeedSource, OffsetStore, Replay,
    ScheduleOp, ScheduleStore, StateWrite, Storage, StorageError, StorageResult, StoredState,
    ViewStore,
};

/// Settings of a [`PostgresStorage`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The most pooled connections (reads, the writer, view writes). The feed
    /// listener holds one more of its own.
    pub max_connections: usize,
    /// The most writes committed together in one transaction.
    pub max_batch: usize,
    /// How many writes may wait for the writer before callers wait to enqueue.
    pub queue_capacity: usize,
    /// How long connecting to the server may take (when the URL does not set
    /// `connect_timeout`).
    pub connect_timeout: Duration,
    /// How long an operation waits for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 10,
            max_batch: 512,
            queue_capacity: 8192,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// How many row changes a slow live query may fall behind before it skips
/// some.
const ROW_CHANGES_BUFFER: usize = 4096;

/// The PostgreSQL storage backend: a connection pool, one writer task with
/// group commit, and a listener following other processes' commits. Any
/// number of processes may open one database (see the module documentation
/// for how they keep the change feed in order).
///
/// Dropping it (or [`PostgresStorage::close`]) lets the writer finish the
/// writes already queued; operations after `close` fail with
/// [`StorageError::Closed`].
pub struct PostgresStorage {
    description: String,
    pool: Pool,
    keys: Arc<Keys>,
    requests: mpsc::Sender<Request>,
    writer: Mutex<Option<JoinHandle<()>>>,
    listener: JoinHandle<()>,
    closed: AtomicBool,
    /// The last committed feed offset, as far as this process knows.
    feed_head: watch::Receiver<u64>,
    /// The view rows every process changes, as the listener hears of them.
    rows: tokio::sync::broadcast::Sender<crate::storage::RowChange>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("url", &self.description)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connect to the database at `url` (`postgres://user:pass@host:port/db`
    /// or `host=… dbname=…`), apply pending migrations, and start the writer
    /// and the feed listener. Must run inside a Tokio runtime.
    pub async fn connect(url: &str, options: PostgresOptions) -> StorageResult<PostgresStorage> {
        let (config, description) = url::config(url, &options)?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|err| StorageError::Backend(format!("cannot build the pool: {err}")))?;
        let mut client = pool.get().await.map_err(error::pool)?;
        let keys = Arc::new(schema::migrate(&mut client).await?);
        let head: i64 = client
            .query_one(feed::HEAD, &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(pg)?;
        drop(client);
        let (head_sender, feed_head) = watch::channel(unsigned(head));
        let head_sender = Arc::new(head_sender);
        let (requests, queue) = mpsc::channel(options.queue_capacity.max(1));
        let writer = tokio::spawn(writer::run(
            Writer {
                pool: pool.clone(),
                keys: keys.clone(),
                head: head_sender.clone(),
                max_batch: options.max_batch,
            },
            queue,
        ));
        let mut listener_config = config.clone();
        let name = config.get_application_name().unwrap_or("plinth");
        listener_config.application_name(format!("{name} feed listener"));
        let (rows, _) = tokio::sync::broadcast::channel(ROW_CHANGES_BUFFER);
        let listener = tokio::spawn(feed::listen(
            listener_config,
            feed::Follow {
                channel: keys.channel.clone(),
                rows_channel: keys.rows_channel.clone(),
                head: head_sender,
                rows: rows.clone(),
            },
        ));
        Ok(PostgresStorage {
            description,
            pool,
            keys,
            requests,
            writer: Mutex::new(Some(writer)),
            listener,
            closed: AtomicBool::new(false),
            feed_head,
            rows,
        })
    }

    /// Finish the queued writes, stop the writer and the listener and close
    /// the connections. Later operations fail with [`StorageError::Closed`].
    /// Closing twice is fine.
    pub async fn close(&self) -> StorageResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        let (reply, done) = oneshot::channel();
        if self.requests.send(Request::Close { reply }).await.is_ok() {
            // An error means the writer already stopped: closed either way.
            let _ = done.await;
        }
        let handle = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(handle) = handle {
            handle
                .await
                .map_err(|err| StorageError::Backend(format!("the writer task failed: {err}")))?;
        }
        self.listener.abort();
        self.pool.close();
        Ok(())
    }

    /// Queue a write and wait until it is committed.
    async fn write(&self, op: WriteOp) -> StorageResult<u64> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed);
        }
        let (reply, outcome) = oneshot::channel();
        self.requests
            .send(Request::Write {
                op,
                reply,
                span: tracing::Span::current(),
            })
            .await
            .map_err(|_| StorageError::Closed)?;
        // The writer drops the reply only when it stops without running the write.
        outcome.await.map_err(|_| StorageError::Closed)?
    }

    /// A pooled connection, unless the storage is closed.
    async fn client(&self) -> StorageResult<Object> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed);
        }
        self.pool.get().await.map_err(error::pool)
    }
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        // The writer keeps running until it has committed what is queued.
        self.listener.abort();
    }
}

impl EntityStore for PostgresStorage {
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>> {
        Box::pin(async move { reader::load_state(&self.client().await?, type_id, entity_id).await })
    }

    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.write(WriteOp::State(write)))
    }

    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>> {
        Box::pin(
            async move { reader::load_journal(&self.client().await?, type_id, entity_id).await },
        )
    }

    fn append_events(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.write(WriteOp::Append(append)))
    }
}

impl FeedSource for PostgresStorage {
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>> {
        Box::pin(async move { feed::read(&self.client().await?, after, type_ids, limit).await })
    }

    fn feed_watch(&self) -> Option<watch::Receiver<u64>> {
        Some(self.feed_head.clone())
    }
}

impl OffsetStore for PostgresStorage {
    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        Box::pin(async move { leases::load_offset(&self.client().await?, consumer).await })
    }

    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>> {
        Box::pin(async move { leases::store_offset(&self.client().await?, consumer, offset).await })
    }

    fn claim_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        Box::pin(async move { leases::claim(&self.client().await?, name, holder, ttl).await })
    }

    fn release_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, StorageResult<()>> {
        Box::pin(async move { leases::release(&self.client().await?, name, holder).await })
    }

    fn count_leases<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        Box::pin(async move { leases::count(&self.client().await?, prefix).await })
    }
}

impl ScheduleStore for PostgresStorage {
    fn schedule(&self, ops: Vec<ScheduleOp>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { schedule::apply(&self.client().await?, &ops).await })
    }

    fn claim_due(&self, claim: Claim) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        Box::pin(async move { schedule::claim(&self.client().await?, claim).await })
    }

    fn retry_later<'a>(
        &'a self,
        key: &'a str,
        attempts: u32,
        error: &'a str,
        delay: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        Box::pin(async move {
            schedule::retry(&self.client().await?, key, attempts, error, delay).await
        })
    }

    fn complete(&self, keys: Vec<String>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move { schedule::complete(&self.client().await?, &keys).await })
    }

    fn next_due(&self) -> BoxFuture<'_, StorageResult<Option<Duration>>> {
        Box::pin(async move { schedule::next_due(&self.client().await?).await })
    }

    fn list_scheduled(&self, limit: usize) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        Box::pin(async move { schedule::list(&self.client().await?, limit).await })
    }
}

impl Storage for PostgresStorage {
    fn views(&self) -> Option<&dyn ViewStore> {
        Some(self)
    }

    fn shared(&self) -> bool {
        true
    }

    fn close(&self) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(PostgresStorage::close(self))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
