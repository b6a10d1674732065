//! The reference service on PostgreSQL: its store (both write paths) and every scenario through
//! `reference-server --pg` over HTTP/1.1 and gRPC, on a fresh database of the server named by
//! `PLINTH_TEST_POSTGRES_URL` (locally: `eval "$(.ci/postgres.sh start)"`). Without it the tests
//! are skipped, except under CI (`CI` set), where its absence is a failure. Assertions are on
//! counts, values and errors only, never on timings.

mod common;

use std::sync::Arc;

use common::{smoke, start};
use plinth_bench::reference::{CustomerRow, PgOptions, PgStore};

/// The variable naming the test server.
const URL_VAR: &str = "PLINTH_TEST_POSTGRES_URL";

/// A new empty database on the test server, as a connection URL; `None` (with a note on
/// stderr) when no server is configured and `CI` is not set.
async fn fresh_database(test: &str) -> Option<String> {
    let admin = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set under CI: .ci/run starts PostgreSQL and sets it")
        }
        _ => {
            eprintln!("skipped {test}: {URL_VAR} is not set");
            return None;
        }
    };
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
    let driver = tokio::spawn(connection);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("plinth_bench_{:x}{nanos:x}", std::process::id());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    drop(client);
    let _ = driver.await;
    // Replace the database name (the path after the authority), keeping any query.
    let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let authority_end = base
        .find("://")
        .and_then(|s| base[s + 3..].find('/').map(|slash| s + 3 + slash))
        .unwrap_or(base.len());
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    Some(url)
}

fn row(id: &str, name: &str) -> CustomerRow {
    CustomerRow {
        id: id.into(),
        name: name.into(),
        email: format!("{id}@example.com"),
        payload: "p".repeat(550),
    }
}

async fn exercise(url: &str, batching: bool) {
    let options = PgOptions {
        batching,
        ..PgOptions::default()
    };
    let store = PgStore::connect(url, options).await.unwrap();
    assert_eq!(store.get("a".into()).await.unwrap(), None);
    // Concurrent writes, several of one id (one batch may hold them all).
    let writes: Vec<_> = (0..60)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.upsert(row(&format!("c{}", i % 50), "first")).await })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    store.upsert(row("c7", "second")).await.unwrap();
    assert_eq!(
        store.get("c7".into()).await.unwrap(),
        Some(row("c7", "second"))
    );
    // Concurrent events of one id get distinct, gap-free sequence numbers.
    let events: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .record_event("e1".into(), "k".into(), "p".into())
                    .await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for e in events {
        seqs.push(e.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let other = store
        .record_event("e2".into(), "k".into(), "p".into())
        .await
        .unwrap();
    assert_eq!(other, 1);
    drop(store);
    // A new connection sees everything acknowledged.
    let again = PgStore::connect(url, PgOptions::default()).await.unwrap();
    assert_eq!(
        again.get("c49".into()).await.unwrap(),
        Some(row("c49", "first"))
    );
    assert_eq!(
        again
            .record_event("e1".into(), "k".into(), "p".into())
            .await
            .unwrap(),
        21
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_persists_writes_on_both_write_paths() {
    for batching in [false, true] {
        let Some(url) = fresh_database("the_postgres_store_persists_writes").await else {
            return;
        };
        exercise(&url, batching).await;
    }
}

#[test]
fn every_scenario_runs_clean_against_the_postgres_reference() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(fresh_database("every_scenario_runs_clean_against_pg")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let direct = start(env!("CARGO_BIN_EXE_reference-server"), &["--pg", &url]);
    let batching = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &["--pg", &url, "--batching"],
    );
    let mut failures = Vec::new();
    for transport in ["http1", "grpc"] {
        for (server, label) in [
            (&direct, "reference-pg"),
            (&batching, "reference-pg-batching"),
        ] {
            for scenario in ["write", "read", "hot", "mixed", "event"] {
                if let Err(e) = smoke(server, label, transport, scenario, dir.path()) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing runs:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
