//! The statements of each write, run by the writer inside the batch
//! transaction.
//!
//! Every write is one statement that checks its own fence and reports whether
//! it held, instead of failing: a write whose fence does not hold changes
//! nothing and returns the stored sequence number, and the batch goes on (an
//! error would abort the whole transaction). Each statement writes the
//! entity's rows and its feed records together (data-modifying `WITH`
//! clauses), so a write is a single round trip and the batch's statements can
//! all be sent at once (pipelined).
//!
//! A feed record draws its offset from the feed's identity sequence only when
//! it is inserted, so a conflicting write leaves no gap; offsets have gaps
//! only after a transaction that failed.

use std::sync::LazyLock;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::error::{to_bigint, unsigned};
use super::schedule;
use crate::storage::{EventAppend, FeedKind, StateWrite, StorageError, StorageResult};

/// Take the feed lock: every write transaction takes it before it draws feed
/// offsets, so offsets are drawn and committed in one order across processes.
pub(super) const LOCK: &str = "SELECT pg_advisory_xact_lock($1::bigint)";

/// The first state of a value entity (expected sequence 0): inserted only if
/// the entity has no row. Parameters: type_id, entity_id, payload (NULL to
/// delete), feed kind, feed type name, meta, trace context.
const STATE_INSERT: &str = "
WITH w AS (
    INSERT INTO plinth_entity_state (type_id, entity_id, seq, payload, meta)
    VALUES ($1::text, $2::text, 1, $3::bytea, $6::bytea)
    ON CONFLICT (type_id, entity_id) DO NOTHING
    RETURNING seq
), f AS (
    INSERT INTO plinth_feed (type_id, entity_id, seq, kind, type_name, payload, trace)
    SELECT $1::text, $2::text, w.seq, $4::smallint, $5::text, COALESCE($3::bytea, ''::bytea),
           $7::text
    FROM w
    RETURNING position
)
SELECT (SELECT seq FROM w), (SELECT position FROM f),
       (SELECT seq FROM plinth_entity_state WHERE type_id = $1::text AND entity_id = $2::text)";

/// A later state of a value entity: updated only if the stored sequence is
/// the expected one. Parameters: type_id, entity_id, expected sequence,
/// payload (NULL to delete), feed kind, feed type name, meta, trace context.
const STATE_UPDATE: &str = "
WITH w AS (
    UPDATE plinth_entity_state SET seq = $3::bigint + 1, payload = $4::bytea, meta = $7::bytea
    WHERE type_id = $1::text AND entity_id = $2::text AND seq = $3::bigint
    RETURNING seq
), f AS (
    INSERT INTO plinth_feed (type_id, entity_id, seq, kind, type_name, payload, trace)
    SELECT $1::text, $2::text, w.seq, $5::smallint, $6::text, COALESCE($4::bytea, ''::bytea),
           $8::text
    FROM w
    RETURNING position
)
SELECT (SELECT seq FROM w), (SELECT position FROM f),
       (SELECT seq FROM plinth_entity_state WHERE type_id = $1::text AND entity_id = $2::text)";

/// Events appended to a journal (with their feed records, in event order), an
/// optional snapshot and an optional tombstone, all only if the journal's
/// last sequence number is the expected one. Parameters: type_id, entity_id,
/// expected sequence, event type names, event payloads, number of events,
/// snapshot (or NULL), delete, trace context.
const APPEND: &str = "
WITH cur AS (
    SELECT COALESCE(MAX(seq), 0) AS seq FROM plinth_journal
    WHERE type_id = $1::text AND entity_id = $2::text
), ok AS (
    SELECT seq FROM cur WHERE seq = $3::bigint
), ev AS (
    SELECT e.ord, e.type_name, e.payload
    FROM unnest($4::text[], $5::bytea[]) WITH ORDINALITY AS e(type_name, payload, ord)
), j AS (
    INSERT INTO plinth_journal (type_id, entity_id, seq, type_name, payload)
    SELECT $1::text, $2::text, ok.seq + ev.ord, ev.type_name, ev.payload FROM ok, ev
    RETURNING seq
), f AS (
    INSERT INTO plinth_feed (type_id, entity_id, seq, kind, type_name, payload, trace)
    SELECT $1::text, $2::text, ok.seq + ev.ord, 3, ev.type_name, ev.payload, $9::text FROM ok, ev
    ORDER BY ev.ord
    RETURNING position
), s AS (
    INSERT INTO plinth_snapshots (type_id, entity_id, seq, payload)
    SELECT $1::text, $2::text, ok.seq + $6::bigint, $7::bytea FROM ok WHERE $7::bytea IS NOT NULL
    ON CONFLICT (type_id, entity_id) DO UPDATE SET seq = EXCLUDED.seq, payload = EXCLUDED.payload
), t AS (
    INSERT INTO plinth_tombstones (type_id, entity_id, seq)
    SELECT $1::text, $2::text, ok.seq + $6::bigint FROM ok WHERE $8::boolean
    ON CONFLICT (type_id, entity_id) DO NOTHING
)
SELECT (SELECT seq FROM cur), EXISTS (SELECT 1 FROM ok), (SELECT MAX(position) FROM f)";

