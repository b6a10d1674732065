//! Leases: a named lease is held by one holder until it expires or is
//! released. Expiry is by the storage's clock ([`super::SqliteOptions::clock`]),
//! which every holder of an SQLite file shares (the file is served by one
//! process at a time).

use std::time::Duration;

use rusqlite::{Connection, params};

use super::{backend, to_sql_int};
use crate::clock::{Clock, unix_millis};
use crate::storage::StorageResult;

/// A lease to take or renew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The lease.
    pub(crate) name: String,
    /// Who takes it.
    pub(crate) holder: String,
    /// How long from now it lasts.
    pub(crate) ttl: Duration,
}

/// Take the lease if it is free, expired or already `holder`'s; 1 when held
/// afterwards, 0 when another holder's lease is still live.
pub(super) fn claim(conn: &Connection, claim: &Claim, clock: &dyn Clock) -> StorageResult<u64> {
    let now = unix_millis(clock);
    let ttl = to_sql_int(u64::try_from(claim.ttl.as_millis()).unwrap_or(u64::MAX))?;
    let changed = conn
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?3 + ?4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
             WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?3",
        )
        .and_then(|mut stmt| stmt.execute(params![claim.name, claim.holder, now, ttl]))
        .map_err(backend)?;
    Ok(u64::from(changed > 0))
}

/// Drop the lease if `holder` holds it.
pub(super) fn release(conn: &Connection, name: &str, holder: &str) -> StorageResult<u64> {
    conn.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
        .and_then(|mut stmt| stmt.execute(params![name, holder]))
        .map_err(backend)?;
    Ok(0)
}

/// How many live leases have a name starting with `prefix`.
pub(super) fn count(conn: &Connection, prefix: &str, clock: &dyn Clock) -> StorageResult<u64> {
    let now = unix_millis(clock);
    conn.prepare_cached(
        "SELECT count(*) FROM leases WHERE substr(name, 1, length(?1)) = ?1 AND expires_ms > ?2",
    )
    .and_then(|mut stmt| stmt.query_row(params![prefix, now], |row| row.get::<_, i64>(0)))
    .map(|count| u64::try_from(count).unwrap_or(0))
    .map_err(backend)
}
