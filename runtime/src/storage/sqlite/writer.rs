//! The writer thread: the only owner of the write connection, with group commit.
//!
//! It blocks for the first request, takes everything else already queued (up to
//! the batch cap), runs the batch in one transaction with one commit (one
//! fsync), and then replies to each request. A request that conflicts or fails
//! rolls back alone while the rest of the batch commits (see
//! `run_transaction`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::backend;
use super::ops::WriteOp;
use crate::clock::Clock;
use crate::storage::{StorageError, StorageResult};

/// A message to the writer thread.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every request is a write: boxing it would cost an allocation per write and save no channel space"
)]
pub(super) enum Request {
    /// Run a write; reply once it is durable (or failed).
    Write {
        /// The write.
        op: WriteOp,
        /// Where the outcome goes.
        reply: oneshot::Sender<StorageResult<u64>>,
        /// The span of the command that made it (the batch's span is a
        /// child of the first one's).
        span: tracing::Span,
    },
    /// Stop accepting writes, finish the queued ones, close the connection,
    /// then reply.
    Close {
        /// Signalled once the connection is closed.
        reply: oneshot::Sender<()>,
    },
}

/// Counters the writer keeps for [`super::WriteStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Committed transactions.
    pub(super) transactions: AtomicU64,
    /// Writes committed.
    pub(super) writes: AtomicU64,
    /// Writes that failed (conflicts included).
    pub(super) failed: AtomicU64,
    /// Committed transactions by how many writes they held (see
    /// [`super::metrics`]).
    pub(super) batch_sizes: super::metrics::BatchSizes,
}

/// Run the writer loop until every sender is gone or a close was requested and
/// the queue is drained. After each commit that added feed records, the last
/// committed feed offset is published on `feed_head`. Due times and leases
/// are kept by `clock`.
pub(super) fn run(
    mut conn: Connection,
    mut requests: mpsc::Receiver<Request>,
    max_batch: usize,
    counters: Arc<Counters>,
    feed_head: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
) {
    let mut incoming = Vec::with_capacity(max_batch);
    let mut batch: Vec<(WriteOp, oneshot::Sender<StorageResult<u64>>)> =
        Vec::with_capacity(max_batch);
    let mut close_waiters = Vec::new();
    let mut callers = Vec::with_capacity(max_batch);
    loop {
        if requests.blocking_recv_many(&mut incoming, max_batch) == 0 {
            break;
        }
        for request in incoming.drain(..) {
            match request {
                Request::Write { op, reply, span } => {
                    batch.push((op, reply));
                    callers.push(span);
                }
                Request::Close { reply } => {
                    // Queued writes are still received; new sends fail.
                    requests.close();
                    close_waiters.push(reply);
                }
            }
        }
        if !batch.is_empty() {
            let span = crate::storage::batch_span("sqlite", &callers);
            let _entered = span.enter();
            commit_batch(&mut conn, &mut batch, &counters, &feed_head, clock.as_ref());
            callers.clear();
        }
    }
    drop(conn);
    for waiter in close_waiters {
        // The closer may have stopped waiting; nothing to do then.
        let _ = waiter.send(());
    }
}

/// The last offset of the feed (0 when it is empty).
pub(super) fn feed_head(conn: &Connection) -> StorageResult<u64> {
    let head: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM feed")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(backend)?;
    Ok(u64::try_from(head).unwrap_or_default())
}

/// Tell feed consumers the new last committed offset. A failed lookup only
/// delays them until their next poll, so it is logged, not fatal.
fn publish_feed_head(conn: &Connection, sender: &watch::Sender<u64>) {
    match feed_head(conn) {
        Ok(head) => {
            sender.send_if_modified(|current| {
                let newer = head > *current;
                if newer {
                    *current = head;
                }
                newer
            });
        }
        Err(err) => tracing::warn!(error = %err, "cannot read the feed head after a commit"),
    }
}