/// `base` with the schedule changes of [`schedule::cte`] added, applied when
/// the relation `applied` (the write's own rows) is not empty, with
/// parameters after the `params` of `base`.
fn with_schedule(base: &str, applied: &str, params: usize) -> String {
    let at = base.rfind("\nSELECT ").unwrap_or(base.len());
    format!(
        "{},\n{}{}",
        &base[..at],
        schedule::cte(applied, params + 1),
        &base[at..]
    )
}

static STATE_INSERT_SCHEDULED: LazyLock<String> =
    LazyLock::new(|| with_schedule(STATE_INSERT, "w", 7));
static STATE_UPDATE_SCHEDULED: LazyLock<String> =
    LazyLock::new(|| with_schedule(STATE_UPDATE, "w", 8));
static APPEND_SCHEDULED: LazyLock<String> = LazyLock::new(|| with_schedule(APPEND, "ok", 9));

/// Announce the feed head to other processes (delivered at commit, in commit
/// order) and return it. Parameter: the channel.
const NOTIFY: &str = "
SELECT m.head, pg_notify($1::text, m.head::text)
FROM (SELECT COALESCE(MAX(position), 0) AS head FROM plinth_feed) m";

/// The batch statements, prepared on the batch's connection.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) lock: Statement,
    state_insert: Statement,
    state_update: Statement,
    append: Statement,
    /// The same with schedule changes.
    state_insert_scheduled: Statement,
    state_update_scheduled: Statement,
    append_scheduled: Statement,
    pub(super) notify: Statement,
    /// Every state write of a batch at once (see [`super::states`]).
    pub(super) states: Statement,
    /// `BEGIN` and `COMMIT`, prepared so that they go out with the writes.
    pub(super) begin: Statement,
    pub(super) commit: Statement,
}

impl Statements {
    /// Prepare (or take from the connection's cache) every batch statement.
    pub(super) async fn prepare(
        client: &deadpool_postgres::Object,
    ) -> Result<Statements, tokio_postgres::Error> {
        let (lock, state_insert, state_update, append, notify, states) = futures::try_join!(
            client.prepare_cached(LOCK),
            client.prepare_cached(STATE_INSERT),
            client.prepare_cached(STATE_UPDATE),
            client.prepare_cached(APPEND),
            client.prepare_cached(NOTIFY),
            client.prepare_cached(super::states::STATES),
        )?;
        let (begin, commit, state_insert_scheduled, state_update_scheduled, append_scheduled) = futures::try_join!(
            client.prepare_cached("BEGIN"),
            client.prepare_cached("COMMIT"),
            client.prepare_cached(&STATE_INSERT_SCHEDULED),
            client.prepare_cached(&STATE_UPDATE_SCHEDULED),
            client.prepare_cached(&APPEND_SCHEDULED),
        )?;
        Ok(Statements {
            lock,
            state_insert,
            state_update,
            append,
            state_insert_scheduled,
            state_update_scheduled,
            append_scheduled,
            notify,
            states,
            begin,
            commit,
        })
    }
}

/// One durable write.
#[derive(Debug)]
pub(super) enum WriteOp {
    /// A value entity's new state or delete.
    State(StateWrite),
    /// Events appended to a journal.
    Append(EventAppend),
}

/// The code a feed record's kind is stored as.
pub(super) fn kind_code(kind: FeedKind) -> i16 {
    match kind {
        FeedKind::State => 1,
        FeedKind::Delete => 2,
        FeedKind::Event => 3,
    }
}

/// The kind a stored code stands for.
pub(super) fn kind_from_code(code: i16) -> Option<FeedKind> {
    match code {
        1 => Some(FeedKind::State),
        2 => Some(FeedKind::Delete),
        3 => Some(FeedKind::Event),
        _ => None,
    }
}

/// A write with its parameters converted, ready to send.
#[derive(Debug)]
pub(super) enum Job<'a> {
    /// A value entity's state, fenced by `expected`.
    State {
        write: &'a StateWrite,
        expected: i64,
        kind: i16,
        schedule: Option<schedule::Params<'a>>,
    },
    /// Events, fenced by `expected`.
    Append {
        append: &'a EventAppend,
        expected: i64,
        count: i64,
        names: Vec<&'a str>,
        payloads: Vec<&'a [u8]>,
        schedule: Option<schedule::Params<'a>>,
    },
}

impl Job<'_> {
    /// Whether the write carries schedule changes.
    pub(super) fn schedules(&self) -> bool {
        match self {
            Job::State { schedule, .. } | Job::Append { schedule, .. } => schedule.is_some(),
        }
    }
}

/// The schedule changes of a write as parameters, when it has any.
fn schedule_params(ops: &[crate::storage::ScheduleOp]) -> Option<schedule::Params<'_>> {
    (!ops.is_empty()).then(|| schedule::Params::of(ops))
}

/// What a write statement found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The fence held: the new sequence number.
    Applied(u64),
    /// The fence did not hold: the stored sequence number. Nothing changed.
    Conflict(u64),
}

