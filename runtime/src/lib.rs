//! Plinth: a proto-first service runtime.
//!
//! A service is described in `.proto` files annotated with Plinth's options;
//! `plinth-codegen` turns them into typed traits at build time. Users implement
//! the traits; this crate serves them over gRPC and HTTP/JSON and keeps their
//! state durable.
//!
//! - [`Effect`] / [`EventEffect`]: what entity command handlers return.
//! - [`Status`]: the error a handler returns to its caller.
//! - [`CommandContext`], [`ActionContext`], [`UpdateContext`]: what a handler knows
//!   about the call.
//! - [`workflow`]: workflows — [`WorkflowEffect`] from command handlers,
//!   [`WorkflowDefinition`] and [`Step`] for the steps.
//! - [`schedule::timers`]: timers from action and entity handlers; side
//!   effects are delivered through the same durable schedule ([`schedule`]).
//! - [`testkit`]: unit test kits for each component and a service test
//!   harness.
//! - [`include_protos!`]: pulls the generated code into a crate.

// Module docs name their private submodules for contributors; they resolve
// with `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

mod acl;
#[cfg(feature = "mimalloc")]
mod alloc;
pub mod auth;
pub mod clock;
pub mod codegen;
pub mod component;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod dispatcher;
pub mod effect;
pub mod eventing;
mod executor;
pub mod feed;
pub mod grpc;
pub mod http;
pub mod schedule;
mod server;
pub mod service;
pub mod status;
pub mod storage;
mod streaming_call;
mod telemetry;
pub mod testkit;
mod trace;
mod trigger;
pub mod view;
pub mod workflow;

pub use clock::{Clock, ManualClock, SystemClock};
pub use component::{Component, Registration};
pub use config::Config;
pub use context::{ActionContext, Caller, CommandContext, Metadata, Outbound, UpdateContext};
pub use effect::{DeferredCall, Effect, EventEffect, RowUpdate, StateChange};
pub use http::HttpBody;
pub use service::{RunningService, Service, ServiceError};
pub use status::{Code, Status};
pub use streaming_call::StreamingCall;
pub use workflow::{
    Recover, Step, Transition, WorkflowContext, WorkflowDefinition, WorkflowEffect,
};

/// A stream of replies of a server-streaming action method.
pub type ReplyStream<R> = codegen::ReplyStream<R>;

/// The requests of a client-streaming (or bidirectional) action method.
pub type RequestStream<R> = codegen::RequestStream<R>;

/// Include the code `plinth-codegen` generated in `build.rs`: one module per
/// proto package (`customer.api` becomes `customer::api`), holding the messages
/// and the generated traits and components.
///
/// In the crate's `lib.rs` (its `build.rs` runs `plinth-codegen`, which
/// writes the code into `OUT_DIR`):
///
/// ```text
/// plinth::include_protos!();
/// use customer::api::CustomerEntity;
/// ```
#[macro_export]
macro_rules! include_protos {
    () => {
        include!(concat!(env!("OUT_DIR"), "/plinth_generated.rs"));
    };
}
