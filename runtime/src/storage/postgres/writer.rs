//! The writer task: group commit of entity writes.
//!
//! It waits for the first request, takes everything else already queued (up
//! to the batch cap) and commits the batch in one transaction, in one round
//! trip: `BEGIN`, the feed lock, the writes' statements (the state writes of
//! different entities as one statement, see [`super::states`]), the feed
//! notification and `COMMIT`, sent together (pipelined). It replies only once
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
use super::states;
use crate::storage::{StorageError, StorageResult};
use tracing::Instrument as _;

/// A message to the writer task.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every request is a write: boxing it would cost an allocation per write and save no channel space"
)]
pub(super) enum Request {
    /// Run a write; reply once it is committed (or failed).
    Write {
        /// The write.
        op: WriteOp,
        /// Where the outcome goes.
        reply: oneshot::Sender<StorageResult<u64>>,
        /// The span of the command that made it (the batch's span is a
        /// child of the first one's).
        span: tracing::Span,
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
    let mut callers = Vec::with_capacity(max_batch);
    loop {
        if requests.recv_many(&mut incoming, max_batch).await == 0 {
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
            let ops: Vec<&WriteOp> = batch.iter().map(|(op, _)| op).collect();
            let span = crate::storage::batch_span("postgresql", &callers);
            let outcomes = commit(&writer, &ops).instrument(span).await;
            callers.clear();
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
    /// `BEGIN`, the feed lock or `COMMIT`.
    Control(Result<u64, tokio_postgres::Error>),
    /// The write at this position of the batch.
    Write(usize, Result<Outcome, tokio_postgres::Error>),
    /// The grouped state writes, in the order of their positions.
    States(Result<Vec<Outcome>, tokio_postgres::Error>),
    Notify(Result<Row, tokio_postgres::Error>),
}

/// The batch in one transaction, every statement sent at once: `BEGIN`, the
/// feed lock, the writes (the state writes grouped in one statement where
/// they can be), the notification and `COMMIT`, one round trip in all. When
/// a statement fails, the transaction is aborted and the `COMMIT` at its end
/// rolls it back, so nothing of the batch lands; the failure is seen in the
/// statements' answers, which are read before the commit's.
async fn pipelined(
    client: &mut Object,
    statements: &Statements,
    keys: &Keys,
    jobs: &[(&WriteOp, Job<'_>)],
) -> Result<Attempt, Failure> {
    let tx: &tokio_postgres::Client = client;
    let lock_params: [&(dyn ToSql + Sync); 1] = [&keys.feed_lock];
    let notify_params: [&(dyn ToSql + Sync); 1] = [&keys.channel];
    let grouped = states::grouped(jobs);
    let grouped_jobs: Vec<&Job<'_>> = grouped.iter().map(|&at| &jobs[at].1).collect();
    let mut requests: Vec<BoxFuture<'_, Step>> = Vec::with_capacity(jobs.len() + 5);
    requests.push(Box::pin(async {
        Step::Control(tx.execute(&statements.begin, &[]).await)
    }));
    requests.push(Box::pin(async {
        Step::Control(tx.execute(&statements.lock, &lock_params).await)
    }));
    if !grouped_jobs.is_empty() {
        let grouped_jobs = &grouped_jobs;
        requests.push(Box::pin(async move {
            Step::States(states::run(tx, &statements.states, grouped_jobs).await)
        }));
    }
    for (at, (_, job)) in jobs.iter().enumerate() {
        if grouped.contains(&at) {
            continue;
        }
        requests.push(Box::pin(async move {
            Step::Write(at, ops::run(tx, statements, job).await)
        }));
    }
    requests.push(Box::pin(async {
        Step::Notify(tx.query_one(&statements.notify, &notify_params).await)
    }));
    requests.push(Box::pin(async {
        Step::Control(tx.execute(&statements.commit, &[]).await)
    }));
    let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
    let mut head = None;
    let mut statement_failed = false;
    for step in in_order(requests).await {
        match step {
            Step::Control(done) => drop(done?),
            Step::Write(at, Ok(outcome)) => outcomes[at] = Some(outcome),
            Step::States(Ok(found)) if found.len() == grouped.len() => {
                for (&at, outcome) in grouped.iter().zip(found) {
                    outcomes[at] = Some(outcome);
                }
            }
            Step::Write(_, Err(err)) | Step::States(Err(err)) if is_transient(&err) => {
                return Err(err.into());
            }
            // The transaction is aborted: the commit rolled it back.
            Step::Write(_, Err(_)) | Step::States(Err(_)) => statement_failed = true,
            Step::States(Ok(_)) => {
                return Err(Failure::Transient(
                    "the write batch lost a result".to_owned(),
                ));
            }
            Step::Notify(Ok(row)) => head = Some(row.try_get::<_, i64>(0)?),
            // Refused because an earlier statement aborted the transaction.
            Step::Notify(Err(err)) if statement_failed && !is_transient(&err) => {}
            Step::Notify(Err(err)) => return Err(err.into()),
        }
    }
    if statement_failed {
        return Ok(Attempt::StatementFailed);
    }
    let outcomes: Option<Vec<Outcome>> = outcomes.into_iter().collect();
    let (Some(head), Some(outcomes)) = (head, outcomes) else {
        return Err(Failure::Transient(
            "the write batch lost a result".to_owned(),
        ));
    };
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
    let client: &tokio_postgres::Client = client;
    client.execute(&statements.begin, &[]).await?;
    let attempt = savepoints(client, statements, keys, jobs).await;
    if attempt.is_err() {
        // Leave no transaction open on a connection that goes back to the
        // pool (a lost connection is dropped by the pool instead).
        let _ = client.batch_execute("ROLLBACK").await;
    }
    attempt
}

/// The body of [`one_by_one`], inside its transaction.
async fn savepoints(
    client: &tokio_postgres::Client,
    statements: &Statements,
    keys: &Keys,
    jobs: &[(&WriteOp, Job<'_>)],
) -> Result<Attempt, Failure> {
    client.execute(&statements.lock, &[&keys.feed_lock]).await?;
    let mut results = Vec::with_capacity(jobs.len());
    for (op, job) in jobs {
        client.batch_execute("SAVEPOINT plinth_write").await?;
        match ops::run(client, statements, job).await {
            Ok(outcome) => {
                client
                    .batch_execute("RELEASE SAVEPOINT plinth_write")
                    .await?;
                results.push(op.result(outcome));
            }
            Err(err) if is_transient(&err) => return Err(err.into()),
            Err(err) => {
                client
                    .batch_execute("ROLLBACK TO SAVEPOINT plinth_write")
                    .await?;
                results.push(Err(op.statement_error(err)));
            }
        }
    }
    let head: i64 = client
        .query_one(&statements.notify, &[&keys.channel])
        .await?
        .try_get(0)?;
    client.execute(&statements.commit, &[]).await?;
    Ok(Attempt::Committed(results, unsigned(head)))
}