impl WriteOp {
    /// The write's parameters as PostgreSQL values; an error when one cannot
    /// be stored (nothing is sent then).
    pub(super) fn job(&self) -> StorageResult<Job<'_>> {
        match self {
            WriteOp::State(write) => Ok(Job::State {
                write,
                expected: to_bigint(write.expected_seq)?,
                kind: kind_code(if write.payload.is_some() {
                    FeedKind::State
                } else {
                    FeedKind::Delete
                }),
                schedule: schedule_params(&write.schedule),
            }),
            WriteOp::Append(append) => {
                let expected = to_bigint(append.expected_seq)?;
                let count = i64::try_from(append.events.len())
                    .ok()
                    .filter(|count| expected.checked_add(*count).is_some())
                    .ok_or_else(|| {
                        StorageError::Backend("too many events for a journal".to_owned())
                    })?;
                Ok(Job::Append {
                    append,
                    expected,
                    count,
                    names: append
                        .events
                        .iter()
                        .map(|(name, _)| name.as_str())
                        .collect(),
                    payloads: append
                        .events
                        .iter()
                        .map(|(_, bytes)| bytes.as_ref())
                        .collect(),
                    schedule: schedule_params(&append.schedule),
                })
            }
        }
    }

    /// The write's result from what its statement found.
    pub(super) fn result(&self, outcome: Outcome) -> StorageResult<u64> {
        let (type_id, entity_id, expected) = match self {
            WriteOp::State(w) => (&w.type_id, &w.entity_id, w.expected_seq),
            WriteOp::Append(a) => (&a.type_id, &a.entity_id, a.expected_seq),
        };
        match outcome {
            Outcome::Applied(seq) => Ok(seq),
            Outcome::Conflict(actual) => Err(StorageError::Conflict {
                type_id: type_id.clone(),
                entity_id: entity_id.clone(),
                expected,
                actual,
            }),
        }
    }

    /// A failed statement of this write as its error: a duplicate journal key
    /// means another writer appended the same sequence number first.
    pub(super) fn statement_error(&self, err: tokio_postgres::Error) -> StorageError {
        let duplicate = err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
        match self {
            WriteOp::Append(append) if duplicate => StorageError::Conflict {
                type_id: append.type_id.clone(),
                entity_id: append.entity_id.clone(),
                expected: append.expected_seq,
                actual: append.expected_seq + 1,
            },
            _ => super::error::pg(err),
        }
    }
}

/// Run one write's statement on `tx`, a connection inside the batch's
/// transaction. The request is sent when the future is
/// first polled, so polling several together pipelines them in order.
pub(super) async fn run(
    tx: &Client,
    statements: &Statements,
    job: &Job<'_>,
) -> Result<Outcome, tokio_postgres::Error> {
    match job {
        Job::State {
            write,
            expected,
            kind,
            schedule,
        } => {
            let payload = write.payload.as_deref();
            let meta = write.meta.as_deref();
            let type_name = feed_type_name(write);
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&write.type_id, &write.entity_id];
            if *expected != 0 {
                params.push(expected);
            }
            params.extend([
                &payload as &(dyn ToSql + Sync),
                kind,
                &type_name,
                &meta,
                &write.trace,
            ]);
            let statement = match (expected, schedule) {
                (0, None) => &statements.state_insert,
                (0, Some(_)) => &statements.state_insert_scheduled,
                (_, None) => &statements.state_update,
                (_, Some(_)) => &statements.state_update_scheduled,
            };
            if let Some(schedule) = schedule {
                params.extend(schedule.refs());
            }
            let row = tx.query_one(statement, &params).await?;
            state_outcome(&row)
        }
        Job::Append {
            append,
            expected,
            count,
            names,
            payloads,
            schedule,
        } => {
            let snapshot = append.snapshot.as_deref();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![
                &append.type_id,
                &append.entity_id,
                expected,
                names,
                payloads,
                count,
                &snapshot,
                &append.delete,
                &append.trace,
            ];
            let statement = match schedule {
                Some(schedule) => {
                    params.extend(schedule.refs());
                    &statements.append_scheduled
                }
                None => &statements.append,
            };
            let row = tx.query_one(statement, &params).await?;
            let stored: i64 = row.try_get(0)?;
            let held: bool = row.try_get(1)?;
            Ok(if held {
                Outcome::Applied(unsigned(stored.saturating_add(*count)))
            } else {
                Outcome::Conflict(unsigned(stored))
            })
        }
    }
}

/// The message name a state write records on the feed (none for deletes).
pub(super) fn feed_type_name(write: &StateWrite) -> &str {
    if write.payload.is_some() {
        &write.type_name
    } else {
        ""
    }
}

/// A state statement's row: the new sequence number when the fence held,
/// else the stored one (none: never written).
fn state_outcome(row: &Row) -> Result<Outcome, tokio_postgres::Error> {
    let written: Option<i64> = row.try_get(0)?;
    let stored: Option<i64> = row.try_get(2)?;
    Ok(match written {
        Some(seq) => Outcome::Applied(unsigned(seq)),
        None => Outcome::Conflict(unsigned(stored.unwrap_or(0))),
    })
}
