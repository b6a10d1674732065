//! How the SQLite backend lays data out on disk: a value entity's state and an
//! event stored once (in the change-feed record), databases of the previous schema
//! version upgraded in place, and the WAL checkpointed at the configured size.

use plinth::storage::EntityStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use plinth::storage::{EventAppend, SCHEMA_VERSION, SqliteOptions, SqliteStorage, StateWrite};

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

/// A state row as stored: entity id, sequence, its own bytes, the bytes of the
/// feed record it points at.
type StoredRow = (String, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// The stored sequence and bytes of counter `id`, which must exist.
async fn loaded(storage: &SqliteStorage, id: &str) -> (u64, Option<Vec<u8>>) {
    let stored = storage
        .load_state("counter", id)
        .await
        .unwrap()
        .expect("stored");
    (stored.seq, stored.payload.map(|p| p.to_vec()))
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn state_and_event_bytes_are_stored_once_in_the_feed_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.db");
    let storage = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
    let writes = [
        ("a", 0, Some("one")),
        ("a", 1, Some("two")),
        ("b", 0, Some("bee")),
        ("b", 1, None),
    ];
    for (id, expected, payload) in writes {
        storage
            .write_state(state("counter", id, expected, payload))
            .await
            .unwrap();
    }
    let events = EventAppend {
        type_id: "log".to_owned(),
        entity_id: "j".to_owned(),
        expected_seq: 0,
        events: ["e1", "e2"]
            .iter()
            .map(|e| ("test.Event".to_owned(), Bytes::from(e.to_string())))
            .collect(),
        snapshot: None,
        delete: false,
        schedule: Vec::new(),
        trace: None,
    };
    storage.append_events(events).await.unwrap();
    let replayed = storage.load_journal("log", "j").await.unwrap();
    assert_eq!(replayed.events.len(), 2);
    assert_eq!(replayed.events[1].payload.as_ref(), b"e2");
    storage.close().await.unwrap();
    drop(storage);

    let conn = raw(&path);
    let rows: Vec<StoredRow> = conn
        .prepare(
            "SELECT s.entity_id, s.seq, s.payload, f.payload FROM entity_state s
             LEFT JOIN feed f ON f.position = s.position ORDER BY s.entity_id",
        )
        .unwrap()
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            // The state row holds no bytes; it points at the latest feed record.
            ("a".to_owned(), 2, None, Some(b"two".to_vec())),
            // A deleted entity points at nothing.
            ("b".to_owned(), 2, None, None),
        ]
    );
    let feed: i64 = conn
        .query_row("SELECT COUNT(*) FROM feed", [], |row| row.get(0))
        .unwrap();
    assert_eq!(feed, 6, "every change is still a feed record");
    let events: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare(
            "SELECT j.seq, j.payload, f.payload FROM journal j
             JOIN feed f ON f.position = j.position ORDER BY j.seq",
        )
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        vec![
            (1, Vec::new(), b"e1".to_vec()),
            (2, Vec::new(), b"e2".to_vec())
        ],
        "an event's bytes are in its feed record only"
    );
}

#[tokio::test]
async fn a_version_2_database_keeps_its_states_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.db");
    drop(SqliteStorage::open(&path, SqliteOptions::default()).unwrap());
    // Turn the fresh file into what version 2 wrote: state and event bytes in
    // their own rows, no `position` columns, a per-type feed index, no leases,
    // no schedule, no `meta` column, no feed `trace` column.
    let conn = raw(&path);
    conn.execute_batch(
        "DROP TABLE leases;
         ALTER TABLE feed DROP COLUMN trace;
         DROP TABLE scheduled;
         ALTER TABLE entity_state DROP COLUMN meta;
         ALTER TABLE entity_state DROP COLUMN position;
         CREATE INDEX feed_by_type ON feed (type_id, position);
         INSERT INTO entity_state (type_id, entity_id, seq, payload)
             VALUES ('counter', 'kept', 3, CAST('old bytes' AS BLOB));
         INSERT INTO entity_state (type_id, entity_id, seq, payload)
             VALUES ('counter', 'gone', 2, NULL);
         ALTER TABLE journal DROP COLUMN position;
         INSERT INTO journal (type_id, entity_id, seq, type_name, payload)
             VALUES ('log', 'j', 1, 'test.Event', CAST('old event' AS BLOB));
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);

    let storage = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(
        loaded(&storage, "kept").await,
        (3, Some(b"old bytes".to_vec()))
    );
    assert_eq!(loaded(&storage, "gone").await, (2, None));

    // The fence still holds on upgraded rows, and a new write moves the row
    // to the new layout.
    assert!(
        storage
            .write_state(state("counter", "kept", 2, Some("stale")))
            .await
            .is_err()
    );
    assert_eq!(
        storage
            .write_state(state("counter", "kept", 3, Some("new bytes")))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        loaded(&storage, "kept").await,
        (4, Some(b"new bytes".to_vec()))
    );
    // The same for journals: the old event replays, a new one follows it.
    let append = EventAppend {
        type_id: "log".to_owned(),
        entity_id: "j".to_owned(),
        expected_seq: 1,
        events: vec![("test.Event".to_owned(), Bytes::from_static(b"new event"))],
        snapshot: None,
        delete: false,
        schedule: Vec::new(),
        trace: None,
    };
    assert_eq!(storage.append_events(append).await.unwrap(), 2);
    let replay = storage.load_journal("log", "j").await.unwrap();
    let events: Vec<(u64, &[u8])> = replay
        .events
        .iter()
        .map(|e| (e.seq, e.payload.as_ref()))
        .collect();
    assert_eq!(events, vec![(1, &b"old event"[..]), (2, &b"new event"[..])]);
    storage.close().await.unwrap();
    drop(storage);

    let conn = raw(&path);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, i64::from(SCHEMA_VERSION));
    let legacy: Option<Vec<u8>> = conn
        .query_row(
            "SELECT payload FROM entity_state WHERE entity_id = 'kept'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(legacy, None, "the upgraded row no longer holds the bytes");
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'feed'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "the feed is indexed by its position only");
}

