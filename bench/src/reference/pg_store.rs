//! PostgreSQL storage of the reference service: tokio-postgres over a deadpool-postgres pool,
//! written the way a user would write it by hand.
//!
//! Every write is durable before it is acknowledged: each session runs with
//! `synchronous_commit=on`, so a commit returns only once its WAL record is flushed. Two write
//! paths:
//!
//! - default: each write is one autocommit statement on a pooled connection (PostgreSQL itself
//!   groups the WAL flushes of concurrent commits);
//! - batching: one writer task takes every queued write (up to `max_batch`) and commits them in
//!   one transaction — all upserts in one multi-row `INSERT … ON CONFLICT (id) DO UPDATE` over
//!   `unnest` arrays, all events in one multi-row `INSERT` — and answers each after the commit.
//!
//! Reads are one `SELECT` by primary key on a pooled connection.

use super::{Job, WriteOp};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::store::CustomerRow;
use crate::{Error, Result};

/// How a [`PgStore`] is set up.
#[derive(Debug, Clone, Copy)]
pub struct PgOptions {
    /// Group commit through a writer task instead of one autocommit statement per write.
    pub batching: bool,
    /// Pooled connections (reads, direct writes, the writer's batches).
    pub pool_size: usize,
    /// Most writes per group commit.
    pub max_batch: usize,
}

