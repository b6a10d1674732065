//! View tables in PostgreSQL: schema statements in one transaction under an
//! advisory lock (processes starting together would otherwise race on
//! `CREATE TABLE IF NOT EXISTS`), projection batches in one transaction each
//! (rows and applied sequence numbers commit together), queries with values
//! bound to the inferred parameter types (see [`super::values`]); and
//! [`PostgresStorage`]'s [`ViewStore`] implementation.
//!
//! A batch also notifies the rows it changed on the schema's rows channel,
//! in its own transaction: PostgreSQL delivers the notifications at commit
//! to every process's listener (see [`super::feed`]), so a live query
//! served by any process sees the rows changed by a projection running in
//! another one.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Object;
use futures::future::BoxFuture;
use tokio_postgres::types::ToSql;

use super::PostgresStorage;
use super::error::{describe, pg, to_bigint, unsigned};
use super::pipeline::in_order;
use super::values::{Cell, Param};
use crate::storage::view::{Dialect, RowChange, SqlValue, ViewBatch, ViewStore};
use crate::storage::{StorageError, StorageResult};

/// The applied sequence numbers of a batch, one row per entity; a sequence
/// number never goes back.
const APPLIED: &str = "
INSERT INTO plinth_view_applied (consumer, type_id, entity_id, seq)
SELECT $1::text, a.type_id, a.entity_id, MAX(a.seq)
FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(type_id, entity_id, seq)
GROUP BY a.type_id, a.entity_id
ON CONFLICT (consumer, type_id, entity_id) DO UPDATE
SET seq = GREATEST(plinth_view_applied.seq, EXCLUDED.seq)";

/// Announce changed rows to every process's listener, at commit.
const NOTIFY_ROWS: &str = "SELECT pg_notify($1::text, p) FROM unnest($2::text[]) AS p";

/// The separator of a row notification's table and key (not in SQL names).
pub(super) const ROW_SEPARATOR: char = '\u{1f}';

/// The longest notification payload PostgreSQL takes is 8000 bytes; a longer
/// key is not announced (live queries miss that row's change).
const MAX_PAYLOAD: usize = 7999;

const APPLIED_SEQ: &str = "
SELECT seq FROM plinth_view_applied
WHERE consumer = $1::text AND type_id = $2::text AND entity_id = $3::text";

const HAS_APPLIED: &str =
    "SELECT EXISTS (SELECT 1 FROM plinth_view_applied WHERE consumer = $1::text)";

/// Run schema statements in one transaction, one process at a time.
pub(super) async fn apply_schema(
    client: &mut Object,
    lock: i64,
    statements: &[String],
) -> StorageResult<()> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&lock])
        .await
        .map_err(pg)?;
    // `IF NOT EXISTS` on existing tables is the common case, not news for the log.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(pg)?;
    for sql in statements {
        tx.batch_execute(sql).await.map_err(|err| {
            let failed = pg(err);
            match failed {
                StorageError::Backend(message) => {
                    StorageError::Backend(format!("view schema statement failed: {message}: {sql}"))
                }
                other => other,
            }
        })?;
    }
    tx.commit().await.map_err(pg)
}

