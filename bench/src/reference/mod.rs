//! The hand-written reference service: the bench customer API written directly with axum, tonic
//! and rusqlite or tokio-postgres, the way a user would write it without Plinth.
//!
//! - [`store`]: SQLite (WAL, `synchronous=FULL`, one durable commit per write), either one
//!   writer connection behind a mutex used from `spawn_blocking`, or (`--batching`) a writer
//!   thread committing everything queued in one transaction (group commit).
//! - [`pg_store`]: PostgreSQL (`synchronous_commit=on`) over a deadpool-postgres pool, either one
//!   autocommit statement per write, or (`--batching`) a writer task committing everything queued
//!   as one multi-row upsert.
//! - [`backend`]: the one of the two the routes use.
//! - [`http`]: `POST|PUT /customers/{id}`, `GET /customers/{id}`, `POST /customers/{id}/events`.
//! - [`grpc`]: `bench.CustomerService` over tonic.

pub mod backend;
pub mod grpc;
pub mod http;
pub mod pg_store;
pub mod store;

pub use backend::Backend;
pub use pg_store::{PgOptions, PgStore};
pub use store::{CustomerRow, Store, StoreOptions};

/// A write of either store.
#[derive(Debug, Clone)]
enum WriteOp {
    Upsert(CustomerRow),
    Event {
        id: String,
        kind: String,
        payload: String,
    },
}

/// A write queued for a store's batching writer, with where its outcome goes.
struct Job {
    op: WriteOp,
    reply: tokio::sync::oneshot::Sender<Result<u64, String>>,
}
