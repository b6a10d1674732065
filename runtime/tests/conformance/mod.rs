//! The backends the conformance suite runs against, and helpers its cases
//! share.
//!
//! - SQLite: a database file in a temporary directory.
//! - PostgreSQL: a fresh database per test on the server named by
//!   `PLINTH_TEST_POSTGRES_URL` (dropped afterwards, even when the test
//!   fails). Without that variable the PostgreSQL cases print a note and
//!   pass, except under CI (`CI=true`), where they fail.

#![allow(dead_code)]

pub mod cases;
pub mod concurrency;
pub mod postgres_only;
pub mod schedule;
pub mod trace;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use plinth::storage::view::Dialect;
use plinth::storage::{
    EventAppend, PostgresOptions, PostgresStorage, SqliteOptions, SqliteStorage, StateWrite,
    Storage, StorageError, StoredEvent,
};

/// The variable naming the test PostgreSQL server (its `postgres` database).
pub const URL_VAR: &str = "PLINTH_TEST_POSTGRES_URL";

/// Which backend a case runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SQLite in a temporary directory.
    Sqlite,
    /// PostgreSQL in a fresh database.
    Postgres,
}

/// A backend under test.
pub struct Backend {
    /// Which one.
    pub kind: Kind,
    /// The storage every case uses.
    pub storage: Arc<dyn Storage>,
    /// For PostgreSQL: the database, dropped after the storages.
    pub database: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// SQLite on a new file.
    pub fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            SqliteStorage::open(dir.path().join("plinth.db"), SqliteOptions::default()).unwrap();
        Backend {
            kind: Kind::Sqlite,
            storage: Arc::new(storage),
            database: None,
            _dir: Some(dir),
        }
    }

    /// PostgreSQL on a new database; `None` when no server is configured
    /// (outside CI).
    pub async fn postgres(test: &str) -> Option<Backend> {
        let database = TestDatabase::create(test).await?;
        let storage = database.connect().await;
        Some(Backend {
            kind: Kind::Postgres,
            storage: Arc::new(storage),
            database: Some(database),
            _dir: None,
        })
    }

    /// `count` storages on the same data: for PostgreSQL the first is
    /// [`Backend::storage`] and the others are separate instances (as several
    /// processes would have); SQLite serves a file from one instance only,
    /// so there it is the one storage.
    pub async fn instances(&self, count: usize) -> Vec<Arc<dyn Storage>> {
        let mut instances = vec![self.storage.clone()];
        if let Some(database) = &self.database {
            for _ in 1..count {
                instances.push(Arc::new(database.connect().await) as Arc<dyn Storage>);
            }
        }
        instances
    }

    /// The SQL dialect of the backend's views.
    pub fn dialect(&self) -> Dialect {
        match self.kind {
            Kind::Sqlite => Dialect::Sqlite,
            Kind::Postgres => Dialect::Postgres,
        }
    }
}

/// Whether this run is CI's, where every case must really run.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The test server's URL; `None` (with a note) when it is not configured.
/// Under CI a missing server fails the test.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if under_ci() => panic!(
            "{test}: {URL_VAR} is not set, and under CI the PostgreSQL cases must run \
             (.ci/run starts the server)"
        ),
        _ => {
            eprintln!("{test}: skipped: {URL_VAR} not set; see README");
            None
        }
    }
}

/// A database created for one test and dropped (with its connections) when
/// this value is dropped.
pub struct TestDatabase {
    /// The server's administrative URL.
    pub admin_url: String,
    /// The database's name.
    pub name: String,
    /// The database's URL.
    pub url: String,
}

impl TestDatabase {
    /// A new empty database; `None` when no server is configured.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let admin_url = server_url(test)?;
        let name = format!("plinth_t_{}", uuid::Uuid::new_v4().simple());
        let admin = raw_connect(&admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = replace_database(&admin_url, &name);
        Some(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// A new storage instance on this database.
    pub async fn connect(&self) -> PostgresStorage {
        PostgresStorage::connect(&self.url, PostgresOptions::default())
            .await
            .expect("connect to the test database")
    }

    /// A plain connection to this database, for raw SQL.
    pub async fn raw(&self) -> tokio_postgres::Client {
        raw_connect(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a runtime of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = raw_connect(&admin_url).await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A plain tokio-postgres connection, driven on its own task.
pub async fn raw_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the test PostgreSQL: {err}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// `url` with its database name replaced by `name`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A value entity write.
pub fn state(type_id: &str, id: &str, expected_seq: u64, payload: Option<&str>) -> StateWrite {
    StateWrite {
        meta: None,
        type_id: type_id.to_owned(),
        entity_id: id.to_owned(),
        expected_seq,
        payload: payload.map(|p| Bytes::from(p.to_owned())),
        type_name: "test.State".to_owned(),
        schedule: Vec::new(),
        trace: None,
    }
}

/// Events for the journal `id` of type `journal`.
pub fn append(id: &str, expected_seq: u64, events: &[&str]) -> EventAppend {
    EventAppend {
        type_id: "journal".to_owned(),
        entity_id: id.to_owned(),
        expected_seq,
        events: events
            .iter()
            .map(|e| ("test.Event".to_owned(), Bytes::from(e.to_string())))
            .collect(),
        snapshot: None,
        delete: false,
        schedule: Vec::new(),
        trace: None,
    }
}

/// Events as `(seq, text)`.
pub fn payloads(events: &[StoredEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|e| (e.seq, String::from_utf8(e.payload.to_vec()).expect("utf-8")))
        .collect()
}

/// The expected and actual sequence numbers of a conflict; panics otherwise.
pub fn conflict(result: Result<u64, StorageError>) -> (u64, u64) {
    match result {
        Err(StorageError::Conflict {
            expected, actual, ..
        }) => (expected, actual),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Wait up to `timeout` for `done` to hold, checking every few milliseconds.
pub async fn eventually<F, Fut>(timeout: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