/// Apply one projection batch atomically: its row statements in order
/// (pipelined), then its applied sequence numbers.
pub(super) async fn apply_batch(
    client: &mut Object,
    batch: &ViewBatch,
    rows_channel: &str,
) -> StorageResult<()> {
    let mut type_ids = Vec::with_capacity(batch.applied.len());
    let mut entity_ids = Vec::with_capacity(batch.applied.len());
    let mut seqs = Vec::with_capacity(batch.applied.len());
    for (type_id, entity_id, seq) in &batch.applied {
        type_ids.push(type_id.as_str());
        entity_ids.push(entity_id.as_str());
        seqs.push(to_bigint(*seq)?);
    }
    // Prepared first (once per connection and statement), so that the
    // executions below can all go out at once, in order.
    let mut prepared: HashMap<&str, tokio_postgres::Statement> = HashMap::new();
    for write in &batch.writes {
        if !prepared.contains_key(&*write.statement) {
            let statement = client
                .prepare_cached(&write.statement)
                .await
                .map_err(|err| statement_error(err, &write.statement))?;
            prepared.insert(&*write.statement, statement);
        }
    }
    let applied = client.prepare_cached(APPLIED).await.map_err(pg)?;
    let notify = client.prepare_cached(NOTIFY_ROWS).await.map_err(pg)?;
    let payloads: Vec<String> = batch
        .changed
        .iter()
        .map(|change| format!("{}{ROW_SEPARATOR}{}", change.table, change.key))
        .filter(|payload| {
            let fits = payload.len() <= MAX_PAYLOAD;
            if !fits {
                tracing::warn!("a view row key is too long to announce to live queries");
            }
            fits
        })
        .collect();
    let notify_params: [&(dyn ToSql + Sync); 2] = [&rows_channel, &payloads];
    let tx = client.transaction().await.map_err(pg)?;
    let params: Vec<Vec<Param<'_>>> = batch
        .writes
        .iter()
        .map(|write| write.params.iter().map(Param).collect())
        .collect();
    let refs: Vec<Vec<&(dyn ToSql + Sync)>> = params
        .iter()
        .map(|values| values.iter().map(|v| v as &(dyn ToSql + Sync)).collect())
        .collect();
    let consumer = batch.consumer.as_str();
    let applied_params: [&(dyn ToSql + Sync); 4] = [&consumer, &type_ids, &entity_ids, &seqs];
    // The row statements in order, then the applied sequence numbers.
    let mut requests: Vec<BoxFuture<'_, StorageResult<u64>>> =
        Vec::with_capacity(batch.writes.len() + 1);
    for (write, values) in batch.writes.iter().zip(&refs) {
        let statement = prepared.get(&*write.statement);
        let tx = &tx;
        requests.push(Box::pin(async move {
            match statement {
                Some(statement) => tx
                    .execute(statement, values)
                    .await
                    .map_err(|err| statement_error(err, &write.statement)),
                None => Err(StorageError::Backend(
                    "a view statement was not prepared".to_owned(),
                )),
            }
        }));
    }
    requests.push(Box::pin(async {
        tx.execute(&applied, &applied_params).await.map_err(pg)
    }));
    let expected = batch.writes.len() + 1 + usize::from(!payloads.is_empty());
    if !payloads.is_empty() {
        requests.push(Box::pin(async {
            tx.execute(&notify, &notify_params).await.map_err(pg)
        }));
    }
    let results = in_order(requests).await;
    if results.len() != expected {
        return Err(StorageError::Backend(
            "the view batch lost a result".to_owned(),
        ));
    }
    // The first failure is the cause; later statements failed because of it.
    for result in results {
        result?;
    }
    tx.commit().await.map_err(pg)
}

/// A failed view statement, with its text.
fn statement_error(err: tokio_postgres::Error, sql: &str) -> StorageError {
    match pg(err) {
        StorageError::Backend(message) => {
            StorageError::Backend(format!("view statement failed: {message}: {sql}"))
        }
        other => other,
    }
}

/// The highest sequence number the projection applied for the entity.
pub(super) async fn applied_seq(
    client: &Object,
    consumer: &str,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Option<u64>> {
    let statement = client.prepare_cached(APPLIED_SEQ).await.map_err(pg)?;
    let row = client
        .query_opt(&statement, &[&consumer, &type_id, &entity_id])
        .await
        .map_err(pg)?;
    row.map(|row| row.try_get::<_, i64>(0).map(unsigned).map_err(pg))
        .transpose()
}

/// Whether the projection applied anything yet.
pub(super) async fn has_applied(client: &Object, consumer: &str) -> StorageResult<bool> {
    let statement = client.prepare_cached(HAS_APPLIED).await.map_err(pg)?;
    client
        .query_one(&statement, &[&consumer])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg)
}

/// Run a view query; each row as `columns` values.
pub(super) async fn query(
    client: &Object,
    sql: Arc<str>,
    values: &[SqlValue],
    columns: usize,
) -> StorageResult<Vec<Vec<SqlValue>>> {
    let statement = client
        .prepare_cached(&sql)
        .await
        .map_err(|err| statement_error(err, &sql))?;
    let params: Vec<Param<'_>> = values.iter().map(Param).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let rows = client
        .query(&statement, &refs)
        .await
        .map_err(|err| statement_error(err, &sql))?;
    rows.iter()
        .map(|row| {
            (0..columns)
                .map(|i| {
                    row.try_get::<_, Cell>(i).map(|cell| cell.0).map_err(|err| {
                        StorageError::Backend(format!(
                            "view query column {i}: {}: {sql}",
                            describe(&err)
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

impl ViewStore for PostgresStorage {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn view_schema(&self, statements: Vec<String>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            apply_schema(&mut client, self.keys.view_lock, &statements).await
        })
    }

    fn view_write(&self, batch: ViewBatch) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move {
            apply_batch(&mut self.client().await?, &batch, &self.keys.rows_channel).await
        })
    }

    fn row_changes(&self) -> Option<tokio::sync::broadcast::Receiver<RowChange>> {
        Some(self.rows.subscribe())
    }

    fn view_applied_seq<'a>(
        &'a self,
        consumer: &'a str,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<u64>>> {
        Box::pin(
            async move { applied_seq(&self.client().await?, consumer, type_id, entity_id).await },
        )
    }

    fn view_has_applied<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<bool>> {
        Box::pin(async move { has_applied(&self.client().await?, consumer).await })
    }

    fn view_query(
        &self,
        sql: Arc<str>,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<Vec<SqlValue>>>> {
        Box::pin(async move { query(&self.client().await?, sql, &params, columns).await })
    }
}
