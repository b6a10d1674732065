//! Why a service could not start, or stopped abnormally.

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::dispatcher::DispatcherError;
use crate::grpc::GrpcError;

/// The result type of starting and running a service.
pub type ServiceResult<T> = std::result::Result<T, ServiceError>;

/// Why a service could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The registered components cannot be served together.
    #[error(transparent)]
    Components(#[from] DispatcherError),
    /// The storage could not be opened.
    #[error("cannot open storage {target}: {message}")]
    Storage {
        /// What was being opened.
        target: String,
        /// Why it failed.
        message: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gRPC front door could not be built.
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    /// TLS could not be set up from the configured files.
    #[error(transparent)]
    Tls(#[from] crate::server::TlsError),
    /// The HTTP/JSON front door could not be built.
    #[error("cannot build the HTTP routes: {0}")]
    Http(String),
    /// A workflow's definition cannot run (a step defined twice, a failover
    /// step that does not exist, a failover input of the wrong type).
    #[error("{0}")]
    Workflow(String),
    /// A view could not be set up.
    #[error(transparent)]
    View(#[from] crate::view::ViewError),
    /// Subscriptions or the topic backend could not start.
    #[error(transparent)]
    Eventing(#[from] crate::eventing::EventingError),
    /// The embedded local topic log was asked for with a storage several
    /// processes share: each process would publish to a log of its own.
    #[error(
        "topics: the local topic log is per process and {storage} is shared by several; \
         set PLINTH_TOPICS to nats://host:port (or to one SQLite file all processes on \
         this machine share)"
    )]
    LocalTopicsOnSharedStorage {
        /// The storage, without its password.
        storage: String,
    },
    /// Waiting for a shutdown signal failed.
    #[error("cannot listen for shutdown signals: {0}")]
    Signal(std::io::Error),
    /// Bearer-token validation cannot be set up: a key does not load, or a
    /// method requires tokens no configured key could check.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}
