//! What view projections and queries need from a storage backend: DDL, row
//! writes committed together with the per-entity sequence numbers they
//! applied, and parameterized reads.
//!
//! The statements come compiled from the generated code (see
//! `plinth_view_plan`); a backend only binds values and runs them.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::broadcast;

pub use plinth_view_plan::{Dialect, SqlValue};

use super::StorageResult;

/// One row statement (an upsert or a delete) with its bound values.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewWrite {
    /// The statement, in the backend's dialect.
    pub statement: std::sync::Arc<str>,
    /// Its parameters, in order.
    pub params: Vec<SqlValue>,
}

/// The writes of one projection batch and the last sequence number applied
/// per entity: the backend commits all of them in one transaction, so after a
/// crash a record is either applied with its sequence number or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewBatch {
    /// The projection (consumer) name the sequence numbers belong to.
    pub consumer: String,
    /// The row statements, in order.
    pub writes: Vec<ViewWrite>,
    /// `(type_id, entity_id, seq)`: the highest sequence applied per entity.
    pub applied: Vec<(String, String, u64)>,
    /// The rows the batch changes, announced to live queries (of every
    /// process, on a shared store) once the batch commits.
    pub changed: Vec<RowChange>,
}

/// A view row that changed (or was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    /// The table's SQL name.
    pub table: Arc<str>,
    /// The row key.
    pub key: Arc<str>,
}

/// A backend that can hold view tables.
pub trait ViewStore: Send + Sync {
    /// The SQL dialect the backend runs.
    fn dialect(&self) -> Dialect;

    /// Run schema statements (`CREATE TABLE/INDEX IF NOT EXISTS`) in one transaction.
    fn view_schema(&self, statements: Vec<String>) -> BoxFuture<'_, StorageResult<()>>;

    /// Apply a projection batch atomically.
    fn view_write(&self, batch: ViewBatch) -> BoxFuture<'_, StorageResult<()>>;

    /// The highest sequence number of the entity that projection `consumer` applied.
    fn view_applied_seq<'a>(
        &'a self,
        consumer: &'a str,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<u64>>>;

    /// Whether projection `consumer` ever applied a record (a new view has not).
    fn view_has_applied<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<bool>>;

    /// The row changes committed by every process writing this store,
    /// this one included, as they commit; `None` (the default) when only
    /// this process writes it, and its view engine announces its own.
    fn row_changes(&self) -> Option<broadcast::Receiver<RowChange>> {
        None
    }

    /// Run a query and return its rows, each as `columns` values (`NULL`,
    /// integers, reals, text and blobs as stored).
    fn view_query(
        &self,
        sql: std::sync::Arc<str>,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<Vec<SqlValue>>>>;
}
