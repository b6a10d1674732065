//! Where storage lives, parsed from one URL, and the one place a backend is
//! opened from it.
//!
//! | URL | backend |
//! |---|---|
//! | a plain path, or `sqlite:PATH` | the embedded SQLite file at `PATH` (one process) |
//! | `postgres://user:pass@host:port/db` (or `postgresql://`) | PostgreSQL (several processes may share it) |

use std::path::PathBuf;
use std::sync::Arc;

use super::{PostgresOptions, PostgresStorage, SqliteOptions, SqliteStorage, Storage};
use super::{StorageError, StorageResult};
use crate::clock::{self, Clock};

/// Where state is stored.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageTarget {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its connection URL.
    Postgres(String),
}

impl std::fmt::Debug for StorageTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageTarget::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StorageTarget::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

impl StorageTarget {
    /// Parse a storage URL: `postgres://…`, `postgresql://…`, `sqlite:PATH` or
    /// a plain path. The error says what a valid value looks like.
    pub fn parse(value: &str) -> Result<StorageTarget, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("an SQLite database path or a postgres:// URL".to_owned());
        }
        if let Some((scheme, rest)) = value.split_once("://") {
            return match scheme {
                "postgres" | "postgresql" if !rest.is_empty() => {
                    Ok(StorageTarget::Postgres(value.to_owned()))
                }
                "postgres" | "postgresql" => {
                    Err("a PostgreSQL URL such as postgres://user:pass@host:5432/db".to_owned())
                }
                "sqlite" => Ok(StorageTarget::Sqlite(PathBuf::from(rest))),
                other => Err(format!(
                    "an SQLite database path or a postgres:// URL (unknown scheme {other}://)"
                )),
            };
        }
        Ok(StorageTarget::Sqlite(PathBuf::from(
            value.strip_prefix("sqlite:").unwrap_or(value),
        )))
    }

    /// The target for the log and error messages, without a password.
    pub fn describe(&self) -> String {
        match self {
            StorageTarget::Sqlite(path) => path.display().to_string(),
            StorageTarget::Postgres(url) => redact(url),
        }
    }
}

/// Open the backend `target` names: SQLite creates the file (and refuses a
/// file another process serves); PostgreSQL connects and migrates.
pub async fn open(target: &StorageTarget) -> StorageResult<Arc<dyn Storage>> {
    open_with_clock(target, clock::system()).await
}

/// [`open`], SQLite keeping due times and leases by `clock` (PostgreSQL
/// keeps them by the database server's clock).
pub(crate) async fn open_with_clock(
    target: &StorageTarget,
    clock: Arc<dyn Clock>,
) -> StorageResult<Arc<dyn Storage>> {
    match target {
        StorageTarget::Sqlite(path) => {
            let path = path.clone();
            let options = SqliteOptions {
                clock,
                ..SqliteOptions::default()
            };
            let opened = tokio::task::spawn_blocking(move || SqliteStorage::open(&path, options))
                .await
                .map_err(|error| StorageError::Backend(error.to_string()))??;
            Ok(Arc::new(opened))
        }
        StorageTarget::Postgres(url) => Ok(Arc::new(
            PostgresStorage::connect(url, PostgresOptions::default()).await?,
        )),
    }
}

/// A connection URL without its password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let credentials = &url[start + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            StorageTarget::parse("data/plinth.db"),
            Ok(StorageTarget::Sqlite("data/plinth.db".into()))
        );
        assert_eq!(
            StorageTarget::parse("sqlite:/var/x.db"),
            Ok(StorageTarget::Sqlite("/var/x.db".into()))
        );
        assert_eq!(
            StorageTarget::parse("sqlite:///var/x.db"),
            Ok(StorageTarget::Sqlite("/var/x.db".into()))
        );
        assert_eq!(
            StorageTarget::parse("postgres://u:p@h:5432/db"),
            Ok(StorageTarget::Postgres("postgres://u:p@h:5432/db".into()))
        );
        assert!(
            StorageTarget::parse("mysql://h/db")
                .unwrap_err()
                .contains("mysql")
        );
        assert!(StorageTarget::parse("postgres://").is_err());
        assert!(StorageTarget::parse(" ").is_err());
    }

    #[test]
    fn passwords_stay_out_of_descriptions() {
        let target = StorageTarget::parse("postgres://ann:secret@db:5432/app").unwrap();
        assert_eq!(target.describe(), "postgres://ann:***@db:5432/app");
        assert!(!format!("{target:?}").contains("secret"));
    }
}
