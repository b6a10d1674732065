//! The SQLite backend against real database files: round trips, the sequence
//! fence, journals and snapshots, the change feed, consumer offsets, reopening
//! and schema migrations.

use bytes::Bytes;
use plinth::storage::{EntityStore, FeedSource, OffsetStore};
use plinth::storage::{
    EventAppend, FeedKind, SCHEMA_VERSION, SqliteOptions, SqliteStorage, StateWrite, StorageError,
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
        type_id: type_id.to_owned(),
        entity_id: id.to_owned(),
        expected_seq,
        payload: payload.map(|p| Bytes::from(p.to_owned())),
        type_name: "test.State".to_owned(),
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
    }
}

fn payloads(events: &[plinth::storage::StoredEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|e| (e.seq, String::from_utf8(e.payload.to_vec()).expect("utf-8")))
        .collect()
}

#[tokio::test]
async fn state_round_trip_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    assert_eq!(storage.load_state("counter", "a").await.unwrap(), None);

    assert_eq!(
        storage
            .write_state(state("counter", "a", 0, Some("one")))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        storage
            .write_state(state("counter", "a", 1, Some("two")))
            .await
            .unwrap(),
        2
    );
    let loaded = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(loaded.seq, 2);
    assert_eq!(loaded.payload.as_deref(), Some(&b"two"[..]));
    // Same entity id under another type is another entity.
    assert_eq!(storage.load_state("other", "a").await.unwrap(), None);
    assert!(dir.path().join("data").join("plinth.db").exists());
}

#[tokio::test]
async fn stale_expected_seq_conflicts_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    storage
        .write_state(state("counter", "a", 1, Some("two")))
        .await
        .unwrap();
    let feed_before = storage.read_feed(0, &[], 100).await.unwrap();

    for stale in [0, 1, 5] {
        let err = storage
            .write_state(state("counter", "a", stale, Some("lost")))
            .await
            .expect_err("stale write must fail");
        match err {
            StorageError::Conflict {
                type_id,
                entity_id,
                expected,
                actual,
            } => {
                assert_eq!((type_id.as_str(), entity_id.as_str()), ("counter", "a"));
                assert_eq!((expected, actual), (stale, 2));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let loaded = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(
        (loaded.seq, loaded.payload.as_deref()),
        (2, Some(&b"two"[..]))
    );
    assert_eq!(storage.read_feed(0, &[], 100).await.unwrap(), feed_before);
    assert_eq!(storage.stats().failed, 3);
}

#[tokio::test]
async fn delete_then_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    assert_eq!(
        storage
            .write_state(state("counter", "a", 1, None))
            .await
            .unwrap(),
        2
    );
    let deleted = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!((deleted.seq, deleted.payload), (2, None));
    // Recreating starts from the deleted sequence, so the fence still holds.
    assert!(matches!(
        storage
            .write_state(state("counter", "a", 0, Some("again")))
            .await,
        Err(StorageError::Conflict { actual: 2, .. })
    ));
    assert_eq!(
        storage
            .write_state(state("counter", "a", 2, Some("again")))
            .await
            .unwrap(),
        3
    );
    let kinds: Vec<_> = storage
        .read_feed(0, &[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.kind, r.type_name, r.payload))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                1,
                FeedKind::State,
                "test.State".to_owned(),
                Bytes::from("one")
            ),
            (2, FeedKind::Delete, String::new(), Bytes::new()),
            (
                3,
                FeedKind::State,
                "test.State".to_owned(),
                Bytes::from("again")
            ),
        ]
    );
}

