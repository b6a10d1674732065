//! Cases only PostgreSQL has: why the change feed takes a lock, connections
//! killed under the storage, an unreachable server, migrations run by several
//! processes at once and a newer schema refused.

use std::time::{Duration, Instant};

use plinth::storage::view::{Dialect, SqlValue};
use plinth::storage::{EntityStore, FeedSource};
use plinth::storage::{PostgresOptions, PostgresStorage, Storage, StorageError};

use super::{TestDatabase, state};

async fn positions(client: &tokio_postgres::Client, table: &str, after: i64) -> Vec<(i64, String)> {
    client
        .query(
            &format!("SELECT position, note FROM {table} WHERE position > $1 ORDER BY position"),
            &[&after],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// A feed whose offsets come from a plain sequence loses records: the
/// transaction holding offset 1 commits after the one holding 2, and a reader
/// that saw 2 then asks for offsets above 2. Taking one lock before drawing
/// offsets (as the backend does) makes the later transaction wait, so
/// offsets commit in order and the same reader misses nothing.
pub async fn a_plain_sequence_feed_skips_records_and_the_feed_lock_does_not(db: &TestDatabase) {
    let (first, second, reader) = (db.raw().await, db.raw().await, db.raw().await);
    first
        .batch_execute(
            "CREATE TABLE naive (position BIGSERIAL PRIMARY KEY, note TEXT NOT NULL);
             CREATE TABLE locked (position BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)",
        )
        .await
        .unwrap();

    // Without the lock.
    first
        .batch_execute("BEGIN; INSERT INTO naive (note) VALUES ('first')")
        .await
        .unwrap();
    second
        .batch_execute("BEGIN; INSERT INTO naive (note) VALUES ('second'); COMMIT")
        .await
        .unwrap();
    let seen = positions(&reader, "naive", 0).await;
    assert_eq!(seen, vec![(2, "second".to_owned())]);
    first.batch_execute("COMMIT").await.unwrap();
    let after = seen.last().map_or(0, |(p, _)| *p);
    assert!(
        positions(&reader, "naive", after).await.is_empty(),
        "the reader can never see offset 1 by asking for offsets above 2"
    );
    assert_eq!(
        positions(&reader, "naive", 0).await.len(),
        2,
        "yet it committed"
    );

    // With the lock: the second writer waits for the first one's commit.
    let lock = "SELECT pg_advisory_xact_lock(7243)";
    first
        .batch_execute(&format!(
            "BEGIN; {lock}; INSERT INTO locked (note) VALUES ('first')"
        ))
        .await
        .unwrap();
    let blocked = tokio::spawn(async move {
        second
            .batch_execute(&format!(
                "BEGIN; {lock}; INSERT INTO locked (note) VALUES ('second'); COMMIT"
            ))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "the second writer waits for the lock"
    );
    assert!(positions(&reader, "locked", 0).await.is_empty());
    first.batch_execute("COMMIT").await.unwrap();
    blocked.await.unwrap().unwrap();
    assert_eq!(
        positions(&reader, "locked", 0).await,
        vec![(1, "first".to_owned()), (2, "second".to_owned())]
    );
}

/// Retry `op` while it fails with `Transient` (at most ~10 s); any other
/// error fails the test.
async fn until_not_transient<T, F, Fut>(mut op: F) -> (T, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StorageError>>,
{
    let mut transient = 0;
    loop {
        match op().await {
            Ok(value) => return (value, transient),
            Err(StorageError::Transient(_)) if transient < 100 => {
                transient += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("expected success or a transient failure, got {other:?}"),
        }
    }
}

/// Every connection of the database is killed under two storages: the next
/// operations fail `Transient` or succeed, then succeed, with right answers;
/// the feed listener reconnects too.
pub async fn killed_connections_are_transient_then_recover(db: &TestDatabase) {
    let storage = db.connect().await;
    let other = db.connect().await;
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    assert!(other.load_state("counter", "a").await.unwrap().is_some());

    let admin = db.raw().await;
    // Both listeners are connected, so they are killed too.
    let listening = super::eventually(Duration::from_secs(10), || async {
        let row = admin
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'plinth feed listener'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 2
    })
    .await;
    assert!(listening, "both feed listeners connect");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    // Each storage had a pooled connection and a listener connection.
    assert!(killed.len() >= 4, "terminated {} connections", killed.len());

    let (loaded, transient) = until_not_transient(|| storage.load_state("counter", "a")).await;
    eprintln!("the first read after the kill failed transiently {transient} time(s)");
    let loaded = loaded.expect("the state is still there");
    assert_eq!(
        (loaded.seq, loaded.payload.as_deref()),
        (1, Some(&b"one"[..]))
    );

    // A write either lands once or fails Transient; retrying never writes twice.
    let mut attempts_failed = 0;
    loop {
        match storage
            .write_state(state("counter", "a", 1, Some("two")))
            .await
        {
            Ok(seq) => {
                assert_eq!(seq, 2);
                break;
            }
            Err(StorageError::Transient(_)) if attempts_failed < 100 => {
                attempts_failed += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Only an attempt that failed Transient may have landed.
            Err(StorageError::Conflict { actual: 2, .. }) if attempts_failed > 0 => break,
            Err(other) => panic!("write after the kill: {other:?}"),
        }
    }
    let (feed, _) = until_not_transient(|| storage.read_feed(0, &[], 100)).await;
    assert_eq!(
        feed.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2],
        "each change is in the feed once"
    );

    // The other instance's next commit reaches this one's listener.
    let (seq, _) =
        until_not_transient(|| other.write_state(state("counter", "b", 0, Some("b")))).await;
    assert_eq!(seq, 1);
    let (feed, _) = until_not_transient(|| other.read_feed(0, &[], 100)).await;
    let head = feed.last().map(|r| r.offset).unwrap();
    let mut watch = storage.feed_watch().unwrap();
    let reached = tokio::time::timeout(Duration::from_secs(15), watch.wait_for(|h| *h >= head));
    assert!(
        matches!(reached.await, Ok(Ok(_))),
        "the listener did not reconnect"
    );
    storage.close().await.unwrap();
    other.close().await.unwrap();
    assert!(matches!(
        storage.load_state("counter", "a").await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        storage.write_state(state("counter", "a", 2, None)).await,
        Err(StorageError::Closed)
    ));
}

/// A server that does not answer is `Transient`, quickly, and the error
/// carries no password.
pub async fn an_unreachable_server_is_transient_and_fast() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://plinth:hunter2@127.0.0.1:{port}/nowhere");
    let started = Instant::now();
    let err = PostgresStorage::connect(&url, PostgresOptions::default())
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, StorageError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// Processes starting together on an empty database migrate once; a later
/// start finds the schema current; a newer schema is refused.
pub async fn migrations_race_apply_once_and_newer_is_refused(db: &TestDatabase) {
    let starts = (0..4).map(|_| PostgresStorage::connect(&db.url, PostgresOptions::default()));
    let storages: Vec<PostgresStorage> = futures::future::join_all(starts)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every process starts");
    let raw = db.raw().await;
    let versions: Vec<i32> = raw
        .query("SELECT version FROM plinth_schema_version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions.len(), 1);
    let version = versions[0];
    assert!(version >= 1);

    let storage = &storages[0];
    assert!(storage.shared());
    assert_eq!(
        storage.views().map(|v| v.dialect()),
        Some(Dialect::Postgres)
    );
    let described = storage.describe();
    assert!(described.contains(&db.name), "{described}");
    assert!(!described.contains(":plinth@"), "a password in {described}");
    // A session stalled in a transaction cannot hold the feed lock for long.
    let setting = storage
        .views()
        .unwrap()
        .view_query(
            "SELECT current_setting('idle_in_transaction_session_timeout')".into(),
            vec![],
            1,
        )
        .await
        .unwrap();
    assert_eq!(setting, vec![vec![SqlValue::Text("30s".into())]]);
    storage
        .write_state(state("counter", "a", 0, Some("kept")))
        .await
        .unwrap();
    for storage in &storages {
        storage.close().await.unwrap();
    }
    drop(storages);

    let again = db.connect().await;
    let kept = again.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(kept.payload.as_deref(), Some(&b"kept"[..]));
    again.close().await.unwrap();

    // TLS is not supported: a URL requiring it is refused, not retried.
    let tls = PostgresStorage::connect(
        &format!("{}?sslmode=require", db.url),
        PostgresOptions::default(),
    )
    .await
    .expect_err("TLS is required");
    assert!(matches!(tls, StorageError::Backend(_)), "{tls:?}");

    raw.execute(
        "UPDATE plinth_schema_version SET version = version + 1",
        &[],
    )
    .await
    .unwrap();
    let err = PostgresStorage::connect(&db.url, PostgresOptions::default())
        .await
        .expect_err("a newer schema");
    let message = err.to_string();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    assert!(message.contains("newer"), "{message}");
    assert!(
        message.contains(&format!("schema version {}", version + 1)),
        "{message}"
    );
}

/// A write PostgreSQL refuses outright (text with a NUL byte) fails alone:
/// the writes queued with it commit.
pub async fn a_refused_write_fails_alone(db: &TestDatabase) {
    let storage = db.connect().await;
    let id = |i: usize| {
        if i == 4 {
            "bad\0id".to_owned()
        } else {
            format!("e{i}")
        }
    };
    let writes = (0..10).map(|i| storage.write_state(state("counter", &id(i), 0, Some("x"))));
    let results = futures::future::join_all(writes).await;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Err(StorageError::Backend(_)) if i == 4 => {}
            Ok(1) if i != 4 => {}
            other => panic!("write {i}: {other:?}"),
        }
    }
    let feed = storage.read_feed(0, &[], 100).await.unwrap();
    assert_eq!(feed.len(), 9);
    assert!(feed.iter().all(|r| r.entity_id != id(4)));
    for i in (0..10).filter(|i| *i != 4) {
        assert!(
            storage
                .load_state("counter", &id(i))
                .await
                .unwrap()
                .is_some()
        );
    }
    storage.close().await.unwrap();
}

/// Terminate the backends of this database that `filter` (SQL over
/// `pg_stat_activity`) selects, once there is one; how many were ended.
async fn terminate_when(admin: &tokio_postgres::Client, filter: &str) -> usize {
    let found = super::eventually(Duration::from_secs(10), || async {
        let sql = format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND {filter}"
        );
        admin.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) > 0
    })
    .await;
    assert!(found, "no backend matched {filter}");
    let sql = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND {filter}"
    );
    admin.query(&sql, &[]).await.unwrap().len()
}

/// A connection killed while a write batch waits inside its transaction, or
/// while a query runs: they fail `Transient`, the write did not land, and
/// the same operations then succeed.
pub async fn operations_in_flight_fail_transient_when_killed(db: &TestDatabase) {
    let storage = db.connect().await;
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    let (blocker, admin) = (db.raw().await, db.raw().await);
    // Feed inserts wait behind this lock, inside the batch's transaction.
    blocker
        .batch_execute("BEGIN; LOCK TABLE plinth_feed IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiting = "application_name = 'plinth' AND wait_event_type = 'Lock'";
    let (written, killed) = futures::join!(
        storage.write_state(state("counter", "a", 1, Some("two"))),
        terminate_when(&admin, waiting),
    );
    assert_eq!(killed, 1);
    assert!(
        matches!(written, Err(StorageError::Transient(_))),
        "{written:?}"
    );
    blocker.batch_execute("COMMIT").await.unwrap();
    let (seq, _) =
        until_not_transient(|| storage.write_state(state("counter", "a", 1, Some("two")))).await;
    assert_eq!(seq, 2, "the killed write had not landed");
    let feed = storage.read_feed(0, &[], 100).await.unwrap();
    assert_eq!(feed.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);

    let views = storage.views().unwrap();
    let sleeping = "application_name = 'plinth' AND query LIKE '%pg_sleep%' AND state = 'active'";
    let (queried, killed) = futures::join!(
        views.view_query("SELECT 1::bigint FROM pg_sleep(30)".into(), vec![], 1),
        terminate_when(&admin, sleeping),
    );
    assert_eq!(killed, 1);
    assert!(
        matches!(queried, Err(StorageError::Transient(_))),
        "{queried:?}"
    );
    let (rows, _) =
        until_not_transient(|| views.view_query("SELECT 2::bigint".into(), vec![], 1)).await;
    assert_eq!(rows, vec![vec![SqlValue::Integer(2)]]);
    storage.close().await.unwrap();
}

/// Writes from many callers at once share transactions (group commit): the
/// feed records were inserted by far fewer transactions than there are.
pub async fn concurrent_writes_share_transactions(db: &TestDatabase) {
    const CALLERS: usize = 64;
    const WRITES: u64 = 20;
    let storage = std::sync::Arc::new(db.connect().await);
    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let storage = storage.clone();
            tokio::spawn(async move {
                for expected in 0..WRITES {
                    let write = state("counter", &format!("c{caller}"), expected, Some("x"));
                    storage.write_state(write).await.unwrap();
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let writes = (CALLERS as u64 * WRITES) as i64;
    let raw = db.raw().await;
    let row = raw
        .query_one(
            "SELECT COUNT(*), COUNT(DISTINCT xmin::text) FROM plinth_feed",
            &[],
        )
        .await
        .unwrap();
    let (records, transactions): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(records, writes);
    assert!(
        transactions > 0 && transactions * 2 < writes,
        "{writes} writes took {transactions} transactions"
    );
}