/// Run one batch in one transaction and reply to every request in it. A
/// commit that added feed records is published on `feed_head` before the
/// replies, so a caller's acknowledged write is already announced.
fn commit_batch(
    conn: &mut Connection,
    batch: &mut Vec<(WriteOp, oneshot::Sender<StorageResult<u64>>)>,
    counters: &Counters,
    feed_head: &watch::Sender<u64>,
    clock: &dyn Clock,
) {
    let mut outcomes: Vec<StorageResult<u64>> = Vec::with_capacity(batch.len());
    let committed = run_transaction(conn, batch, &mut outcomes, clock);
    if committed.is_ok() && batch.iter().any(|(op, _)| op.writes_feed()) {
        publish_feed_head(conn, feed_head);
    }
    let outcomes: Vec<StorageResult<u64>> = outcomes
        .into_iter()
        .map(|outcome| match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            // The commit failed: nothing in the batch is durable.
            (Err(err), Ok(_)) => Err(StorageError::Backend(err.clone())),
            (Err(_), failed) => failed,
        })
        .collect();
    // Count before replying, so a caller that saw its reply also sees it counted.
    let succeeded = outcomes.iter().filter(|outcome| outcome.is_ok()).count() as u64;
    counters
        .failed
        .fetch_add(outcomes.len() as u64 - succeeded, Ordering::Relaxed);
    if committed.is_ok() {
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.writes.fetch_add(succeeded, Ordering::Relaxed);
        counters.batch_sizes.record(outcomes.len());
    }
    for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
        // A caller that stopped waiting does not undo a durable write.
        let _ = reply.send(outcome);
    }
}

/// Apply every write of the batch, then commit once. `outcomes` gets one entry
/// per write, in order (filled even when the transaction itself fails).
///
/// The batch first runs without savepoints: in the common case every write
/// succeeds and the statement sub-journal a savepoint keeps (a copy of every
/// page a write touches) is pure cost. If any write fails, nothing is kept of
/// that attempt: the transaction is rolled back and the batch runs again with
/// each write in its own savepoint, so the failing write rolls back alone and
/// the rest commit, exactly as if the first attempt had not happened.
fn run_transaction(
    conn: &mut Connection,
    batch: &[(WriteOp, oneshot::Sender<StorageResult<u64>>)],
    outcomes: &mut Vec<StorageResult<u64>>,
    clock: &dyn Clock,
) -> Result<(), String> {
    let tx = begin(conn, batch, outcomes)?;
    let mut seqs = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        match op.apply(&tx, clock) {
            Ok(seq) => seqs.push(Ok(seq)),
            Err(_) => {
                if let Err(err) = tx.rollback() {
                    let message = format!("cannot roll back a failed batch: {err}");
                    outcomes.extend(
                        batch
                            .iter()
                            .map(|_| Err(StorageError::Backend(message.clone()))),
                    );
                    return Err(message);
                }
                return run_with_savepoints(conn, batch, outcomes, clock);
            }
        }
    }
    outcomes.extend(seqs);
    tx.commit().map_err(|err| format!("commit failed: {err}"))
}

/// Begin the batch's write transaction; on failure every write fails with the reason.
fn begin<'c>(
    conn: &'c mut Connection,
    batch: &[(WriteOp, oneshot::Sender<StorageResult<u64>>)],
    outcomes: &mut Vec<StorageResult<u64>>,
) -> Result<rusqlite::Transaction<'c>, String> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|err| {
            let message = format!("cannot begin a write transaction: {err}");
            outcomes.extend(
                batch
                    .iter()
                    .map(|_| Err(StorageError::Backend(message.clone()))),
            );
            message
        })
}

/// Apply every write of the batch in its own savepoint, then commit once.
fn run_with_savepoints(
    conn: &mut Connection,
    batch: &[(WriteOp, oneshot::Sender<StorageResult<u64>>)],
    outcomes: &mut Vec<StorageResult<u64>>,
    clock: &dyn Clock,
) -> Result<(), String> {
    let tx = begin(conn, batch, outcomes)?;
    for (op, _) in batch {
        let outcome =
            run_cached(&tx, "SAVEPOINT plinth_write").and_then(|()| match op.apply(&tx, clock) {
                Ok(seq) => run_cached(&tx, "RELEASE plinth_write").map(|()| seq),
                Err(err) => {
                    // Undo this write only (roll back to and release the
                    // savepoint); the batch goes on.
                    run_cached(&tx, "ROLLBACK TO plinth_write")?;
                    run_cached(&tx, "RELEASE plinth_write")?;
                    Err(err)
                }
            });
        outcomes.push(outcome);
    }
    tx.commit().map_err(|err| format!("commit failed: {err}"))
}

/// Run a statement without parameters through the prepared-statement cache.
/// The per-write savepoint statements go through here: preparing them anew for
/// every write (as `Transaction::savepoint` does) was a large share of the
/// writer thread's CPU in profiles.
fn run_cached(conn: &Connection, sql: &str) -> StorageResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(backend)
}
