//! The versioned schema, and the advisory-lock keys and notification channel
//! of one schema.
//!
//! The version lives in `plinth_schema_version`. [`MIGRATIONS`] is the ordered
//! list of steps; connecting applies the steps the database lacks in one
//! transaction, under an advisory lock so that processes starting together
//! migrate one after the other (the later ones find the schema current), and
//! refuses a database written by a newer version.
//!
//! The tables live in the connection's current schema (the first schema of
//! its `search_path`), so several services can share one database in
//! separate schemas. Advisory locks and notification channels are per
//! database, so their keys and names are derived from the schema name.

use deadpool_postgres::Object;

use super::error::pg;
use crate::storage::{StorageError, StorageResult};

/// The ordered schema migrations; step `i` brings a database from version `i`
/// to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: value state, journal, snapshots, tombstones, change feed, consumer
    // offsets, leases, and per view projection the last sequence number
    // applied per entity.
    "
    CREATE TABLE plinth_entity_state (
        type_id   TEXT   NOT NULL,
        entity_id TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        payload   BYTEA,
        PRIMARY KEY (type_id, entity_id)
    );

    CREATE TABLE plinth_journal (
        type_id   TEXT   NOT NULL,
        entity_id TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        type_name TEXT   NOT NULL,
        payload   BYTEA  NOT NULL,
        PRIMARY KEY (type_id, entity_id, seq)
    );

    CREATE TABLE plinth_snapshots (
        type_id   TEXT   NOT NULL,
        entity_id TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        payload   BYTEA  NOT NULL,
        PRIMARY KEY (type_id, entity_id)
    );

    CREATE TABLE plinth_tombstones (
        type_id   TEXT   NOT NULL,
        entity_id TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        PRIMARY KEY (type_id, entity_id)
    );

    CREATE TABLE plinth_feed (
        position  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type_id   TEXT     NOT NULL,
        entity_id TEXT     NOT NULL,
        seq       BIGINT   NOT NULL,
        kind      SMALLINT NOT NULL,
        type_name TEXT     NOT NULL,
        payload   BYTEA    NOT NULL
    );

    CREATE TABLE plinth_offsets (
        consumer  TEXT   PRIMARY KEY,
        position  BIGINT NOT NULL
    );

    CREATE TABLE plinth_leases (
        name       TEXT        PRIMARY KEY,
        holder     TEXT        NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );

    CREATE TABLE plinth_view_applied (
        consumer  TEXT   NOT NULL,
        type_id   TEXT   NOT NULL,
        entity_id TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        PRIMARY KEY (consumer, type_id, entity_id)
    );
    ",
    // 2: the schedule: outbox entries (no name) and timers (a unique name),
    // delivered in `seq` order per lane.
    "
    CREATE TABLE plinth_scheduled (
        seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key         TEXT        NOT NULL UNIQUE,
        name        TEXT        UNIQUE,
        lane        TEXT        NOT NULL,
        path        TEXT        NOT NULL,
        payload     BYTEA       NOT NULL,
        due_at      TIMESTAMPTZ NOT NULL,
        attempts    INTEGER     NOT NULL DEFAULT 0,
        max_retries INTEGER,
        last_error  TEXT
    );
    CREATE INDEX plinth_scheduled_by_due ON plinth_scheduled (due_at);
    ",
    // 3: what the runtime keeps about an entity beside its state (a
    // workflow's position), written with the state, not on the feed.
    "
    ALTER TABLE plinth_entity_state ADD COLUMN meta BYTEA;
    ",
    // 4: the trace context of the call that made each change.
    "
    ALTER TABLE plinth_feed ADD COLUMN trace TEXT;
    ",
    // 5: the trace context of the call that scheduled each call.
    "
    ALTER TABLE plinth_scheduled ADD COLUMN trace TEXT;
    ",
];

/// The schema version this code writes: the number of migrations.
pub(super) const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory-lock keys and the notification channel of one schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    /// Taken by every write transaction before it draws feed offsets.
    pub(super) feed_lock: i64,
    /// Taken while migrating.
    pub(super) migrate_lock: i64,
    /// Taken while running view schema statements.
    pub(super) view_lock: i64,
    /// The `LISTEN`/`NOTIFY` channel of feed commits.
    pub(super) channel: String,
    /// The `LISTEN`/`NOTIFY` channel of view row changes.
    pub(super) rows_channel: String,
}

impl Keys {
    /// The keys of the tables in `schema`.
    pub(super) fn for_schema(schema: &str) -> Keys {
        let key = |purpose: &str| fnv1a(format!("plinth:{purpose}:{schema}").as_bytes());
        Keys {
            feed_lock: key("feed") as i64,
            migrate_lock: key("migrate") as i64,
            view_lock: key("views") as i64,
            channel: format!("plinth_feed_{:016x}", key("channel")),
            rows_channel: format!("plinth_rows_{:016x}", key("rows")),
        }
    }
}

/// A stable 64-bit hash (FNV-1a): the same name gives the same key in every
/// process and every build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bring the schema up to date, in one transaction under the migration lock.
/// Returns the keys of the connection's current schema.
pub(super) async fn migrate(client: &mut Object) -> StorageResult<Keys> {
    let tx = client.transaction().await.map_err(pg)?;
    let schema: Option<String> = tx
        .query_one("SELECT current_schema()", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg)?;
    let schema = schema.ok_or_else(|| {
        StorageError::Backend(
            "no schema of the search_path exists, so there is nowhere to create tables".to_owned(),
        )
    })?;
    let keys = Keys::for_schema(&schema);
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&keys.migrate_lock])
        .await
        .map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS plinth_schema_version (
             singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
             version   INTEGER NOT NULL
         )",
    )
    .await
    .map_err(pg)?;
    let found: i32 = match tx
        .query_opt("SELECT version FROM plinth_schema_version", &[])
        .await
        .map_err(pg)?
    {
        Some(row) => row.try_get(0).map_err(pg)?,
        None => 0,
    };
    let applied = usize::try_from(found).map_err(|_| {
        StorageError::Backend(format!(
            "schema {schema} has an invalid schema version {found}"
        ))
    })?;
    if applied > MIGRATIONS.len() {
        return Err(StorageError::Backend(format!(
            "schema {schema} has schema version {found}, newer than the version \
             {SCHEMA_VERSION} this Plinth knows; use a newer Plinth"
        )));
    }
    if applied == MIGRATIONS.len() {
        // Nothing to change: ending the transaction releases the lock.
        tx.rollback().await.map_err(pg)?;
        return Ok(keys);
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(sql).await.map_err(|err| {
            StorageError::Backend(format!(
                "schema migration {} failed: {}",
                step + 1,
                super::error::describe(&err)
            ))
        })?;
    }
    tx.execute(
        "INSERT INTO plinth_schema_version (singleton, version) VALUES (TRUE, $1)
         ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version",
        &[&SCHEMA_VERSION],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_per_schema() {
        let public = Keys::for_schema("public");
        assert_eq!(public, Keys::for_schema("public"));
        let other = Keys::for_schema("tenant_a");
        assert_ne!(public.feed_lock, other.feed_lock);
        assert_ne!(public.channel, other.channel);
        assert_ne!(public.feed_lock, public.migrate_lock);
        assert_ne!(public.feed_lock, public.view_lock);
        assert!(public.channel.len() < 64, "a channel is an identifier");
        assert!(public.rows_channel.len() < 64, "a channel is an identifier");
        assert_ne!(public.rows_channel, public.channel);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
