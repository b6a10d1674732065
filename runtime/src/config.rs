//! Service configuration: defaults, an optional `plinth.yaml`, and `PLINTH_*`
//! environment overrides, in that order. A bad value stops startup with an error
//! naming the key.
//!
//! Span export reads the standard OpenTelemetry variables too:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (overridden by `PLINTH_OTLP_ENDPOINT`;
//! file key `otlp_endpoint`) and `OTEL_SERVICE_NAME` (file key
//! `service_name`); see [`Config::otlp_endpoint`] and `docs/tracing.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod front_door;
mod telemetry;

pub use front_door::{AdminAccess, TlsConfig};

/// The result type of configuration loading.
pub type ConfigResult<T> = std::result::Result<T, ConfigError>;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid YAML for the known keys.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its location.
        message: String,
    },
    /// A value (from the file or the environment) is not valid for its key.
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        /// The key (`PLINTH_ADDR`, or the file key such as `max_concurrency`).
        key: String,
        /// The rejected value.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
}

pub use crate::storage::StorageTarget;

/// The runtime configuration of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address both front doors listen on (`PLINTH_ADDR`, default `127.0.0.1:9000`).
    pub addr: SocketAddr,
    /// The directory for local data (`PLINTH_DATA_DIR`, default `./data`).
    pub data_dir: PathBuf,
    /// Where state is stored (`PLINTH_STORAGE`, default `<data_dir>/plinth.db`).
    pub storage: StorageTarget,
    /// The tracing filter (`PLINTH_LOG`, default `info`).
    pub log: String,
    /// The most calls served at once; more fail with `RESOURCE_EXHAUSTED`
    /// (`PLINTH_MAX_CONCURRENCY`, default 1024).
    pub max_concurrency: usize,
    /// The largest accepted request body or gRPC message, in bytes
    /// (`PLINTH_MAX_BODY_BYTES`, default 4 MiB).
    pub max_body_bytes: usize,
    /// Events between snapshots of event-sourced entities that don't set their
    /// own interval (`PLINTH_SNAPSHOT_EVERY`, default 100; 0 disables).
    pub snapshot_every: u32,
    /// The most entities kept in memory; the least recently used are passivated
    /// (`PLINTH_MAX_ACTIVE_ENTITIES`, default 100000).
    pub max_active_entities: usize,
    /// How long shutdown waits for in-flight calls (`PLINTH_SHUTDOWN_GRACE_SECS`,
    /// default 30).
    pub shutdown_grace: Duration,
    /// Where topics live (`PLINTH_TOPICS`: `local`, the default, for the
    /// embedded log in `topics.db` beside the storage file; another SQLite
    /// path; or `nats://host:port`).
    pub topics: crate::eventing::TopicsTarget,
    /// Where other services that this one reads direct event streams from
    /// answer (`PLINTH_DIRECT_SERVICES`: `name=http://host:port,...`).
    pub direct_services: std::collections::BTreeMap<String, String>,
    /// Into how many slices each view projection and subscription is split
    /// on a shared storage, each run by one live process at a time
    /// (`PLINTH_CONSUMER_SLICES`, default 4; a storage served by one process
    /// runs one slice). Changing it starts the consumers again from the
    /// start of the feed.
    pub consumer_slices: u32,
    /// The most open client connections; over it, the longest idle one is
    /// closed (`PLINTH_MAX_CONNECTIONS`, default 10000, lowered to fit the
    /// open-file limit).
    pub max_connections: usize,
    /// The most streaming calls (watches, NDJSON/SSE, gRPC server streams)
    /// open at once, a budget apart from `max_concurrency`
    /// (`PLINTH_MAX_STREAMS`, default 1024).
    pub max_streams: usize,
    /// How long an HTTP/1 request head may take to arrive
    /// (`PLINTH_HEADER_READ_TIMEOUT_SECS`, default 10).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no call in flight
    /// (`PLINTH_IDLE_TIMEOUT_SECS`, default 60).
    pub idle_timeout: Duration,
    /// TLS on the port (`PLINTH_TLS_CERT`, `PLINTH_TLS_KEY`,
    /// `PLINTH_TLS_CLIENT_CA`, `PLINTH_TLS_CLIENT_AUTH`); plain text without.
    pub tls: Option<TlsConfig>,
    /// A separate address for the admin surface (`PLINTH_ADMIN_ADDR`); with
    /// it, the service port serves no admin routes.
    pub admin_addr: Option<SocketAddr>,
    /// Who may reach the admin surface on the service port
    /// (`PLINTH_ADMIN_ACCESS`, default `loopback`).
    pub admin_access: AdminAccess,
    /// The keys bearer tokens are checked with (`PLINTH_JWT_KEYS`, a YAML
    /// or JSON list, or `jwt_keys:` in the file; default none). See
    /// [`crate::auth::JwtKeyConfig`].
    pub jwt_keys: Vec<crate::auth::JwtKeyConfig>,
    /// Where spans are exported over OTLP/gRPC, `http://host:port`
    /// (`PLINTH_OTLP_ENDPOINT`, else the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, or `otlp_endpoint:` in the file;
    /// default none: no exporter). See `docs/tracing.md`.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of exported spans (`OTEL_SERVICE_NAME`, or
    /// `service_name:` in the file; default the program's name).
    pub service_name: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        let data_dir = PathBuf::from("./data");
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
            storage: StorageTarget::Sqlite(data_dir.join("plinth.db")),
            data_dir,
            log: "info".to_string(),
            max_concurrency: 1024,
            max_body_bytes: 4 * 1024 * 1024,
            snapshot_every: 100,
            max_active_entities: 100_000,
            shutdown_grace: Duration::from_secs(30),
            topics: crate::eventing::TopicsTarget::Local,
            direct_services: std::collections::BTreeMap::new(),
            consumer_slices: 4,
            max_connections: 10_000,
            max_streams: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            tls: None,
            admin_addr: None,
            admin_access: AdminAccess::Loopback,
            jwt_keys: Vec::new(),
            otlp_endpoint: None,
            service_name: None,
        }
    }
}