#[tokio::test]
async fn journal_appends_without_gaps_and_fences_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    assert_eq!(
        storage.load_journal("journal", "j").await.unwrap(),
        Default::default()
    );
    assert_eq!(
        storage
            .append_events(append("j", 0, &["a", "b"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        storage.append_events(append("j", 2, &["c"])).await.unwrap(),
        3
    );
    // A writer that missed event 3 would reuse sequence 3: refused.
    assert!(matches!(
        storage.append_events(append("j", 2, &["duplicate"])).await,
        Err(StorageError::Conflict {
            expected: 2,
            actual: 3,
            ..
        })
    ));
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(
        payloads(&replay.events),
        vec![
            (1, "a".to_owned()),
            (2, "b".to_owned()),
            (3, "c".to_owned())
        ]
    );
    assert_eq!(replay.snapshot, None);
    assert!(!replay.deleted);
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
async fn snapshot_then_later_events_replay() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .append_events(append("j", 0, &["a", "b"]))
        .await
        .unwrap();
    let mut with_snapshot = append("j", 2, &["c"]);
    with_snapshot.snapshot = Some(Bytes::from("state@3"));
    assert_eq!(storage.append_events(with_snapshot).await.unwrap(), 3);
    storage
        .append_events(append("j", 3, &["d", "e"]))
        .await
        .unwrap();

    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((3, Bytes::from("state@3"))));
    assert_eq!(
        payloads(&replay.events),
        vec![(4, "d".to_owned()), (5, "e".to_owned())]
    );

    // A later snapshot replaces the earlier one.
    let mut later = append("j", 5, &[]);
    later.snapshot = Some(Bytes::from("state@5"));
    assert_eq!(storage.append_events(later).await.unwrap(), 5);
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((5, Bytes::from("state@5"))));
    assert!(replay.events.is_empty());

    // Deleting marks the entity; the events stay for consumers.
    let mut delete = append("j", 5, &["bye"]);
    delete.delete = true;
    assert_eq!(storage.append_events(delete).await.unwrap(), 6);
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert!(replay.deleted);
    assert_eq!(payloads(&replay.events), vec![(6, "bye".to_owned())]);
}

#[tokio::test]
async fn feed_is_ordered_contiguous_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    storage
        .write_state(state("counter", "a", 0, Some("a1")))
        .await
        .unwrap();
    storage
        .append_events(append("j", 0, &["e1", "e2"]))
        .await
        .unwrap();
    // A conflicting write in between leaves no hole in the feed.
    storage
        .write_state(state("counter", "a", 0, Some("lost")))
        .await
        .unwrap_err();
    storage
        .write_state(state("counter", "b", 0, Some("b1")))
        .await
        .unwrap();
    storage
        .append_events(append("j", 2, &["e3"]))
        .await
        .unwrap();

    let all = storage.read_feed(0, &[], 100).await.unwrap();
    let offsets: Vec<u64> = all.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![1, 2, 3, 4, 5]);
    let summary: Vec<_> = all
        .iter()
        .map(|r| (r.type_id.as_str(), r.entity_id.as_str(), r.seq, r.kind))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("counter", "a", 1, FeedKind::State),
            ("journal", "j", 1, FeedKind::Event),
            ("journal", "j", 2, FeedKind::Event),
            ("counter", "b", 1, FeedKind::State),
            ("journal", "j", 3, FeedKind::Event),
        ]
    );
    assert_eq!(all[1].type_name, "test.Event");
    assert_eq!(all[1].payload, Bytes::from("e1"));

    let journal_only = storage
        .read_feed(0, &["journal".to_owned()], 100)
        .await
        .unwrap();
    assert_eq!(
        journal_only.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3, 5]
    );
    let page = storage.read_feed(2, &[], 2).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![3, 4]
    );
    let both = storage
        .read_feed(1, &["counter".to_owned(), "journal".to_owned()], 100)
        .await
        .unwrap();
    assert_eq!(
        both.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    assert!(storage.read_feed(5, &[], 100).await.unwrap().is_empty());
    assert!(
        storage
            .read_feed(u64::MAX, &[], 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(storage.read_feed(0, &[], 0).await.unwrap().is_empty());
    assert!(
        storage
            .read_feed(0, &["nothing".to_owned()], 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn consumer_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir);
    assert_eq!(storage.load_offset("view-a").await.unwrap(), 0);
    storage.store_offset("view-a", 17).await.unwrap();
    storage.store_offset("view-b", 3).await.unwrap();
    storage.store_offset("view-a", 42).await.unwrap();
    assert_eq!(storage.load_offset("view-a").await.unwrap(), 42);
    assert_eq!(storage.load_offset("view-b").await.unwrap(), 3);
    assert!(matches!(
        storage.store_offset("view-c", u64::MAX).await,
        Err(StorageError::Backend(_))
    ));
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
