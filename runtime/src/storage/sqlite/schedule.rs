//! The schedule (outbox entries and timers) in the `scheduled` table.
//!
//! Changes run on the writer thread, inside the batch transaction (with an
//! entity's write, in that write's savepoint, so a failed fence drops them
//! too); claims read the due rows and then postpone them on the writer. One
//! process serves an SQLite file and one scheduler claims in it, so nothing
//! claims between the read and the postponement. Due times are milliseconds
//! since the Unix epoch by the storage's clock ([`super::SqliteOptions::clock`]).

use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, Row, params};

use super::backend;
use crate::clock::{Clock, unix_millis};
use crate::storage::{Claim, DueCall, ScheduleOp, StorageResult};

fn millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

/// Apply schedule changes in order.
pub(super) fn apply(conn: &Connection, ops: &[ScheduleOp], clock: &dyn Clock) -> StorageResult<()> {
    // Rounded up, so that a call is never due before its delay has passed.
    let now = unix_millis(clock).saturating_add(1);
    for op in ops {
        match op {
            ScheduleOp::Put(call) => {
                conn.prepare_cached(
                    "INSERT INTO scheduled (key, name, lane, path, payload, due_ms, max_retries, trace)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (name) DO UPDATE SET key = excluded.key, lane = excluded.lane,
                         path = excluded.path, payload = excluded.payload,
                         due_ms = excluded.due_ms, attempts = 0,
                         max_retries = excluded.max_retries, last_error = NULL,
                         trace = excluded.trace",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        call.key,
                        call.name,
                        call.lane,
                        call.path,
                        call.payload.as_ref(),
                        now.saturating_add(millis(call.delay)),
                        call.max_retries,
                        call.trace,
                    ])
                })
                .map_err(backend)?;
            }
            ScheduleOp::Cancel(name) => {
                conn.prepare_cached("DELETE FROM scheduled WHERE name = ?1")
                    .and_then(|mut stmt| stmt.execute(params![name]))
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

/// Make the calls `keys` due `hold` from now.
pub(super) fn postpone(
    conn: &Connection,
    keys: &[String],
    hold: Duration,
    clock: &dyn Clock,
) -> StorageResult<()> {
    let due = unix_millis(clock).saturating_add(millis(hold));
    let mut stmt = conn
        .prepare_cached("UPDATE scheduled SET due_ms = ?2 WHERE key = ?1")
        .map_err(backend)?;
    for key in keys {
        stmt.execute(params![key, due]).map_err(backend)?;
    }
    Ok(())
}

/// Record a failed attempt; 1 when the call is still stored, else 0.
pub(super) fn retry(
    conn: &Connection,
    key: &str,
    attempts: u32,
    error: &str,
    delay: Duration,
    clock: &dyn Clock,
) -> StorageResult<u64> {
    conn.prepare_cached(
        "UPDATE scheduled SET attempts = ?2, last_error = ?3, due_ms = ?4 WHERE key = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key,
            attempts,
            error,
            unix_millis(clock).saturating_add(millis(delay))
        ])
    })
    .map(|changed| u64::from(changed > 0))
    .map_err(backend)
}

/// Remove calls by key.
pub(super) fn complete(conn: &Connection, keys: &[String]) -> StorageResult<()> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM scheduled WHERE key = ?1")
        .map_err(backend)?;
    for key in keys {
        stmt.execute(params![key]).map_err(backend)?;
    }
    Ok(())
}

const COLUMNS: &str =
    "key, name, lane, path, payload, attempts, max_retries, last_error, due_ms, trace";

fn due_call(row: &Row<'_>, now: i64) -> rusqlite::Result<DueCall> {
    let payload: Vec<u8> = row.get(4)?;
    let due_ms: i64 = row.get(8)?;
    Ok(DueCall {
        key: row.get(0)?,
        name: row.get(1)?,
        lane: row.get(2)?,
        path: row.get(3)?,
        payload: Bytes::from(payload),
        attempts: row.get(5)?,
        max_retries: row.get(6)?,
        last_error: row.get(7)?,
        due_in_ms: due_ms.saturating_sub(now),
        trace: row.get(9)?,
    })
}

/// The calls a claim takes, in the order they were stored.
pub(super) fn due(
    conn: &Connection,
    claim: Claim,
    clock: &dyn Clock,
) -> StorageResult<Vec<DueCall>> {
    let now = unix_millis(clock);
    let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {COLUMNS} FROM scheduled
         WHERE due_ms <= ?1 + ?4 OR (?2 AND name IS NULL)
         ORDER BY seq LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let ahead = millis(claim.ahead);
    let rows = stmt
        .query_map(params![now, claim.orphans, limit, ahead], |row| {
            due_call(row, now)
        })
        .map_err(backend)?;
    let mut calls = rows
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    for call in &mut calls {
        if call.due_in_ms > ahead {
            // An orphan, taken over before its writer's claim lapsed: due now.
            call.due_in_ms = 0;
        }
    }
    Ok(calls)
}

/// How long until the earliest call is due.
pub(super) fn next_due(conn: &Connection, clock: &dyn Clock) -> StorageResult<Option<Duration>> {
    let now = unix_millis(clock);
    let earliest: Option<i64> = conn
        .prepare_cached("SELECT MIN(due_ms) FROM scheduled")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(backend)?;
    Ok(earliest
        .map(|due| Duration::from_millis(u64::try_from(due.saturating_sub(now)).unwrap_or(0))))
}

/// Stored calls, earliest due first.
pub(super) fn list(
    conn: &Connection,
    limit: usize,
    clock: &dyn Clock,
) -> StorageResult<Vec<DueCall>> {
    let now = unix_millis(clock);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!("SELECT {COLUMNS} FROM scheduled ORDER BY due_ms, seq LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(params![limit], |row| due_call(row, now))
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}
