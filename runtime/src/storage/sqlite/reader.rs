//! Reads on a small pool of read-only connections.
//!
//! WAL lets readers run while the writer commits; every read starts a fresh
//! read transaction, so it sees every write acknowledged before it began.
//! Queries are synchronous, so each runs on tokio's blocking pool with a
//! connection taken from the pool (a semaphore bounds how many run at once).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Semaphore;

use super::ops::kind_from_code;
use super::{backend, schema, to_sql_int};
use crate::storage::{FeedRecord, Replay, StorageError, StorageResult, StoredEvent, StoredState};

/// The read-only connection pool.
#[derive(Debug)]
pub(super) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    /// Connections not in use; `None` once the pool is closed.
    idle: Arc<Mutex<Option<Vec<Connection>>>>,
    permits: Semaphore,
}

impl ReadPool {
    /// A pool of `size` connections to the database at `path`, opened now so
    /// that a broken file fails at open time.
    pub(super) fn open(path: PathBuf, size: usize, busy_timeout: Duration) -> StorageResult<Self> {
        let size = size.max(1);
        let idle = (0..size)
            .map(|_| schema::open_reader(&path, busy_timeout))
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(ReadPool {
            path,
            busy_timeout,
            idle: Arc::new(Mutex::new(Some(idle))),
            permits: Semaphore::new(size),
        })
    }

    /// Run `query` on a pooled connection, off the async threads.
    pub(super) async fn run<T, F>(&self, query: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StorageResult<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StorageError::Closed)?;
        let pooled = match self.idle.lock().map_err(|_| poisoned())?.as_mut() {
            Some(idle) => idle.pop(),
            None => return Err(StorageError::Closed),
        };
        let (path, busy_timeout, idle) = (self.path.clone(), self.busy_timeout, self.idle.clone());
        tokio::task::spawn_blocking(move || {
            // A connection lost to a panicked query is replaced here.
            let mut conn = match pooled {
                Some(conn) => conn,
                None => schema::open_reader(&path, busy_timeout)?,
            };
            let result = query(&mut conn);
            // After close the connection is dropped instead.
            if let Ok(Some(idle)) = idle.lock().as_deref_mut() {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Backend(format!("read task failed: {e}")))?
    }

    /// Refuse further reads and drop the idle connections.
    pub(super) fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            *idle = None;
        }
    }
}

fn poisoned() -> StorageError {
    StorageError::Backend("read connection pool poisoned".to_owned())
}

/// A stored integer as the unsigned number it was written as.
fn unsigned(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, value))
}

/// A value entity's state: its bytes are those of the feed record the state row
/// points at (rows written before schema version 3 hold them themselves).
pub(super) fn load_state(
    conn: &mut Connection,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Option<StoredState>> {
    conn.prepare_cached(
        "SELECT s.seq, COALESCE(s.payload, f.payload), s.meta FROM entity_state s
         LEFT JOIN feed f ON f.position = s.position
         WHERE s.type_id = ?1 AND s.entity_id = ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![type_id, entity_id], |row| {
            Ok(StoredState {
                seq: unsigned(row, 0)?,
                payload: row.get::<_, Option<Vec<u8>>>(1)?.map(Bytes::from),
                meta: row.get::<_, Option<Vec<u8>>>(2)?.map(Bytes::from),
            })
        })
        .optional()
    })
    .map_err(backend)
}

/// The latest snapshot, the events after it and the deleted flag, read in one
/// read transaction so they are consistent. An event's bytes are those of the
/// feed record its journal row points at (rows written before schema version 5
/// hold them themselves).
pub(super) fn load_journal(
    conn: &mut Connection,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Replay> {
    let tx = conn.transaction().map_err(backend)?;
    let snapshot = tx
        .prepare_cached("SELECT seq, payload FROM snapshots WHERE type_id = ?1 AND entity_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![type_id, entity_id], |row| {
                Ok((unsigned(row, 0)?, Bytes::from(row.get::<_, Vec<u8>>(1)?)))
            })
            .optional()
        })
        .map_err(backend)?;
    let after = to_sql_int(snapshot.as_ref().map_or(0, |(seq, _)| *seq))?;
    let events = tx
        .prepare_cached(
            "SELECT j.seq, j.type_name,
                    CASE WHEN j.position IS NULL THEN j.payload ELSE f.payload END
             FROM journal j LEFT JOIN feed f ON f.position = j.position
             WHERE j.type_id = ?1 AND j.entity_id = ?2 AND j.seq > ?3 ORDER BY j.seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![type_id, entity_id, after], |row| {
                Ok(StoredEvent {
                    seq: unsigned(row, 0)?,
                    type_name: row.get(1)?,
                    payload: Bytes::from(row.get::<_, Vec<u8>>(2)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    let deleted = tx
        .prepare_cached("SELECT 1 FROM tombstones WHERE type_id = ?1 AND entity_id = ?2")
        .and_then(|mut stmt| stmt.exists(params![type_id, entity_id]))
        .map_err(backend)?;
    tx.finish().map_err(backend)?;
    Ok(Replay {
        snapshot,
        events,
        deleted,
    })
}

/// Feed records after `after`, for `type_ids` (all when empty), at most `limit`.
pub(super) fn read_feed(
    conn: &mut Connection,
    after: u64,
    type_ids: &[String],
    limit: usize,
) -> StorageResult<Vec<FeedRecord>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Offsets beyond the stored range select nothing, so clamping is exact.
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let filter = if type_ids.is_empty() {
        String::new()
    } else {
        let slots: Vec<String> = (0..type_ids.len()).map(|i| format!("?{}", i + 3)).collect();
        format!("AND type_id IN ({})", slots.join(", "))
    };
    let sql = format!(
        "SELECT position, type_id, entity_id, seq, kind, type_name, payload, trace FROM feed
         WHERE position > ?1 {filter} ORDER BY position LIMIT ?2"
    );
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&after, &limit];
    values.extend(type_ids.iter().map(|id| id as &dyn rusqlite::ToSql));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(values.as_slice(), |row| {
            let code: i64 = row.get(4)?;
            let kind =
                kind_from_code(code).ok_or(rusqlite::Error::IntegralValueOutOfRange(4, code))?;
            Ok(FeedRecord {
                offset: unsigned(row, 0)?,
                type_id: row.get(1)?,
                entity_id: row.get(2)?,
                seq: unsigned(row, 3)?,
                kind,
                type_name: row.get(5)?,
                payload: Bytes::from(row.get::<_, Vec<u8>>(6)?),
                trace: row.get(7)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(backend)?;
    Ok(rows)
}

/// A consumer's stored offset (0 when none).
pub(super) fn load_offset(conn: &mut Connection, consumer: &str) -> StorageResult<u64> {
    conn.prepare_cached("SELECT position FROM consumer_offsets WHERE consumer = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![consumer], |row| unsigned(row, 0))
                .optional()
        })
        .map(Option::unwrap_or_default)
        .map_err(backend)
}
