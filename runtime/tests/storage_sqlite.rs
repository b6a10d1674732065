//! What only the SQLite backend has, against real database files: the file
//! and its directory, the writer's counters, the journal key under a raw
//! writer, closing and reopening, dropping with writes queued, schema
//! migrations and a file that is not a database. What every backend must do
//! is in the conformance suite (`storage_conformance.rs`).

use bytes::Bytes;
use plinth::storage::{EntityStore, FeedSource, OffsetStore, Storage};
use plinth::storage::{
    EventAppend, SCHEMA_VERSION, SqliteOptions, SqliteStorage, StateWrite, StorageError,
};

fn open(dir: &tempfile::TempDir) -> SqliteStorage {
    SqliteStorage::open(
        dir.path().join("data").join("plinth.db"),
        SqliteOptions::default(),
    )
    .expect("open storage")
}

fn state(type_id: &str, id: &str, expected_seq: u64, payload: Option<&str>) -> StateWrite {
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

fn append(id: &str, expected_seq: u64, events: &[&str]) -> EventAppend {
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

fn payloads(events: &[plinth::storage::StoredEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|e| (e.seq, String::from_utf8(e.payload.to_vec()).expect("utf-8")))
        .collect()
}

#[tokio::test]
async fn opening_creates_the_file_and_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    assert!(dir.path().join("data").join("plinth.db").exists());
    assert_eq!(
        storage.describe(),
        format!("SQLite {}", storage.path().display())
    );
}

#[tokio::test]
async fn conflicts_count_as_failed_writes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    for stale in [0, 5] {
        storage
            .write_state(state("counter", "a", stale, Some("lost")))
            .await
            .expect_err("stale write must fail");
    }
    let stats = storage.stats();
    assert_eq!((stats.writes, stats.failed), (1, 2));
}

#[tokio::test]
async fn the_journal_key_fences_even_raw_writers() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .append_events(append("j", 0, &["a", "b", "c"]))
        .await
        .unwrap();
    drop(storage);

    // The primary key is the fence even for a writer that skips the check.
    let raw = rusqlite::Connection::open(dir.path().join("data").join("plinth.db")).unwrap();
    let duplicate = raw.execute(
        "INSERT INTO journal (type_id, entity_id, seq, type_name, payload)
         VALUES ('journal', 'j', 3, 'test.Event', x'00')",
        [],
    );
    let code = duplicate
        .expect_err("a duplicate sequence number must be rejected")
        .sqlite_error_code();
    assert_eq!(code, Some(rusqlite::ErrorCode::ConstraintViolation));
}

#[tokio::test]
async fn reopen_after_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("kept")))
        .await
        .unwrap();
    let mut with_snapshot = append("j", 0, &["a", "b"]);
    with_snapshot.snapshot = Some(Bytes::from("snap"));
    storage.append_events(with_snapshot).await.unwrap();
    storage.append_events(append("j", 2, &["c"])).await.unwrap();
    storage.store_offset("view", 2).await.unwrap();
    storage.close().await.unwrap();
    storage.close().await.unwrap();

    assert!(matches!(
        storage
            .write_state(state("counter", "a", 1, Some("late")))
            .await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        storage.load_state("counter", "a").await,
        Err(StorageError::Closed)
    ));
    drop(storage);

    let storage = open(&dir);
    let loaded = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(
        (loaded.seq, loaded.payload.as_deref()),
        (1, Some(&b"kept"[..]))
    );
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((2, Bytes::from("snap"))));
    assert_eq!(payloads(&replay.events), vec![(3, "c".to_owned())]);
    assert_eq!(storage.load_offset("view").await.unwrap(), 2);
    assert_eq!(storage.read_feed(0, &[], 100).await.unwrap().len(), 4);
    // New writes continue the feed after the old records.
    storage
        .write_state(state("counter", "a", 1, Some("after")))
        .await
        .unwrap();
    let last = storage.read_feed(4, &[], 100).await.unwrap();
    assert_eq!(last.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![5]);
}

#[tokio::test]
async fn dropping_finishes_queued_writes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = std::sync::Arc::new(open(&dir));
    let writes: Vec<_> = (0..50)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                storage
                    .write_state(state("counter", &format!("e{i}"), 0, Some("x")))
                    .await
            })
        })
        .collect();
    for write in writes {
        assert_eq!(write.await.unwrap().unwrap(), 1);
    }
    drop(storage);
    let storage = open(&dir);
    assert_eq!(storage.read_feed(0, &[], 1000).await.unwrap().len(), 50);
}

fn user_version(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn migrations_apply_once_and_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("plinth.db");
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("v1")))
        .await
        .unwrap();
    storage.close().await.unwrap();
    drop(storage);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));

    // Reopening finds the schema current: no step runs again (they would fail
    // on the existing tables) and the data is intact.
    let storage = open(&dir);
    assert_eq!(
        storage
            .load_state("counter", "a")
            .await
            .unwrap()
            .unwrap()
            .seq,
        1
    );
    drop(storage);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));

    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", i64::from(SCHEMA_VERSION) + 1)
        .unwrap();
    drop(raw);
    let err = SqliteStorage::open(&path, SqliteOptions::default()).expect_err("newer schema");
    let message = err.to_string();
    assert!(message.contains("newer"), "unexpected error: {message}");
    assert!(
        message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{message}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, b"this is not a SQLite database, just some bytes...").unwrap();
    let err = SqliteStorage::open(&path, SqliteOptions::default()).expect_err("not a database");
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
}
