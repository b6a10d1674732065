//! View tables in SQLite: schema statements and projection batches run on the
//! writer thread (a batch's rows and its applied sequence numbers share one
//! savepoint of the group-commit transaction), queries on the read pool.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use super::{backend, to_sql_int};
use crate::storage::view::{SqlValue, ViewBatch};
use crate::storage::{StorageError, StorageResult};

/// A value as SQLite binds it (arrays as JSON text, booleans as 0/1).
fn to_sql(value: &SqlValue) -> ToSqlOutput<'_> {
    match value {
        SqlValue::Null => ToSqlOutput::Owned(Value::Null),
        SqlValue::Integer(i) => ToSqlOutput::Owned(Value::Integer(*i)),
        SqlValue::Real(f) => ToSqlOutput::Owned(Value::Real(*f)),
        SqlValue::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        SqlValue::Array(_) => {
            ToSqlOutput::Owned(Value::Text(value.json_array_text().unwrap_or_default()))
        }
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, values: &[SqlValue]) -> StorageResult<()> {
    for (i, value) in values.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, to_sql(value))
            .map_err(backend)?;
    }
    Ok(())
}

/// Run schema statements.
pub(super) fn apply_schema(conn: &Connection, statements: &[String]) -> StorageResult<u64> {
    for sql in statements {
        conn.execute_batch(sql).map_err(|e| {
            StorageError::Backend(format!("view schema statement failed: {e}: {sql}"))
        })?;
    }
    Ok(0)
}

/// Apply one projection batch.
pub(super) fn apply_batch(conn: &Connection, batch: &ViewBatch) -> StorageResult<u64> {
    for write in &batch.writes {
        let mut stmt = conn.prepare_cached(&write.statement).map_err(backend)?;
        bind(&mut stmt, &write.params)?;
        stmt.raw_execute().map_err(backend)?;
    }
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO view_applied (consumer, type_id, entity_id, seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (consumer, type_id, entity_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        )
        .map_err(backend)?;
    for (type_id, entity_id, seq) in &batch.applied {
        stmt.execute(params![
            batch.consumer,
            type_id,
            entity_id,
            to_sql_int(*seq)?
        ])
        .map_err(backend)?;
    }
    Ok(batch.writes.len() as u64)
}

/// The highest sequence number the projection applied for the entity.
pub(super) fn applied_seq(
    conn: &mut Connection,
    consumer: &str,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Option<u64>> {
    let seq: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM view_applied WHERE consumer = ?1 AND type_id = ?2 AND entity_id = ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![consumer, type_id, entity_id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?;
    Ok(seq.map(|s| u64::try_from(s).unwrap_or_default()))
}

/// Whether the projection applied anything yet.
pub(super) fn has_applied(conn: &mut Connection, consumer: &str) -> StorageResult<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM view_applied WHERE consumer = ?1)")
        .and_then(|mut stmt| stmt.query_row(params![consumer], |row| row.get::<_, bool>(0)))
        .map_err(backend)
}

/// Run a view query; each row as `columns` values.
pub(super) fn query(
    conn: &mut Connection,
    sql: &str,
    values: &[SqlValue],
    columns: usize,
) -> StorageResult<Vec<Vec<SqlValue>>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match row.get_ref(i).map_err(backend)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(i) => SqlValue::Integer(i),
                ValueRef::Real(f) => SqlValue::Real(f),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        out.push(values);
    }
    Ok(out)
}
