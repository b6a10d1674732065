//! The hand-written reference service: the bench customer API written directly with axum, tonic
//! and rusqlite, the way a user would write it without Plinth.
//!
//! - [`store`]: SQLite (WAL, `synchronous=FULL`, one durable commit per write), either one
//!   writer connection behind a mutex used from `spawn_blocking`, or (`--batching`) a writer
//!   thread committing everything queued in one transaction (group commit).
//! - [`http`]: `POST|PUT /customers/{id}`, `GET /customers/{id}`, `POST /customers/{id}/events`.
//! - [`grpc`]: `bench.CustomerService` over tonic.

pub mod grpc;
pub mod http;
pub mod store;

pub use store::{CustomerRow, Store, StoreOptions};
