//! The statements of each write, run by the writer thread inside the batch
//! transaction. An entity write's schedule changes (see [`schedule`]) run
//! after its fence held, in its savepoint.
//!
//! Every write is fenced by the entity's stored sequence number: it applies
//! only if that is the writer's expectation, else fails with a conflict. It
//! writes its rows and one feed record per change. Feed positions are rowids
//! assigned by the single writer, so they follow commit order and have no gaps
//! (a rolled-back savepoint frees its positions again).
//!
//! A value entity's state and an event are written once, into the feed
//! record; the state row and the journal row keep the sequence number and the
//! position of that record. Every change is in the feed anyway (views and
//! subscriptions see every change), and a second copy doubled the bytes of
//! each write.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{backend, schedule, to_sql_int};
use crate::clock::Clock;
use crate::storage::{EventAppend, FeedKind, ScheduleOp, StateWrite, StorageError, StorageResult};

/// One durable write.
#[derive(Debug)]
pub(super) enum WriteOp {
    /// A value entity's new state or delete.
    State(StateWrite),
    /// Events appended to a journal.
    Append(EventAppend),
    /// A consumer's offset.
    Offset {
        /// The consumer name.
        consumer: String,
        /// Its new offset.
        offset: u64,
    },
    /// Take or renew a lease (1 when held after the write, 0 when not).
    Claim(super::leases::Claim),
    /// Give up a lease.
    Release {
        /// The lease.
        name: String,
        /// Who gives it up.
        holder: String,
    },
    /// View schema statements.
    ViewSchema(Vec<String>),
    /// A view projection batch.
    ViewBatch(crate::storage::ViewBatch),
    /// Schedule changes on their own.
    Schedule(Vec<ScheduleOp>),
    /// Claimed calls, due again after the hold.
    Postpone {
        /// The calls.
        keys: Vec<String>,
        /// How long the claim holds.
        hold: Duration,
    },
    /// A failed attempt at a call.
    Retry {
        /// The call.
        key: String,
        /// Its failed attempts.
        attempts: u32,
        /// The failure.
        error: String,
        /// When it is due again.
        delay: Duration,
    },
    /// Delivered calls, removed.
    Complete(Vec<String>),
}

impl WriteOp {
    /// Whether the write may add change-feed records.
    pub(super) fn writes_feed(&self) -> bool {
        !matches!(
            self,
            WriteOp::Offset { .. }
                | WriteOp::Claim(_)
                | WriteOp::Release { .. }
                | WriteOp::ViewSchema(_)
                | WriteOp::ViewBatch(_)
                | WriteOp::Schedule(_)
                | WriteOp::Postpone { .. }
                | WriteOp::Retry { .. }
                | WriteOp::Complete(_)
        )
    }

    /// Run the write's statements, due times and lease expiry by `clock`.
    /// Returns the new sequence number (the offset for [`WriteOp::Offset`]).
    pub(super) fn apply(&self, conn: &Connection, clock: &dyn Clock) -> StorageResult<u64> {
        match self {
            WriteOp::State(write) => write_state(conn, write, clock),
            WriteOp::Append(append) => append_events(conn, append, clock),
            WriteOp::Offset { consumer, offset } => store_offset(conn, consumer, *offset),
            WriteOp::Claim(claim) => super::leases::claim(conn, claim, clock),
            WriteOp::Release { name, holder } => super::leases::release(conn, name, holder),
            WriteOp::ViewSchema(statements) => super::view::apply_schema(conn, statements),
            WriteOp::ViewBatch(batch) => super::view::apply_batch(conn, batch),
            WriteOp::Schedule(ops) => schedule::apply(conn, ops, clock).map(|()| 0),
            WriteOp::Postpone { keys, hold } => {
                schedule::postpone(conn, keys, *hold, clock).map(|()| 0)
            }
            WriteOp::Retry {
                key,
                attempts,
                error,
                delay,
            } => schedule::retry(conn, key, *attempts, error, *delay, clock),
            WriteOp::Complete(keys) => schedule::complete(conn, keys).map(|()| 0),
        }
    }
}

/// The code a feed record's kind is stored as.
pub(super) fn kind_code(kind: FeedKind) -> i64 {
    match kind {
        FeedKind::State => 1,
        FeedKind::Delete => 2,
        FeedKind::Event => 3,
    }
}

/// The kind a stored code stands for.
pub(super) fn kind_from_code(code: i64) -> Option<FeedKind> {
    match code {
        1 => Some(FeedKind::State),
        2 => Some(FeedKind::Delete),
        3 => Some(FeedKind::Event),
        _ => None,
    }
}

/// Fail with a conflict unless the stored sequence number is the expected one.
fn fence(type_id: &str, entity_id: &str, expected: u64, stored: i64) -> StorageResult<()> {
    let actual = u64::try_from(stored).unwrap_or_default();
    if actual == expected {
        Ok(())
    } else {
        Err(StorageError::Conflict {
            type_id: type_id.to_owned(),
            entity_id: entity_id.to_owned(),
            expected,
            actual,
        })
    }
}

/// A duplicate journal key means another writer appended the same sequence
/// number first: a conflict, like a failed fence.
fn duplicate_as_conflict(err: rusqlite::Error, append: &EventAppend) -> StorageError {
    let duplicate = matches!(
        err.sqlite_error(),
        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    if duplicate {
        StorageError::Conflict {
            type_id: append.type_id.clone(),
            entity_id: append.entity_id.clone(),
            expected: append.expected_seq,
            actual: append.expected_seq + 1,
        }
    } else {
        backend(err)
    }
}

/// Insert one feed record of entity `(type_id, entity_id)`.
fn insert_feed(
    conn: &Connection,
    (type_id, entity_id): (&str, &str),
    seq: i64,
    kind: FeedKind,
    type_name: &str,
    payload: &[u8],
    trace: Option<&str>,
) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT INTO feed (type_id, entity_id, seq, kind, type_name, payload, trace)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            type_id,
            entity_id,
            seq,
            kind_code(kind),
            type_name,
            payload,
            trace
        ])
    })
    .map(drop)
    .map_err(backend)
}

