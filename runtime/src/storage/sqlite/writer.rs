//! The writer thread: the only owner of the write connection, with group commit.
//!
//! It blocks for the first request, takes everything else already queued (up to
//! the batch cap), runs the batch in one transaction with one commit (one
//! fsync), and then replies to each request. Each request runs in its own
//! savepoint, so a request that conflicts or fails rolls back alone while the
//! rest of the batch commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::backend;
use super::ops::WriteOp;
use crate::storage::{StorageError, StorageResult};

/// A message to the writer thread.
#[derive(Debug)]
pub(super) enum Request {
    /// Run a write; reply once it is durable (or failed).
    Write {
        /// The write.
        op: WriteOp,
        /// Where the outcome goes.
        reply: oneshot::Sender<StorageResult<u64>>,
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
}

/// Run the writer loop until every sender is gone or a close was requested and
/// the queue is drained.
pub(super) fn run(
    mut conn: Connection,
    mut requests: mpsc::Receiver<Request>,
    max_batch: usize,
    counters: Arc<Counters>,
) {
    let mut incoming = Vec::with_capacity(max_batch);
    let mut batch: Vec<(WriteOp, oneshot::Sender<StorageResult<u64>>)> =
        Vec::with_capacity(max_batch);
    let mut close_waiters = Vec::new();
    loop {
        if requests.blocking_recv_many(&mut incoming, max_batch) == 0 {
            break;
        }
        for request in incoming.drain(..) {
            match request {
                Request::Write { op, reply } => batch.push((op, reply)),
                Request::Close { reply } => {
                    // Queued writes are still received; new sends fail.
                    requests.close();
                    close_waiters.push(reply);
                }
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut batch, &counters);
        }
    }
    drop(conn);
    for waiter in close_waiters {
        // The closer may have stopped waiting; nothing to do then.
        let _ = waiter.send(());
    }
}

/// Run one batch in one transaction and reply to every request in it.
fn commit_batch(
    conn: &mut Connection,
    batch: &mut Vec<(WriteOp, oneshot::Sender<StorageResult<u64>>)>,
    counters: &Counters,
) {
    let mut outcomes: Vec<StorageResult<u64>> = Vec::with_capacity(batch.len());
    let committed = run_transaction(conn, batch, &mut outcomes);
    let mut succeeded = 0;
    for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
        let outcome = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            // The commit failed: nothing in the batch is durable.
            (Err(err), Ok(_)) => Err(StorageError::Backend(err.clone())),
            (Err(_), failed) => failed,
        };
        match outcome {
            Ok(_) => succeeded += 1,
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        // A caller that stopped waiting does not undo a durable write.
        let _ = reply.send(outcome);
    }
    if committed.is_ok() {
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.writes.fetch_add(succeeded, Ordering::Relaxed);
    }
}

/// Apply every write of the batch in its own savepoint, then commit once.
/// `outcomes` gets one entry per write, in order (filled even when the
/// transaction itself fails).
fn run_transaction(
    conn: &mut Connection,
    batch: &[(WriteOp, oneshot::Sender<StorageResult<u64>>)],
    outcomes: &mut Vec<StorageResult<u64>>,
) -> Result<(), String> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let message = format!("cannot begin a write transaction: {err}");
            outcomes.extend(
                batch
                    .iter()
                    .map(|_| Err(StorageError::Backend(message.clone()))),
            );
            return Err(message);
        }
    };
    for (op, _) in batch {
        let outcome = tx.savepoint().map_err(backend).and_then(|savepoint| {
            match op.apply(&savepoint) {
                Ok(seq) => savepoint.commit().map_err(backend).map(|()| seq),
                Err(err) => {
                    // Undo this write only (rollback to and release the
                    // savepoint); the batch goes on.
                    savepoint.finish().map_err(backend)?;
                    Err(err)
                }
            }
        });
        outcomes.push(outcome);
    }
    tx.commit().map_err(|err| format!("commit failed: {err}"))
}
