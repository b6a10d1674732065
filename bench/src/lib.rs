//! Benchmark tooling for Plinth.
//!
//! - [`load`]: the `plinth-load` load generator (HTTP/1.1, h2c and gRPC; closed and open loop;
//!   HDR histograms; JSON results).
//! - [`reference`](mod@reference): the hand-written customer service (axum + tonic + rusqlite or tokio-postgres)
//!   that Plinth's throughput is compared against.
//! - [`echo`]: the same API with no storage at all, the ceiling of the RPC layer on this machine.
//! - [`discard`]: a topic backend that keeps nothing.
//! - [`probe`]: readiness probes (one request that the server answered) and cold-start timing.
//! - [`summary`]: medians and ratios over a directory of `plinth-load` JSON results.
//! - [`serve`]: binding loopback listeners and serving HTTP and gRPC until a signal.
//! - [`target`]: parsing of target addresses; only loopback addresses are accepted.
//! - [`proto`]: the bench proto's generated types and its encoded descriptor set.

pub mod discard;
pub mod echo;
pub mod error;
pub mod load;
pub mod probe;
pub mod proto;
pub mod reference;
pub mod serve;
pub mod summary;
pub mod target;

pub use error::{Error, Result};
