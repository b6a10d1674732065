//! The schedule (outbox entries and timers) in `plinth_scheduled`.
//!
//! Due times are the database server's clock (`clock_timestamp()`), which
//! every process agrees on. A claim is one statement that takes due rows
//! with `FOR UPDATE SKIP LOCKED` and moves their due time past the claim's
//! hold, so two processes claiming at once take different rows.
//!
//! Schedule changes committed with an entity write travel inside that
//! write's statement (see [`cte`]): they apply only if its fence held, in the
//! same transaction, with no extra round trip. Changes are normalized first
//! ([`Params::of`]): the last change to a timer name wins, so one statement
//! never touches a row twice.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use tokio_postgres::Row;

use super::error::pg;
use crate::storage::{Claim, DueCall, ScheduleOp, ScheduledCall, StorageResult};

/// The schedule part of a statement: puts and cancels applied only when the
/// relation `applied` has a row, with parameters from `$first`. Parameters:
/// keys, names, lanes, paths, payloads, delays in ms, max retries (NULL:
/// unlimited), cancelled names, trace contexts.
pub(super) fn cte(applied: &str, first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "sp AS (
    INSERT INTO plinth_scheduled (key, name, lane, path, payload, due_at, max_retries, trace)
    SELECT c.key, c.name, c.lane, c.path, c.payload,
           clock_timestamp() + c.delay * INTERVAL '1 millisecond', c.max_retries, c.trace
    FROM (SELECT 1 FROM {applied} LIMIT 1) AS a,
         unnest({k}::text[], {n}::text[], {l}::text[], {pa}::text[], {pl}::bytea[], {d}::bigint[], {m}::integer[], {t}::text[])
             WITH ORDINALITY AS c(key, name, lane, path, payload, delay, max_retries, trace, ord)
    ORDER BY c.ord
    ON CONFLICT (name) DO UPDATE SET key = EXCLUDED.key, lane = EXCLUDED.lane,
        path = EXCLUDED.path, payload = EXCLUDED.payload, due_at = EXCLUDED.due_at,
        attempts = 0, max_retries = EXCLUDED.max_retries, last_error = NULL,
        trace = EXCLUDED.trace
), sc AS (
    DELETE FROM plinth_scheduled
    WHERE name = ANY({c}::text[]) AND EXISTS (SELECT 1 FROM {applied})
)",
        k = p(0),
        n = p(1),
        l = p(2),
        pa = p(3),
        pl = p(4),
        d = p(5),
        m = p(6),
        c = p(7),
        t = p(8),
    )
}

/// The schedule changes on their own, in their own transaction.
static STANDALONE: LazyLock<String> =
    LazyLock::new(|| format!("WITH one AS (SELECT 1), {} SELECT 1", cte("one", 1)));

/// Schedule changes as statement parameters.
#[derive(Debug, Default)]
pub(super) struct Params<'a> {
    keys: Vec<&'a str>,
    names: Vec<Option<&'a str>>,
    lanes: Vec<&'a str>,
    paths: Vec<&'a str>,
    payloads: Vec<&'a [u8]>,
    delays: Vec<i64>,
    max_retries: Vec<Option<i32>>,
    cancels: Vec<&'a str>,
    traces: Vec<Option<&'a str>>,
}

impl<'a> Params<'a> {
    /// The changes, normalized: for each timer name only its last change
    /// counts; outbox entries keep their order.
    pub(super) fn of(ops: &'a [ScheduleOp]) -> Params<'a> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (at, op) in ops.iter().enumerate() {
            match op {
                ScheduleOp::Put(ScheduledCall {
                    name: Some(name), ..
                }) => {
                    last.insert(name, at);
                }
                ScheduleOp::Cancel(name) => {
                    last.insert(name, at);
                }
                ScheduleOp::Put(_) => {}
            }
        }
        let mut params = Params::default();
        for (at, op) in ops.iter().enumerate() {
            match op {
                ScheduleOp::Put(call) => {
                    if call.name.as_deref().is_some_and(|name| last[name] != at) {
                        continue;
                    }
                    params.keys.push(&call.key);
                    params.names.push(call.name.as_deref());
                    params.lanes.push(&call.lane);
                    params.paths.push(&call.path);
                    params.payloads.push(call.payload.as_ref());
                    params
                        .delays
                        .push(i64::try_from(call.delay.as_millis()).unwrap_or(i64::MAX));
                    params.max_retries.push(
                        call.max_retries
                            .map(|retries| i32::try_from(retries).unwrap_or(i32::MAX)),
                    );
                    params.traces.push(call.trace.as_deref());
                }
                ScheduleOp::Cancel(name) => {
                    if last[name.as_str()] == at {
                        params.cancels.push(name);
                    }
                }
            }
        }
        params
    }

    /// The parameters in the order of [`cte`].
    pub(super) fn refs(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 9] {
        [
            &self.keys,
            &self.names,
            &self.lanes,
            &self.paths,
            &self.payloads,
            &self.delays,
            &self.max_retries,
            &self.cancels,
            &self.traces,
        ]
    }
}