impl Default for PgOptions {
    /// The pool and batch sizes of Plinth's own PostgreSQL backend (10 and 512).
    fn default() -> Self {
        PgOptions {
            batching: false,
            pool_size: 10,
            max_batch: 512,
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS reference_customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reference_customer_events (
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (id, seq)
);
";

const UPSERT_ONE: &str = "
INSERT INTO reference_customers (id, name, email, payload) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, email = EXCLUDED.email, payload = EXCLUDED.payload";

/// Many upserts in one statement; the ids must be distinct (a statement may not update a row
/// twice), so the writer keeps the last queued write of each id.
const UPSERT_MANY: &str = "
INSERT INTO reference_customers (id, name, email, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, email = EXCLUDED.email, payload = EXCLUDED.payload";

const GET: &str = "SELECT name, email, payload FROM reference_customers WHERE id = $1";

const EVENT_ONE: &str = "
INSERT INTO reference_customer_events (id, seq, kind, payload)
SELECT $1::text, COALESCE(MAX(seq), 0) + 1, $2::text, $3::text
FROM reference_customer_events WHERE id = $1::text
RETURNING seq";

/// Many events in one statement, numbered per id in queue order after the stored maximum;
/// returns the sequence numbers in queue order.
const EVENT_MANY: &str = "
WITH e AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS e(id, kind, payload, ord)
), n AS (
    SELECT e.ord, e.id, e.kind, e.payload,
           COALESCE((SELECT MAX(c.seq) FROM reference_customer_events c WHERE c.id = e.id), 0)
             + row_number() OVER (PARTITION BY e.id ORDER BY e.ord) AS seq
    FROM e
), ins AS (
    INSERT INTO reference_customer_events (id, seq, kind, payload)
    SELECT id, seq, kind, payload FROM n
)
SELECT seq FROM n ORDER BY ord";

/// How often a direct event write is retried after losing a sequence race:
/// with n writers of one id at once, the last one loses up to n - 1 races,
/// so this bounds the writers of one id the direct path serves without an
/// error (the load generator's event scenario spreads over many ids).
const EVENT_RETRIES: usize = 100;

/// The reference service's PostgreSQL storage.
pub struct PgStore {
    pool: Pool,
    writer: Option<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("batching", &self.writer.is_some())
            .field("pool_size", &self.pool.status().max_size)
            .finish()
    }
}

/// A PostgreSQL error with the server's message, when there is one.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Postgres(format!("{}: {}", db.code().code(), db.message())),
        None => Error::Postgres(e.to_string()),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => Error::Postgres(other.to_string()),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`), creates the tables if missing
    /// and, with batching, starts the writer task. Must run inside a tokio runtime.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Arc<PgStore>> {
        if options.pool_size < 2 || options.max_batch == 0 {
            return Err(Error::Config(
                "--pool must be at least 2 and --max-batch at least 1".into(),
            ));
        }
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::Config(format!("--pg: {e}")))?;
        // Durable acknowledgements whatever the server's default.
        config.options("-c synchronous_commit=on");
        config.application_name("reference-server");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Postgres(e.to_string()))?;
        let client = pool.get().await.map_err(pool_error)?;
        client.batch_execute(SCHEMA).await.map_err(pg_error)?;
        drop(client);
        let writer = options.batching.then(|| {
            let (tx, rx) = mpsc::channel(8192);
            tokio::spawn(writer_loop(pool.clone(), rx, options.max_batch));
            tx
        });
        Ok(Arc::new(PgStore { pool, writer }))
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_error)
    }

    async fn write(&self, op: WriteOp) -> Result<u64> {
        match &self.writer {
            Some(queue) => {
                let (reply, answer) = oneshot::channel();
                let stopped = || Error::Write("the writer task stopped".into());
                queue.send(Job { op, reply }).await.map_err(|_| stopped())?;
                answer.await.map_err(|_| stopped())?.map_err(Error::Write)
            }
            None => self.write_direct(op).await,
        }
    }

    /// One autocommit statement on a pooled connection.
    async fn write_direct(&self, op: WriteOp) -> Result<u64> {
        let client = self.client().await?;
        match op {
            WriteOp::Upsert(c) => {
                let statement = client.prepare_cached(UPSERT_ONE).await.map_err(pg_error)?;
                client
                    .execute(&statement, &[&c.id, &c.name, &c.email, &c.payload])
                    .await
                    .map_err(pg_error)?;
                Ok(0)
            }
            WriteOp::Event { id, kind, payload } => {
                let statement = client.prepare_cached(EVENT_ONE).await.map_err(pg_error)?;
                let mut attempt = 0;
                loop {
                    match client.query_one(&statement, &[&id, &kind, &payload]).await {
                        Ok(row) => {
                            let seq: i64 = row.try_get(0).map_err(pg_error)?;
                            return Ok(u64::try_from(seq).unwrap_or_default());
                        }
                        // Another connection took the same sequence number first.
                        Err(e)
                            if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                                && attempt < EVENT_RETRIES =>
                        {
                            attempt += 1;
                        }
                        Err(e) => return Err(pg_error(e)),
                    }
                }
            }
        }
    }

    /// Creates or replaces a customer; returns once the write is committed (durable).
    pub async fn upsert(&self, customer: CustomerRow) -> Result<()> {
        self.write(WriteOp::Upsert(customer)).await.map(drop)
    }

    /// Appends an event to the customer's journal; returns its sequence number once committed.
    pub async fn record_event(&self, id: String, kind: String, payload: String) -> Result<u64> {
        self.write(WriteOp::Event { id, kind, payload }).await
    }

    /// Reads a customer.
    pub async fn get(&self, id: String) -> Result<Option<CustomerRow>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(GET).await.map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&id])
            .await
            .map_err(pg_error)?;
        row.map(|r| {
            Ok(CustomerRow {
                name: r.try_get(0).map_err(pg_error)?,
                email: r.try_get(1).map_err(pg_error)?,
                payload: r.try_get(2).map_err(pg_error)?,
                id,
            })
        })
        .transpose()
    }
}

/// The group-commit loop: waits for a write, takes whatever else is queued (up to
/// `max_batch`), commits them together and answers each after the commit.
async fn writer_loop(pool: Pool, mut queue: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut jobs, max_batch).await > 0 {
        match commit_batch(&pool, &jobs).await {
            Ok(results) => {
                for (job, seq) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(seq));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(message.clone()));
                }
            }
        }
    }
}

/// Commits one batch: the upserts in one statement (the last write of each id wins, as if the
/// concurrent writes had run in queue order), the events in another, both in one transaction.
/// Returns one result per job (0 for upserts, the sequence number for events).
async fn commit_batch(pool: &Pool, jobs: &[Job]) -> Result<Vec<u64>> {
    let mut latest: HashMap<&str, usize> = HashMap::new();
    let mut upserts: Vec<&CustomerRow> = Vec::new();
    let mut events: Vec<(usize, &str, &str, &str)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match &job.op {
            WriteOp::Upsert(c) => match latest.get(c.id.as_str()) {
                Some(&at) => upserts[at] = c,
                None => {
                    latest.insert(&c.id, upserts.len());
                    upserts.push(c);
                }
            },
            WriteOp::Event { id, kind, payload } => events.push((i, id, kind, payload)),
        }
    }
    let mut client = pool.get().await.map_err(pool_error)?;
    let upsert = client.prepare_cached(UPSERT_MANY).await.map_err(pg_error)?;
    let event = client.prepare_cached(EVENT_MANY).await.map_err(pg_error)?;
    let columns = |f: fn(&CustomerRow) -> &str| upserts.iter().map(|c| f(c)).collect::<Vec<_>>();
    let (ids, names, emails, payloads) = (
        columns(|c| &c.id),
        columns(|c| &c.name),
        columns(|c| &c.email),
        columns(|c| &c.payload),
    );
    let event_ids: Vec<&str> = events.iter().map(|e| e.1).collect();
    let event_kinds: Vec<&str> = events.iter().map(|e| e.2).collect();
    let event_payloads: Vec<&str> = events.iter().map(|e| e.3).collect();
    let upsert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&ids, &names, &emails, &payloads];
    let event_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&event_ids, &event_kinds, &event_payloads];
    let rows = match (upserts.is_empty(), events.is_empty()) {
        // One statement is its own transaction: one round trip, one commit.
        (false, true) => {
            client
                .execute(&upsert, &upsert_params)
                .await
                .map_err(pg_error)?;
            Vec::new()
        }
        (true, false) => client
            .query(&event, &event_params)
            .await
            .map_err(pg_error)?,
        _ => {
            let tx = client.transaction().await.map_err(pg_error)?;
            tx.execute(&upsert, &upsert_params)
                .await
                .map_err(pg_error)?;
            let rows = tx.query(&event, &event_params).await.map_err(pg_error)?;
            tx.commit().await.map_err(pg_error)?;
            rows
        }
    };
    if rows.len() != events.len() {
        return Err(Error::Write(format!(
            "{} events written, {} expected",
            rows.len(),
            events.len()
        )));
    }
    let mut results = vec![0; jobs.len()];
    for ((i, ..), row) in events.iter().zip(rows) {
        let seq: i64 = row.try_get(0).map_err(pg_error)?;
        results[*i] = u64::try_from(seq).unwrap_or_default();
    }
    Ok(results)
}
