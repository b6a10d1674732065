//! End-to-end tests of Plinth services over real sockets live in `tests/`;
//! this crate holds what they share.
//!
//! - [`fixture`]: a service with hand-written components, served by the
//!   `plinth-fixture` binary for process-level (kill and restart) tests.
//! - [`flow`]: a generated workflow whose steps fail, sleep and pause on
//!   request.
//! - [`customers`]: creating and watching the customer registry's customers.
//! - [`direct`]: a shop producing a direct event stream and a catalog reading it.
//! - [`eventing`]: reading topics and waiting, for the eventing tests.
//! - [`grpc`]: a gRPC client calling methods by path.
//! - [`kinds`]: a generated action echoing a message with every kind of field.
//! - [`nats`]: a NATS JetStream server on a free loopback port.
//! - [`postgres`]: a fresh database on the test PostgreSQL server.
//! - [`process`]: starting a service binary as a child process on a free port.
//! - [`numbers`]: a generated action taking request streams.
//! - [`orders`]: a generated view fed by a topic.
//! - [`relay`]: a generated action calling an entity, publishing JSON and
//!   setting timers, for the test kits' own tests.
//! - [`web`]: a generated action serving and taking raw HTTP bodies.
//! - [`views`]: waiting for views, and their status endpoint.

pub mod customers;

/// The code generated from `protos/` (see `build.rs`).
mod generated {
    plinth::include_protos!();
}

pub mod direct;
pub mod eventing;
pub mod fixture;
pub mod flow;
pub mod grpc;
pub mod kinds;
pub mod nats;
pub mod numbers;
pub mod orders;
pub mod postgres;
pub mod process;
pub mod relay;
pub mod views;
pub mod web;