fn write_state(conn: &Connection, write: &StateWrite, clock: &dyn Clock) -> StorageResult<u64> {
    let expected = to_sql_int(write.expected_seq)?;
    let seq = expected + 1;
    // The feed record first: its position is where the state's bytes live.
    let (kind, type_name, bytes) = match write.payload.as_deref() {
        Some(bytes) => (FeedKind::State, write.type_name.as_str(), bytes),
        None => (FeedKind::Delete, "", &[][..]),
    };
    insert_feed(
        conn,
        (&write.type_id, &write.entity_id),
        seq,
        kind,
        type_name,
        bytes,
        write.trace.as_deref(),
    )?;
    let position = write.payload.is_some().then(|| conn.last_insert_rowid());
    fenced_state_write(conn, write, expected, position)?;
    schedule::apply(conn, &write.schedule, clock)?;
    Ok(seq as u64)
}

/// Point the entity's state at feed record `position` (none: deleted) if its
/// stored sequence number is the expected one, in one statement: an insert
/// when the entity was never written, else an update conditioned on the
/// sequence. Only when that changes no row is the stored sequence read, to
/// report the conflict (the caller's savepoint then undoes the feed record).
fn fenced_state_write(
    conn: &Connection,
    write: &StateWrite,
    expected: i64,
    position: Option<i64>,
) -> StorageResult<()> {
    let changed = if expected == 0 {
        conn.prepare_cached(
            "INSERT INTO entity_state (type_id, entity_id, seq, payload, position, meta)
             VALUES (?1, ?2, 1, NULL, ?3, ?4)
             ON CONFLICT (type_id, entity_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                write.type_id,
                write.entity_id,
                position,
                write.meta.as_deref()
            ])
        })
    } else {
        conn.prepare_cached(
            "UPDATE entity_state SET seq = ?3 + 1, payload = NULL, position = ?4, meta = ?5
             WHERE type_id = ?1 AND entity_id = ?2 AND seq = ?3",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                write.type_id,
                write.entity_id,
                expected,
                position,
                write.meta.as_deref()
            ])
        })
    }
    .map_err(backend)?;
    if changed == 1 {
        return Ok(());
    }
    let stored: i64 = conn
        .prepare_cached("SELECT seq FROM entity_state WHERE type_id = ?1 AND entity_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![write.type_id, write.entity_id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?
        .unwrap_or(0);
    fence(&write.type_id, &write.entity_id, write.expected_seq, stored)?;
    // The row matched the fence yet nothing changed: not expected from SQLite.
    Err(StorageError::Backend(format!(
        "the state of {} {} was not written",
        write.type_id, write.entity_id
    )))
}

fn append_events(conn: &Connection, append: &EventAppend, clock: &dyn Clock) -> StorageResult<u64> {
    let (type_id, entity_id) = (&append.type_id, &append.entity_id);
    let stored: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE type_id = ?1 AND entity_id = ?2",
        )
        .and_then(|mut stmt| stmt.query_row(params![type_id, entity_id], |row| row.get(0)))
        .map_err(backend)?;
    fence(type_id, entity_id, append.expected_seq, stored)?;
    let mut seq = stored;
    for (type_name, payload) in &append.events {
        seq += 1;
        // The feed record holds the event's bytes; the journal row points at it.
        insert_feed(
            conn,
            (type_id, entity_id),
            seq,
            FeedKind::Event,
            type_name,
            payload,
            append.trace.as_deref(),
        )?;
        let position = conn.last_insert_rowid();
        conn.prepare_cached(
            "INSERT INTO journal (type_id, entity_id, seq, type_name, payload, position)
             VALUES (?1, ?2, ?3, ?4, X'', ?5)",
        )
        .and_then(|mut stmt| stmt.execute(params![type_id, entity_id, seq, type_name, position]))
        .map_err(|e| duplicate_as_conflict(e, append))?;
    }
    if let Some(snapshot) = &append.snapshot {
        conn.prepare_cached(
            "INSERT INTO snapshots (type_id, entity_id, seq, payload) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (type_id, entity_id) DO UPDATE SET seq = excluded.seq, payload = excluded.payload",
        )
        .and_then(|mut stmt| stmt.execute(params![type_id, entity_id, seq, snapshot.as_ref()]))
        .map_err(backend)?;
    }
    if append.delete {
        conn.prepare_cached(
            "INSERT INTO tombstones (type_id, entity_id, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (type_id, entity_id) DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![type_id, entity_id, seq]))
        .map_err(backend)?;
    }
    schedule::apply(conn, &append.schedule, clock)?;
    Ok(seq as u64)
}

fn store_offset(conn: &Connection, consumer: &str, offset: u64) -> StorageResult<u64> {
    let position = to_sql_int(offset)?;
    conn.prepare_cached(
        "INSERT INTO consumer_offsets (consumer, position) VALUES (?1, ?2)
         ON CONFLICT (consumer) DO UPDATE SET position = MAX(position, excluded.position)",
    )
    .and_then(|mut stmt| stmt.execute(params![consumer, position]))
    .map_err(backend)?;
    Ok(offset)
}
