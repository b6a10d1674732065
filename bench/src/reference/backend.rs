//! The store behind the reference service's routes: SQLite ([`Store`]) or PostgreSQL
//! ([`PgStore`]), chosen at start (`--db FILE` or `--pg URL`).

use std::sync::Arc;

use super::pg_store::PgStore;
use super::store::{CustomerRow, Store};
use crate::Result;

/// One of the reference service's stores; cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite in WAL mode, `synchronous=FULL`.
    Sqlite(Arc<Store>),
    /// PostgreSQL, `synchronous_commit=on`.
    Postgres(Arc<PgStore>),
}

impl From<Arc<Store>> for Backend {
    fn from(store: Arc<Store>) -> Self {
        Backend::Sqlite(store)
    }
}

impl From<Arc<PgStore>> for Backend {
    fn from(store: Arc<PgStore>) -> Self {
        Backend::Postgres(store)
    }
}

impl Backend {
    /// Creates or replaces a customer; returns once the write is durable.
    pub async fn upsert(&self, customer: CustomerRow) -> Result<()> {
        match self {
            Backend::Sqlite(store) => store.upsert(customer).await,
            Backend::Postgres(store) => store.upsert(customer).await,
        }
    }

    /// Reads a customer.
    pub async fn get(&self, id: String) -> Result<Option<CustomerRow>> {
        match self {
            Backend::Sqlite(store) => store.get(id).await,
            Backend::Postgres(store) => store.get(id).await,
        }
    }

    /// Appends an event to the customer's journal; returns its sequence number once durable.
    pub async fn record_event(&self, id: String, kind: String, payload: String) -> Result<u64> {
        match self {
            Backend::Sqlite(store) => store.record_event(id, kind, payload).await,
            Backend::Postgres(store) => store.record_event(id, kind, payload).await,
        }
    }
}