/// Bytes of the WAL file (0 when it does not exist).
fn wal_bytes(db: &Path) -> u64 {
    let wal = db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()));
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// Storage at `path` whose writer alone checkpoints, when the WAL holds
/// `pages` pages.
fn open_checkpointing_at(path: &Path, pages: u32) -> Arc<SqliteStorage> {
    let options = SqliteOptions {
        checkpoint_pages: pages,
        checkpoint_interval: None,
        ..SqliteOptions::default()
    };
    Arc::new(SqliteStorage::open(path, options).unwrap())
}

/// Write `count` distinct entities of 4 KiB each, 16 at a time.
async fn write_large_states(storage: &Arc<SqliteStorage>, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let storage = storage.clone();
        tasks.spawn(async move {
            for i in (worker..count).step_by(16) {
                let mut write = state("big", &format!("id-{i}"), 0, None);
                write.payload = Some(Bytes::from(vec![b'x'; 4096]));
                storage.write_state(write).await.expect("write");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// The first, middle and last of the states `write_large_states` wrote for
/// 1,500 entities read back whole.
async fn assert_large_states_read_back(storage: &SqliteStorage) {
    for i in [0, 749, 1499] {
        let loaded = storage
            .load_state("big", &format!("id-{i}"))
            .await
            .unwrap()
            .expect("written");
        assert_eq!(loaded.payload.map(|p| p.len()), Some(4096));
    }
}

#[tokio::test]
async fn wal_is_checkpointed_at_the_configured_size() {
    // One 4 KiB state is at least two pages (its feed record does not fit in
    // one), and one WAL frame is a 24-byte header plus a 4 KiB page.
    const FRAME: u64 = 24 + 4096;
    let dir = tempfile::tempdir().unwrap();

    // A small threshold: checkpoints keep the WAL near it, and the data reaches
    // the database file.
    let small = dir.path().join("small.db");
    let storage = open_checkpointing_at(&small, 200);
    write_large_states(&storage, 1500).await;
    let wal = wal_bytes(&small);
    assert!(
        wal <= 400 * FRAME,
        "the WAL stays near 200 pages, has {} frames",
        wal / FRAME
    );
    let main = std::fs::metadata(&small).unwrap().len();
    assert!(
        main >= 1500 * 4096,
        "checkpoints copied the states into the database file ({main} bytes)"
    );

    // Above SQLite's default of 1,000 pages: no checkpoint at 1,000.
    let large = dir.path().join("large.db");
    let storage = open_checkpointing_at(&large, 5_000);
    write_large_states(&storage, 1500).await;
    let wal = wal_bytes(&large);
    assert!(
        wal >= 1_500 * FRAME,
        "no checkpoint at 1,000 pages: after 1,500 states of 4 KiB the WAL has {} frames",
        wal / FRAME
    );
    assert_large_states_read_back(&storage).await;
}

#[tokio::test]
async fn the_checkpoint_thread_copies_the_wal_while_the_writer_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thread.db");
    // The writer alone would not checkpoint before 100,000 pages (the large
    // case above shows it does not at 5,000): the data reaches the database
    // file only through the thread.
    let options = SqliteOptions {
        checkpoint_pages: 100_000,
        checkpoint_interval: Some(Duration::from_millis(20)),
        ..SqliteOptions::default()
    };
    let storage = Arc::new(SqliteStorage::open(&path, options).unwrap());
    write_large_states(&storage, 1500).await;
    // The thread checkpoints within a round of the last commit.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let main = std::fs::metadata(&path).unwrap().len();
        if main >= 1500 * 4096 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpoint thread did not copy the states into the database file ({main} bytes)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_large_states_read_back(&storage).await;
    storage.close().await.unwrap();
}
