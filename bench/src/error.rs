//! The crate's error type.

use std::path::PathBuf;

/// Everything that can stop a benchmark tool before or during a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target address is not a loopback address; benchmarks never leave this machine.
    #[error(
        "target `{0}` is not a loopback address: only 127.0.0.0/8, ::1 and localhost may be targeted"
    )]
    NotLoopback(String),
    /// The target URL could not be parsed.
    #[error("invalid target URL `{url}`: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A request template (path or body) is unusable.
    #[error("invalid request template for {what}: {reason}")]
    Template {
        /// Which template (e.g. `--write-body`).
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A gRPC method named by a template is not in the descriptor pool.
    #[error(
        "gRPC method `{0}` not found in the loaded protos (expected `/package.Service/Method`)"
    )]
    UnknownMethod(String),
    /// A `.proto` file given with `--proto` failed to compile.
    #[error("cannot compile protos: {0}")]
    Proto(String),
    /// A command-line setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    Config(String),
    /// Connecting to the target failed.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The target address.
        target: String,
        /// The underlying error.
        reason: String,
    },
    /// The store of the reference service failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The PostgreSQL store of the reference service failed.
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    /// A write of the reference service failed (its writer thread stopped, or the batch failed).
    #[error("write failed: {0}")]
    Write(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    File {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Any other I/O error (sockets, process spawning).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A JSON document could not be read or written.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The preparation phase (prefill) saw failed requests; measuring would be meaningless.
    #[error("prefill failed: {0}")]
    Prefill(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