/// Apply schedule changes on their own.
pub(super) async fn apply(
    client: &deadpool_postgres::Object,
    ops: &[ScheduleOp],
) -> StorageResult<()> {
    let statement = client.prepare_cached(&STANDALONE).await.map_err(pg)?;
    let params = Params::of(ops);
    client
        .execute(&statement, &params.refs())
        .await
        .map(drop)
        .map_err(pg)
}

const COLUMNS: &str = "key, name, lane, path, payload, attempts, max_retries, last_error,
    (EXTRACT(EPOCH FROM (due_at - clock_timestamp())) * 1000)::bigint, trace";

/// The columns of a claimed call: its due time from before the claim, in
/// whole milliseconds rounded up (waiting that long is never early).
const CLAIMED: &str = "key, name, lane, path, payload, attempts, max_retries, last_error,
    CEIL(EXTRACT(EPOCH FROM (was_due - clock_timestamp())) * 1000)::bigint, trace";

fn due_call(row: &Row) -> Result<DueCall, tokio_postgres::Error> {
    let attempts: i32 = row.try_get(5)?;
    let max_retries: Option<i32> = row.try_get(6)?;
    let payload: Vec<u8> = row.try_get(4)?;
    Ok(DueCall {
        key: row.try_get(0)?,
        name: row.try_get(1)?,
        lane: row.try_get(2)?,
        path: row.try_get(3)?,
        payload: Bytes::from(payload),
        attempts: u32::try_from(attempts).unwrap_or(0),
        max_retries: max_retries.map(|retries| u32::try_from(retries).unwrap_or(0)),
        last_error: row.try_get(7)?,
        due_in_ms: row.try_get(8)?,
        trace: row.try_get(9)?,
    })
}

/// Claim due calls. `claim.orphans` is ignored: other processes' claims are
/// live until they lapse.
pub(super) async fn claim(
    client: &deadpool_postgres::Object,
    claim: Claim,
) -> StorageResult<Vec<DueCall>> {
    let sql = format!(
        "WITH due AS (
             SELECT seq, due_at AS was_due FROM plinth_scheduled
             WHERE due_at <= clock_timestamp() + $3::bigint * INTERVAL '1 millisecond'
             ORDER BY seq LIMIT $1::bigint FOR UPDATE SKIP LOCKED
         ), taken AS (
             UPDATE plinth_scheduled s
             SET due_at = clock_timestamp() + $2::bigint * INTERVAL '1 millisecond'
             FROM due WHERE s.seq = due.seq
             RETURNING s.*, due.was_due
         )
         SELECT {CLAIMED}, seq FROM taken ORDER BY seq"
    );
    let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
    let hold = i64::try_from(claim.hold.as_millis()).unwrap_or(i64::MAX);
    let ahead = i64::try_from(claim.ahead.as_millis()).unwrap_or(i64::MAX);
    let statement = client.prepare_cached(&sql).await.map_err(pg)?;
    let rows = client
        .query(&statement, &[&limit, &hold, &ahead])
        .await
        .map_err(pg)?;
    rows.iter()
        .map(due_call)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pg)
}

/// Record a failed attempt; whether the call is still stored.
pub(super) async fn retry(
    client: &deadpool_postgres::Object,
    key: &str,
    attempts: u32,
    error: &str,
    delay: Duration,
) -> StorageResult<bool> {
    let statement = client
        .prepare_cached(
            "UPDATE plinth_scheduled SET attempts = $2::integer, last_error = $3::text,
                 due_at = clock_timestamp() + $4::bigint * INTERVAL '1 millisecond'
             WHERE key = $1::text",
        )
        .await
        .map_err(pg)?;
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    client
        .execute(&statement, &[&key, &attempts, &error, &delay])
        .await
        .map(|changed| changed > 0)
        .map_err(pg)
}

/// Remove calls by key.
pub(super) async fn complete(
    client: &deadpool_postgres::Object,
    keys: &[String],
) -> StorageResult<()> {
    let statement = client
        .prepare_cached("DELETE FROM plinth_scheduled WHERE key = ANY($1::text[])")
        .await
        .map_err(pg)?;
    client
        .execute(&statement, &[&keys])
        .await
        .map(drop)
        .map_err(pg)
}

/// How long until the earliest call is due.
pub(super) async fn next_due(
    client: &deadpool_postgres::Object,
) -> StorageResult<Option<Duration>> {
    let statement = client
        .prepare_cached(
            "SELECT (EXTRACT(EPOCH FROM (MIN(due_at) - clock_timestamp())) * 1000)::bigint
             FROM plinth_scheduled",
        )
        .await
        .map_err(pg)?;
    let row = client.query_one(&statement, &[]).await.map_err(pg)?;
    let due: Option<i64> = row.try_get(0).map_err(pg)?;
    Ok(due.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
}

/// Stored calls, earliest due first.
pub(super) async fn list(
    client: &deadpool_postgres::Object,
    limit: usize,
) -> StorageResult<Vec<DueCall>> {
    let sql =
        format!("SELECT {COLUMNS} FROM plinth_scheduled ORDER BY due_at, seq LIMIT $1::bigint");
    let statement = client.prepare_cached(&sql).await.map_err(pg)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client.query(&statement, &[&limit]).await.map_err(pg)?;
    rows.iter()
        .map(due_call)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pg)
}
