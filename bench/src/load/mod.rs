//! The `plinth-load` load generator.
//!
//! - [`config`]: command-line flags and their validation into a [`LoadConfig`].
//! - [`scenario`]: the workloads (which operation on which id) and their default request shapes.
//! - [`template`]: request templates with `{id}`/`{payload}` placeholders, rendered per request by
//!   splicing fixed-width ids into pre-encoded bytes (JSON or protobuf).
//! - [`client`]: one connection per slot over HTTP/1.1, h2c or gRPC (raw-bytes codec).
//! - [`runner`]: prefill, warm-up, closed-loop and open-loop execution, progress lines.
//! - [`report`]: HDR histograms merged into a [`Report`] (JSON and a table).

pub mod client;
pub mod codec;
pub mod config;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod template;

pub use config::{LoadArgs, LoadConfig, Mode, Transport};
pub use report::Report;
pub use runner::run;
pub use scenario::{Op, Scenario};
