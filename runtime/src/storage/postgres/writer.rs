//! The writer task: group commit of entity writes.
//!
//! It waits for the first request, takes everything else already queued (up
//! to the batch cap) and commits the batch in one transaction: `BEGIN`, then
//! the feed lock, every write's statement and the feed notification sent
//! together (pipelined, one round trip), then `COMMIT`. It replies only once
//! the commit returned. A write whose fence does not hold gets a conflict and
//! the others commit; if a statement fails outright (which aborts a
//! PostgreSQL transaction), the batch runs again with one savepoint per write
//! so that only the failing write fails. If the commit fails, or the
//! connection is lost, every write of the batch fails
//! ([`StorageError::Transient`] when the connection was lost: whether the
//! commit landed is unknown).

use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::error::{Failure, is_transient, pool, unsigned};
use super::ops::{self, Job, Outcome, Statements, WriteOp};
use super::pipeline::in_order;
use super::schema::Keys;
use crate::storage::{StorageError, StorageResult};

/// A message to the writer task.
#[derive(Debug)]
pub(super) enum Request {
    /// Run a write; reply once it is committed (or failed).
    Write {
        /// The write.
        op: WriteOp,
        /// Where the outcome goes.
        reply: oneshot::Sender<StorageResult<u64>>,
    },
    /// Stop accepting writes, finish the queued ones, then reply.
    Close {
        /// Signalled once the queue is drained.
        reply: oneshot::Sender<()>,
    },
}

/// What the writer task works with.
#[derive(Debug)]
pub(super) struct Writer {
    /// Where its connections come from.
    pub(super) pool: Pool,
    /// The feed lock and channel.
    pub(super) keys: Arc<Keys>,
    /// The last committed feed offset, advanced after each commit.
    pub(super) head: Arc<watch::Sender<u64>>,
    /// The most writes in one transaction.
    pub(super) max_batch: usize,
}

/// Run the writer loop until every sender is gone, or a close was requested,
/// and the queue is drained.
pub(super) async fn run(writer: Writer, mut requests: mpsc::Receiver<Request>) {
    let max_batch = writer.max_batch.max(1);
    let mut incoming = Vec::with_capacity(max_batch);
    let mut batch = Vec::with_capacity(max_batch);
    let mut close_waiters = Vec::new();
    loop {
        if requests.recv_many(&mut incoming, max_batch).await == 0 {
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
            let ops: Vec<&WriteOp> = batch.iter().map(|(op, _)| op).collect();
            let outcomes = commit(&writer, &ops).await;
            for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                // A caller that stopped waiting does not undo a committed write.
                let _ = reply.send(outcome);
            }
        }
    }
    for waiter in close_waiters {
        let _ = waiter.send(());
    }
}

/// Raise `head` to `offset` (it never goes back).
pub(super) fn advance(head: &watch::Sender<u64>, offset: u64) {
    head.send_if_modified(|current| {
        let newer = offset > *current;
        if newer {
            *current = offset;
        }
        newer
    });
}

/// How an attempt at the batch ended, when it did not fail as a whole.
enum Attempt {
    /// Committed: one result per sent write, and the feed head.
    Committed(Vec<StorageResult<u64>>, u64),
    /// A statement failed, so the transaction was abandoned.
    StatementFailed,
}

