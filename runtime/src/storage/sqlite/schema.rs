//! Connection settings and the versioned schema.
//!
//! The schema version lives in `PRAGMA user_version`. [`MIGRATIONS`] is the
//! ordered list of steps; opening a database applies the steps it lacks in one
//! transaction, and refuses a database written by a newer version.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::backend;
use crate::storage::{StorageError, StorageResult};

/// The ordered schema migrations; step `i` brings a database from version `i`
/// to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: value state, journal, snapshots, tombstones, change feed, consumer offsets.
    "
    CREATE TABLE entity_state (
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        payload   BLOB,
        PRIMARY KEY (type_id, entity_id)
    ) WITHOUT ROWID;

    CREATE TABLE journal (
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        type_name TEXT    NOT NULL,
        payload   BLOB    NOT NULL,
        PRIMARY KEY (type_id, entity_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE snapshots (
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        payload   BLOB    NOT NULL,
        PRIMARY KEY (type_id, entity_id)
    ) WITHOUT ROWID;

    CREATE TABLE tombstones (
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (type_id, entity_id)
    ) WITHOUT ROWID;

    CREATE TABLE feed (
        position  INTEGER PRIMARY KEY,
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        kind      INTEGER NOT NULL,
        type_name TEXT    NOT NULL,
        payload   BLOB    NOT NULL
    );
    CREATE INDEX feed_by_type ON feed (type_id, position);

    CREATE TABLE consumer_offsets (
        consumer  TEXT    PRIMARY KEY,
        position  INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 2: per view projection, the last sequence number applied per entity
    // (written in the same transaction as the view's rows).
    "
    CREATE TABLE view_applied (
        consumer  TEXT    NOT NULL,
        type_id   TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (consumer, type_id, entity_id)
    ) WITHOUT ROWID;
    ",
    // 3: a value entity's state bytes are stored once, in its change-feed
    // record; the state row points at that record (`payload` stays for rows
    // written before, and is NULL in new ones).
    "
    ALTER TABLE entity_state ADD COLUMN position INTEGER;
    ",
    // 4: no per-type index on the feed. Every write paid for a second B-tree
    // insert into it (see "Changes made for this" in BENCHMARKS.md); a
    // consumer reads the feed in position order and skips other types'
    // records, so it scans each record about once, and a caught-up consumer
    // moves to the head.
    "
    DROP INDEX feed_by_type;
    ",
    // 5: an event's bytes are stored once, in its change-feed record; the
    // journal row points at it (`payload` is empty in new rows).
    "
    ALTER TABLE journal ADD COLUMN position INTEGER;
    ",
    // 6: leases, so one holder at a time runs a consumer.
    "
    CREATE TABLE leases (
        name       TEXT    PRIMARY KEY,
        holder     TEXT    NOT NULL,
        expires_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 7: the schedule: outbox entries (no name) and timers (a unique name),
    // delivered in `seq` order per lane.
    "
    CREATE TABLE scheduled (
        seq         INTEGER PRIMARY KEY,
        key         TEXT    NOT NULL UNIQUE,
        name        TEXT    UNIQUE,
        lane        TEXT    NOT NULL,
        path        TEXT    NOT NULL,
        payload     BLOB    NOT NULL,
        due_ms      INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER,
        last_error  TEXT
    );
    CREATE INDEX scheduled_by_due ON scheduled (due_ms);
    ",
    // 8: what the runtime keeps about an entity beside its state (a
    // workflow's position), written with the state, not on the feed.
    "
    ALTER TABLE entity_state ADD COLUMN meta BLOB;
    ",
    // 9: the trace context of the call that made each change.
    "
    ALTER TABLE feed ADD COLUMN trace TEXT;
    ",
    // 10: the trace context of the call that scheduled each call.
    "
    ALTER TABLE scheduled ADD COLUMN trace TEXT;
    ",
];

/// The writer connection's page cache, as SQLite's `cache_size` (negative: KiB).
const WRITER_CACHE_KIB: i64 = -32 * 1024;

/// The WAL size, in pages, at which a commit checkpoints when the writer is
/// the only one to ([`super::SqliteOptions::checkpoint_pages`]; SQLite's own
/// default is 1,000). With the checkpoint thread (the default), the writer's
/// threshold is a backstop above it (`super::checkpoint`).
///
/// A checkpoint copies every page the WAL holds back into the database file,
/// once per page however often it was rewritten, on the writer thread inside
/// the commit that crossed the threshold, so the writes queued behind it wait.
/// Larger values copy a page rewritten by many batches fewer times but make
/// each of those pauses longer; 2,500 pages (10 MiB of WAL with 4 KiB pages)
/// gave value-entity writes the throughput of larger values at a fraction of
/// their pauses (`BENCHMARKS.md`, "Changes made for this"). Durability does not depend on checkpoints: a commit is
/// durable once its WAL frames are synced.
pub(super) const WAL_CHECKPOINT_PAGES: u32 = 2_500;

/// The schema version this code writes: the number of migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Open the write connection: create the file, switch to WAL with full sync,
/// and bring the schema up to date.
pub(super) fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    checkpoint_pages: u32,
) -> StorageResult<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StorageError::Backend(format!("cannot create directory {}: {e}", parent.display()))
        })?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StorageError::Backend(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(busy_timeout).map_err(backend)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Backend(format!(
            "{} cannot use write-ahead logging (journal_mode is {mode})",
            path.display()
        )));
    }
    // FULL: the WAL is synced at every commit, so an acknowledged write survives
    // a process kill and a power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    // 32 MiB of page cache (SQLite's default is 2 MiB): with the default, most
    // writes to a database of more than a few thousand entities read their
    // B-tree pages back from the file first, one system call each, on the one
    // writer thread.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
        .map_err(backend)?;
    conn.pragma_update(None, "wal_autocheckpoint", checkpoint_pages.max(1))
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Open a read-only connection to a database the writer already set up.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> StorageResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        StorageError::Backend(format!("cannot open {} for reading: {e}", path.display()))
    })?;
    conn.busy_timeout(busy_timeout).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Apply the migrations the database lacks, all in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> StorageResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend)?;
    let found = usize::try_from(found).map_err(|_| {
        StorageError::Backend(format!(
            "{} has an invalid schema version {found}",
            path.display()
        ))
    })?;
    if found > MIGRATIONS.len() {
        return Err(StorageError::Backend(format!(
            "{} has schema version {found}, newer than the version {SCHEMA_VERSION} this Plinth \
             knows; open it with a newer Plinth",
            path.display()
        )));
    }
    if found == MIGRATIONS.len() {
        return Ok(());
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        tx.execute_batch(sql).map_err(|e| {
            StorageError::Backend(format!("schema migration {} failed: {e}", step + 1))
        })?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(backend)?;
    tx.commit().map_err(backend)
}