/// The keys of `plinth.yaml`; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    data_dir: Option<String>,
    storage: Option<String>,
    log: Option<String>,
    max_concurrency: Option<u64>,
    max_body_bytes: Option<u64>,
    snapshot_every: Option<u64>,
    max_active_entities: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    topics: Option<String>,
    direct_services: Option<String>,
    consumer_slices: Option<u64>,
    max_connections: Option<u64>,
    max_streams: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    tls_client_ca: Option<String>,
    tls_client_auth: Option<String>,
    admin_addr: Option<String>,
    admin_access: Option<String>,
    jwt_keys: Option<Vec<crate::auth::JwtKeyConfig>>,
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
}

/// One raw setting and the key it came from.
struct Raw<'a> {
    key: &'a str,
    value: String,
}

impl Config {
    /// Load the configuration the way a service does at startup: defaults, then
    /// the file named by `PLINTH_CONFIG` (which must exist) or `./plinth.yaml`
    /// (if it exists), then the `PLINTH_*` environment variables.
    pub fn load() -> ConfigResult<Config> {
        let explicit = std::env::var_os("PLINTH_CONFIG").map(PathBuf::from);
        let path = explicit
            .clone()
            .unwrap_or_else(|| PathBuf::from("plinth.yaml"));
        let file_text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                None
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let env = |key: &str| std::env::var(key).ok();
        Config::from_sources(file_text.as_deref().map(|text| (path.as_path(), text)), env)
    }

