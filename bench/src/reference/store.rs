//! SQLite storage of the reference service.

use super::{Job, WriteOp};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::{Error, Result};

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRow {
    /// The customer id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Opaque payload (the benchmark's bulk).
    pub payload: String,
}

/// How the store is set up.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Group commit through a writer thread instead of one transaction per write.
    pub batching: bool,
    /// Read connections.
    pub readers: usize,
    /// Most writes per group commit.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            batching: false,
            readers: 2,
            max_batch: 256,
        }
    }
}

enum Writer {
    /// One connection; each write is its own `BEGIN IMMEDIATE … COMMIT` in `spawn_blocking`.
    Direct(Arc<Mutex<Connection>>),
    /// A thread draining the queue into one transaction per batch.
    Batching(mpsc::Sender<Job>),
}

/// The reference service's storage: one writer, a few readers.
pub struct Store {
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("batching", &matches!(self.writer, Writer::Batching(_)))
            .field("readers", &self.readers.len())
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    payload TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS customer_events (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (id, seq)
) WITHOUT ROWID;
";

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Config(format!(
            "{}: cannot switch to WAL (journal_mode={mode})",
            path.display()
        )));
    }
    // FULL: the WAL is synced on every commit, so an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn apply(conn: &Connection, op: &WriteOp) -> rusqlite::Result<u64> {
    match op {
        WriteOp::Upsert(c) => {
            conn.prepare_cached(
                "INSERT INTO customers (id, name, email, payload) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                 payload = excluded.payload",
            )?
            .execute(params![c.id, c.name, c.email, c.payload])?;
            Ok(0)
        }
        WriteOp::Event { id, kind, payload } => {
            let last: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM customer_events WHERE id = ?1")?
                .query_row([id], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO customer_events (id, seq, kind, payload) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, last + 1, kind, payload])?;
            Ok(u64::try_from(last + 1).unwrap_or_default())
        }
    }
}

/// The group-commit loop: waits for one write, takes whatever else is queued (up to
/// `max_batch`), applies all in one transaction and answers each after the commit.
fn writer_loop(mut conn: Connection, jobs: mpsc::Receiver<Job>, max_batch: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.to_string()));
                }
                continue;
            }
        };
        // A failing statement rolls back only itself; the others still commit.
        let results: Vec<_> = batch
            .iter()
            .map(|job| apply(&tx, &job.op).map_err(|e| e.to_string()))
            .collect();
        match tx.commit() {
            Ok(()) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(format!("commit: {e}")));
                }
            }
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Arc<Store>> {
        if options.readers == 0 || options.max_batch == 0 {
            return Err(Error::Config(
                "--readers and --max-batch must be at least 1".into(),
            ));
        }
        let conn = open_connection(path)?;
        conn.execute_batch(SCHEMA)?;
        let readers = (0..options.readers)
            .map(|_| {
                let r = open_connection(path)?;
                r.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(r))
            })
            .collect::<Result<Vec<_>>>()?;
        let writer = if options.batching {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || writer_loop(conn, rx, options.max_batch))?;
            Writer::Batching(tx)
        } else {
            Writer::Direct(Arc::new(Mutex::new(conn)))
        };
        Ok(Arc::new(Store {
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
        }))
    }

    async fn write(self: &Arc<Self>, op: WriteOp) -> Result<u64> {
        match &self.writer {
            Writer::Direct(conn) => {
                let conn = conn.clone();
                tokio::task::spawn_blocking(move || {
                    let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let result = apply(&tx, &op)?;
                    tx.commit()?;
                    Ok(result)
                })
                .await
                .map_err(|e| Error::Write(e.to_string()))?
            }
            Writer::Batching(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(Job { op, reply })
                    .map_err(|_| Error::Write("the writer thread stopped".into()))?;
                answer
                    .await
                    .map_err(|_| Error::Write("the writer thread stopped".into()))?
                    .map_err(Error::Write)
            }
        }
    }

    /// Creates or replaces a customer; returns once the write is durable.
    pub async fn upsert(self: &Arc<Self>, customer: CustomerRow) -> Result<()> {
        self.write(WriteOp::Upsert(customer)).await.map(drop)
    }

    /// Appends an event to the customer's journal; returns its sequence number once durable.
    pub async fn record_event(
        self: &Arc<Self>,
        id: String,
        kind: String,
        payload: String,
    ) -> Result<u64> {
        self.write(WriteOp::Event { id, kind, payload }).await
    }

    /// Reads a customer.
    pub async fn get(self: &Arc<Self>, id: String) -> Result<Option<CustomerRow>> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let i = store.next_reader.fetch_add(1, Ordering::Relaxed) % store.readers.len();
            let conn = store.readers[i]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let row = conn
                .prepare_cached("SELECT name, email, payload FROM customers WHERE id = ?1")?
                .query_row([&id], |r| {
                    Ok(CustomerRow {
                        id: id.clone(),
                        name: r.get(0)?,
                        email: r.get(1)?,
                        payload: r.get(2)?,
                    })
                })
                .optional()?;
            Ok(row)
        })
        .await
        .map_err(|e| Error::Write(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str) -> CustomerRow {
        CustomerRow {
            id: id.into(),
            name: name.into(),
            email: format!("{id}@example.com"),
            payload: "p".repeat(550),
        }
    }

    async fn exercise(batching: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.db");
        let store = Store::open(
            &path,
            StoreOptions {
                batching,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(store.get("a".into()).await.unwrap(), None);
        let writes: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.upsert(row(&format!("c{i}"), "first")).await })
            })
            .collect();
        for w in writes {
            w.await.unwrap().unwrap();
        }
        store.upsert(row("c7", "second")).await.unwrap();
        assert_eq!(
            store.get("c7".into()).await.unwrap(),
            Some(row("c7", "second"))
        );
        assert_eq!(
            store
                .record_event("c1".into(), "k".into(), "p".into())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .record_event("c1".into(), "k".into(), "p".into())
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .record_event("c2".into(), "k".into(), "p".into())
                .await
                .unwrap(),
            1
        );
        drop(store);
        // Reopened from the file: everything acknowledged is there.
        let again = Store::open(&path, StoreOptions::default()).unwrap();
        assert_eq!(
            again.get("c49".into()).await.unwrap(),
            Some(row("c49", "first"))
        );
        assert_eq!(
            again
                .record_event("c1".into(), "k".into(), "p".into())
                .await
                .unwrap(),
            3
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_store_persists_writes() {
        exercise(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batching_store_persists_writes() {
        exercise(true).await;
    }
}
