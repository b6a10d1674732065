//! A NATS server with JetStream on a free loopback port, for topic tests: the
//! end-to-end tests' own, one file for both.

#![allow(dead_code)]

#[path = "../../../tests/src/nats.rs"]
mod nats;

pub use nats::NatsServer;
