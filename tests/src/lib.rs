//! End-to-end tests of Plinth services over real sockets live in `tests/`;
//! this crate holds what they share.
//!
//! - [`fixture`]: a service with hand-written components, served by the
//!   `plinth-fixture` binary for process-level (kill and restart) tests.
//! - [`eventing`]: a NATS server for topic tests, reading topics, waiting.
//! - [`process`]: starting a service binary as a child process on a free port.

pub mod eventing;
pub mod fixture;
pub mod process;
