//! Consumer offsets and leases, each one statement on a pooled connection.
//!
//! Lease expiry is by the database server's clock (`clock_timestamp()`), the
//! one clock every process sharing the database agrees on.

use std::time::Duration;

use super::error::{pg, to_bigint, unsigned};
use crate::storage::StorageResult;

const LOAD_OFFSET: &str = "SELECT position FROM plinth_offsets WHERE consumer = $1::text";

/// An offset never moves back.
const STORE_OFFSET: &str = "
INSERT INTO plinth_offsets (consumer, position) VALUES ($1::text, $2::bigint)
ON CONFLICT (consumer) DO UPDATE
SET position = GREATEST(plinth_offsets.position, EXCLUDED.position)";

/// Take the lease if it is free, expired or already the holder's; a row comes
/// back only when the holder holds it afterwards.
const CLAIM: &str = "
INSERT INTO plinth_leases (name, holder, expires_at)
VALUES ($1::text, $2::text, clock_timestamp() + $3::bigint * INTERVAL '1 microsecond')
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE plinth_leases.holder = EXCLUDED.holder OR plinth_leases.expires_at <= clock_timestamp()
RETURNING 1";

const COUNT: &str = "
SELECT count(*) FROM plinth_leases
WHERE left(name, length($1::text)) = $1::text AND expires_at > clock_timestamp()";

const RELEASE: &str = "DELETE FROM plinth_leases WHERE name = $1::text AND holder = $2::text";

/// The longest lease, so that its expiry stays a valid timestamp.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A consumer's stored offset (0 when none).
pub(super) async fn load_offset(
    client: &deadpool_postgres::Object,
    consumer: &str,
) -> StorageResult<u64> {
    let statement = client.prepare_cached(LOAD_OFFSET).await.map_err(pg)?;
    match client
        .query_opt(&statement, &[&consumer])
        .await
        .map_err(pg)?
    {
        Some(row) => Ok(unsigned(row.try_get(0).map_err(pg)?)),
        None => Ok(0),
    }
}

/// Store a consumer's offset, keeping a higher stored one.
pub(super) async fn store_offset(
    client: &deadpool_postgres::Object,
    consumer: &str,
    offset: u64,
) -> StorageResult<()> {
    let position = to_bigint(offset)?;
    let statement = client.prepare_cached(STORE_OFFSET).await.map_err(pg)?;
    client
        .execute(&statement, &[&consumer, &position])
        .await
        .map(drop)
        .map_err(pg)
}

/// Take or renew the lease; whether `holder` holds it afterwards.
pub(super) async fn claim(
    client: &deadpool_postgres::Object,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> StorageResult<bool> {
    let micros = i64::try_from(ttl.min(MAX_TTL).as_micros()).unwrap_or(i64::MAX);
    let statement = client.prepare_cached(CLAIM).await.map_err(pg)?;
    let held = client
        .query_opt(&statement, &[&name, &holder, &micros])
        .await
        .map_err(pg)?;
    Ok(held.is_some())
}

/// Drop the lease if `holder` holds it.
pub(super) async fn release(
    client: &deadpool_postgres::Object,
    name: &str,
    holder: &str,
) -> StorageResult<()> {
    let statement = client.prepare_cached(RELEASE).await.map_err(pg)?;
    client
        .execute(&statement, &[&name, &holder])
        .await
        .map(drop)
        .map_err(pg)
}

/// How many live leases have a name starting with `prefix`.
pub(super) async fn count(client: &deadpool_postgres::Object, prefix: &str) -> StorageResult<u64> {
    let statement = client.prepare_cached(COUNT).await.map_err(pg)?;
    let row = client.query_one(&statement, &[&prefix]).await.map_err(pg)?;
    Ok(unsigned(row.try_get(0).map_err(pg)?))
}
