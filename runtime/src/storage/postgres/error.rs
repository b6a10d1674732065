//! PostgreSQL and pool failures as storage errors: a lost or refused
//! connection (or a server shutting down or starting up) is
//! [`StorageError::Transient`], anything else [`StorageError::Backend`].

use deadpool_postgres::PoolError;

use crate::storage::{StorageError, StorageResult};

/// Whether `err` means the server is unreachable for now: the connection
/// closed or failed, the server is shutting down, starting up or out of
/// connections. Retrying later may succeed.
pub(super) fn is_transient(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    if let Some(code) = err.code() {
        let code = code.code();
        // Class 08: connection exceptions; 57P01..57P04: admin/crash
        // shutdown, cannot connect now, database dropped; 53300: too many
        // connections.
        return code.starts_with("08") || code.starts_with("57P") || code == "53300";
    }
    // Errors without a server response: a socket error, a connect timeout.
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The error's text with its cause (tokio-postgres prints only its kind).
pub(super) fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    match std::error::Error::source(err) {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

/// A PostgreSQL failure as a storage error.
pub(super) fn pg(err: tokio_postgres::Error) -> StorageError {
    if is_transient(&err) {
        StorageError::Transient(format!("PostgreSQL unreachable: {}", describe(&err)))
    } else {
        StorageError::Backend(describe(&err))
    }
}

/// A failure to get a pooled connection as a storage error.
pub(super) fn pool(err: PoolError) -> StorageError {
    match err {
        err @ PoolError::Timeout(_) => {
            StorageError::Transient(format!("no PostgreSQL connection in time: {err}"))
        }
        PoolError::Backend(err) => pg(err),
        PoolError::Closed => StorageError::Closed,
        err @ (PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_)) => {
            StorageError::Backend(err.to_string())
        }
    }
}

/// Why a whole write batch failed; every write in it gets the same error.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    /// The connection was lost or could not be had: retry later.
    Transient(String),
    /// The storage was closed.
    Closed,
    /// Anything else.
    Backend(String),
}

impl Failure {
    /// The failure as the error each write of the batch gets.
    pub(super) fn to_error(&self) -> StorageError {
        match self {
            Failure::Transient(message) => StorageError::Transient(message.clone()),
            Failure::Closed => StorageError::Closed,
            Failure::Backend(message) => StorageError::Backend(message.clone()),
        }
    }
}

impl From<StorageError> for Failure {
    fn from(err: StorageError) -> Failure {
        match err {
            StorageError::Transient(message) => Failure::Transient(message),
            StorageError::Closed => Failure::Closed,
            other => Failure::Backend(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Failure {
        pg(err).into()
    }
}

/// A sequence number or offset as PostgreSQL's `BIGINT`.
pub(super) fn to_bigint(value: u64) -> StorageResult<i64> {
    i64::try_from(value)
        .map_err(|_| StorageError::Backend(format!("{value} exceeds the largest storable number")))
}

/// A stored `BIGINT` as the unsigned number it was written as.
pub(super) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}