    /// Build a configuration from a file's text (with its path, for messages)
    /// and an environment lookup. [`Config::load`] calls this with the real
    /// file and environment; tests call it directly.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> ConfigResult<Config> {
        let file_config = match file {
            Some((path, text)) if !text.trim().is_empty() => {
                yaml_serde::from_str::<FileConfig>(text).map_err(|error| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: error.to_string(),
                })?
            }
            _ => FileConfig::default(),
        };
        let pick = |env_key: &'static str,
                    file_key: &'static str,
                    file_value: Option<String>|
         -> Option<Raw<'static>> {
            match env(env_key) {
                Some(value) => Some(Raw {
                    key: env_key,
                    value,
                }),
                None => file_value.map(|value| Raw {
                    key: file_key,
                    value,
                }),
            }
        };
        let number = |n: Option<u64>| n.map(|n| n.to_string());

        let mut config = Config::default();
        if let Some(raw) = pick("PLINTH_ADDR", "addr", file_config.addr) {
            config.addr = raw
                .value
                .trim()
                .parse()
                .map_err(|_| raw.invalid("a socket address such as 127.0.0.1:9000"))?;
        }
        if let Some(raw) = pick("PLINTH_DATA_DIR", "data_dir", file_config.data_dir) {
            if raw.value.trim().is_empty() {
                return Err(raw.invalid("a directory path"));
            }
            config.data_dir = PathBuf::from(raw.value.trim());
        }
        config.storage = match pick("PLINTH_STORAGE", "storage", file_config.storage) {
            Some(raw) => parse_storage(&raw)?,
            None => StorageTarget::Sqlite(config.data_dir.join("plinth.db")),
        };
        if let Some(raw) = pick("PLINTH_LOG", "log", file_config.log) {
            tracing_subscriber::EnvFilter::try_new(raw.value.trim()).map_err(|error| {
                raw.invalid(&format!("a tracing filter such as `info` ({error})"))
            })?;
            config.log = raw.value.trim().to_string();
        }
        if let Some(raw) = pick(
            "PLINTH_MAX_CONCURRENCY",
            "max_concurrency",
            number(file_config.max_concurrency),
        ) {
            config.max_concurrency = raw.positive()?;
        }
        if let Some(raw) = pick(
            "PLINTH_MAX_BODY_BYTES",
            "max_body_bytes",
            number(file_config.max_body_bytes),
        ) {
            config.max_body_bytes = raw.positive()?;
        }
        if let Some(raw) = pick(
            "PLINTH_SNAPSHOT_EVERY",
            "snapshot_every",
            number(file_config.snapshot_every),
        ) {
            config.snapshot_every = raw
                .value
                .trim()
                .parse()
                .map_err(|_| raw.invalid("a whole number of events (0 disables snapshots)"))?;
        }
        if let Some(raw) = pick(
            "PLINTH_MAX_ACTIVE_ENTITIES",
            "max_active_entities",
            number(file_config.max_active_entities),
        ) {
            config.max_active_entities = raw.positive()?;
        }
        if let Some(raw) = pick(
            "PLINTH_CONSUMER_SLICES",
            "consumer_slices",
            number(file_config.consumer_slices),
        ) {
            config.consumer_slices = u32::try_from(raw.positive()?)
                .ok()
                .filter(|n| *n <= 1024)
                .ok_or_else(|| raw.invalid("a number of slices from 1 to 1024"))?;
        }
        if let Some(raw) = pick(
            "PLINTH_MAX_CONNECTIONS",
            "max_connections",
            number(file_config.max_connections),
        ) {
            config.max_connections = raw.positive()?;
        }
        if let Some(raw) = pick(
            "PLINTH_MAX_STREAMS",
            "max_streams",
            number(file_config.max_streams),
        ) {
            config.max_streams = raw.positive()?;
        }
        if let Some(raw) = pick(
            "PLINTH_HEADER_READ_TIMEOUT_SECS",
            "header_read_timeout_secs",
            number(file_config.header_read_timeout_secs),
        ) {
            config.header_read_timeout = Duration::from_secs(raw.positive()? as u64);
        }
        if let Some(raw) = pick(
            "PLINTH_IDLE_TIMEOUT_SECS",
            "idle_timeout_secs",
            number(file_config.idle_timeout_secs),
        ) {
            config.idle_timeout = Duration::from_secs(raw.positive()? as u64);
        }
        if let Some(raw) = pick(
            "PLINTH_SHUTDOWN_GRACE_SECS",
            "shutdown_grace_secs",
            number(file_config.shutdown_grace_secs),
        ) {
            let secs: u64 = raw
                .value
                .trim()
                .parse()
                .map_err(|_| raw.invalid("a whole number of seconds"))?;
            config.shutdown_grace = Duration::from_secs(secs);
        }
        let front_door = front_door::parse(front_door::FrontDoorRaw {
            tls_cert: pick("PLINTH_TLS_CERT", "tls_cert", file_config.tls_cert),
            tls_key: pick("PLINTH_TLS_KEY", "tls_key", file_config.tls_key),
            tls_client_ca: pick(
                "PLINTH_TLS_CLIENT_CA",
                "tls_client_ca",
                file_config.tls_client_ca,
            ),
            tls_client_auth: pick(
                "PLINTH_TLS_CLIENT_AUTH",
                "tls_client_auth",
                file_config.tls_client_auth,
            ),
            admin_addr: pick("PLINTH_ADMIN_ADDR", "admin_addr", file_config.admin_addr),
            admin_access: pick(
                "PLINTH_ADMIN_ACCESS",
                "admin_access",
                file_config.admin_access,
            ),
        })?;
        config.tls = front_door.tls;
        config.admin_addr = front_door.admin_addr;
        config.admin_access = front_door.admin_access;
        if let Some(raw) = pick("PLINTH_TOPICS", "topics", file_config.topics) {
            config.topics =
                crate::eventing::parse_topics(&raw.value).map_err(|reason| raw.invalid(&reason))?;
        }
        if let Some(raw) = pick(
            "PLINTH_DIRECT_SERVICES",
            "direct_services",
            file_config.direct_services,
        ) {
            config.direct_services = crate::eventing::parse_direct_services(&raw.value)
                .map_err(|reason| raw.invalid(&reason))?;
        }
        config.jwt_keys =
            crate::auth::keys_from_config(file_config.jwt_keys, env("PLINTH_JWT_KEYS"))?;
        if let Some(raw) = pick("PLINTH_OTLP_ENDPOINT", "otlp_endpoint", None).or_else(|| {
            pick(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "otlp_endpoint",
                file_config.otlp_endpoint,
            )
        }) {
            config.otlp_endpoint = telemetry::endpoint(&raw)?;
        }
        if let Some(raw) = pick(
            "OTEL_SERVICE_NAME",
            "service_name",
            file_config.service_name,
        ) {
            config.service_name = Some(telemetry::service_name(&raw)?);
        }
        Ok(config)
    }

    /// The same configuration listening on `addr` (`127.0.0.1:0` picks a free port).
    pub fn with_addr(mut self, addr: SocketAddr) -> Config {
        self.addr = addr;
        self
    }

    /// The same configuration storing state in the SQLite file `path`.
    pub fn with_sqlite(mut self, path: impl Into<PathBuf>) -> Config {
        self.storage = StorageTarget::Sqlite(path.into());
        self
    }
}

fn parse_storage(raw: &Raw<'_>) -> ConfigResult<StorageTarget> {
    StorageTarget::parse(&raw.value).map_err(|reason| ConfigError::Invalid {
        key: raw.key.to_string(),
        value: crate::storage::redact(raw.value.trim()),
        reason,
    })
}

impl Raw<'_> {
    fn invalid(&self, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            key: self.key.to_string(),
            value: self.value.clone(),
            reason: reason.to_string(),
        }
    }

    fn positive(&self) -> ConfigResult<usize> {
        match self.value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(self.invalid("a whole number greater than 0")),
        }
    }
}

#[cfg(test)]
mod tests;