/// Commit one batch; one result per write, in order. The feed head is
/// advanced before returning, so a caller's acknowledged write is announced.
async fn commit(writer: &Writer, ops: &[&WriteOp]) -> Vec<StorageResult<u64>> {
    let mut invalid: Vec<Option<StorageError>> = Vec::with_capacity(ops.len());
    let mut jobs: Vec<(&WriteOp, Job<'_>)> = Vec::with_capacity(ops.len());
    for op in ops {
        match op.job() {
            Ok(job) => {
                jobs.push((op, job));
                invalid.push(None);
            }
            Err(err) => invalid.push(Some(err)),
        }
    }
    let sent = if jobs.is_empty() {
        Ok(Vec::new())
    } else {
        attempt_all(writer, &jobs).await
    };
    let mut sent = match sent {
        Ok(results) => results.into_iter(),
        Err(failure) => jobs
            .iter()
            .map(|_| Err(failure.to_error()))
            .collect::<Vec<_>>()
            .into_iter(),
    };
    invalid
        .into_iter()
        .map(|invalid| match invalid {
            Some(err) => Err(err),
            None => sent.next().unwrap_or_else(|| {
                Err(StorageError::Backend(
                    "the write batch lost a result".to_owned(),
                ))
            }),
        })
        .collect()
}

/// Run the jobs pipelined; if a statement failed, again one by one.
async fn attempt_all(
    writer: &Writer,
    jobs: &[(&WriteOp, Job<'_>)],
) -> Result<Vec<StorageResult<u64>>, Failure> {
    let mut client = writer.pool.get().await.map_err(pool)?;
    let statements = Statements::prepare(&client).await?;
    let attempt = match pipelined(&mut client, &statements, &writer.keys, jobs).await? {
        Attempt::StatementFailed => {
            one_by_one(&mut client, &statements, &writer.keys, jobs).await?
        }
        committed => committed,
    };
    match attempt {
        Attempt::Committed(results, head) => {
            advance(&writer.head, head);
            Ok(results)
        }
        Attempt::StatementFailed => Err(Failure::Backend(
            "the write batch failed without a cause".to_owned(),
        )),
    }
}

/// One request of a pipelined batch, by what it answers.
enum Step {
    Lock(Result<u64, tokio_postgres::Error>),
    Write(Result<Outcome, tokio_postgres::Error>),
    Notify(Result<Row, tokio_postgres::Error>),
}

/// The batch in one transaction, every statement sent at once.
async fn pipelined(
    client: &mut Object,
    statements: &Statements,
    keys: &Keys,
    jobs: &[(&WriteOp, Job<'_>)],
) -> Result<Attempt, Failure> {
    let tx = client.transaction().await?;
    let lock_params: [&(dyn ToSql + Sync); 1] = [&keys.feed_lock];
    let notify_params: [&(dyn ToSql + Sync); 1] = [&keys.channel];
    // The lock first, then the writes, then the notification.
    let mut requests: Vec<BoxFuture<'_, Step>> = Vec::with_capacity(jobs.len() + 2);
    requests.push(Box::pin(async {
        Step::Lock(tx.execute(&statements.lock, &lock_params).await)
    }));
    for (_, job) in jobs {
        let tx = &tx;
        requests.push(Box::pin(async move {
            Step::Write(ops::run(tx, statements, job).await)
        }));
    }
    requests.push(Box::pin(async {
        Step::Notify(tx.query_one(&statements.notify, &notify_params).await)
    }));
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
    let mut head = None;
    for step in in_order(requests).await {
        match step {
            Step::Lock(locked) => drop(locked?),
            Step::Write(Ok(outcome)) => outcomes.push(outcome),
            Step::Write(Err(err)) if is_transient(&err) => return Err(err.into()),
            // Dropping the transaction rolls it back.
            Step::Write(Err(_)) => return Ok(Attempt::StatementFailed),
            Step::Notify(row) => head = Some(row?.try_get::<_, i64>(0)?),
        }
    }
    let Some(head) = head.filter(|_| outcomes.len() == jobs.len()) else {
        return Err(Failure::Backend("the write batch lost a result".to_owned()));
    };
    tx.commit().await?;
    let results = jobs
        .iter()
        .zip(outcomes)
        .map(|((op, _), outcome)| op.result(outcome))
        .collect();
    Ok(Attempt::Committed(results, unsigned(head)))
}

/// The batch in one transaction, each write in its own savepoint, so a
/// failing write rolls back alone.
async fn one_by_one(
    client: &mut Object,
    statements: &Statements,
    keys: &Keys,
    jobs: &[(&WriteOp, Job<'_>)],
) -> Result<Attempt, Failure> {
    let mut tx = client.transaction().await?;
    tx.execute(&statements.lock, &[&keys.feed_lock]).await?;
    let mut results = Vec::with_capacity(jobs.len());
    for (op, job) in jobs {
        let savepoint = tx.savepoint("plinth_write").await?;
        match ops::run(&savepoint, statements, job).await {
            Ok(outcome) => {
                savepoint.commit().await?;
                results.push(op.result(outcome));
            }
            Err(err) if is_transient(&err) => return Err(err.into()),
            Err(err) => {
                savepoint.rollback().await?;
                results.push(Err(op.statement_error(err)));
            }
        }
    }
    let head: i64 = tx
        .query_one(&statements.notify, &[&keys.channel])
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(Attempt::Committed(results, unsigned(head)))
}
