//! A feed consumer killed with SIGKILL while writers and the consumer run:
//! after a restart the downstream state equals the source's.
//!
//! The child process (this test binary re-executed, switched by an
//! environment variable) writes value-entity states and journal events in a
//! loop and projects the feed into a second SQLite file, one transaction per
//! batch holding each entity's last applied sequence number (the dedup hook);
//! it prints its progress. The parent kills it, restarts the projection from
//! the stored offset, and compares the projection with the source.

use plinth::storage::{EntityStore, FeedSource, OffsetStore};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use plinth::feed::{self, ConsumerConfig, Delivery, FeedHandler, HandlerError};
use plinth::storage::{EventAppend, FeedRecord, SqliteOptions, SqliteStorage, StateWrite};
use rusqlite::{Connection, OptionalExtension, params};

/// Set in the child process: the directory of both databases.
const CHILD_ENV: &str = "PLINTH_FEED_CRASH_CHILD_DIR";
const CONSUMER: &str = "totals-view";
const WRITERS: u64 = 4;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn open(dir: &Path) -> Arc<SqliteStorage> {
    let storage = SqliteStorage::open(dir.join("plinth.db"), SqliteOptions::default());
    Arc::new(storage.expect("open storage"))
}

fn config() -> ConsumerConfig {
    let mut config = ConsumerConfig::new(CONSUMER, vec![]).with_delivery(Delivery::Batch);
    config.max_batch = 32;
    config.store_interval = Duration::from_millis(20);
    config
}

/// A projection: per entity, the last applied sequence number and the sum of
/// the values (each change carries its sequence number as its value).
struct Totals {
    conn: Mutex<Connection>,
    applied: AtomicU64,
    print: bool,
}

impl Totals {
    fn open(dir: &Path, print: bool) -> Totals {
        let conn = Connection::open(dir.join("view.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS totals (
                 entity TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, total INTEGER NOT NULL);",
        )
        .unwrap();
        Totals {
            conn: Mutex::new(conn),
            applied: AtomicU64::new(0),
            print,
        }
    }

    fn apply(&self, records: &[FeedRecord]) -> rusqlite::Result<Result<(), String>> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction()?;
        for record in records {
            let key = format!("{}/{}", record.type_id, record.entity_id);
            let last: i64 = tx
                .query_row(
                    "SELECT last_seq FROM totals WHERE entity = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let seq = i64::try_from(record.seq).unwrap();
            if seq != last + 1 {
                // Out of order or skipped: the transaction rolls back.
                return Ok(Err(format!("{key}: seq {} after {last}", record.seq)));
            }
            let value: i64 = std::str::from_utf8(&record.payload)
                .ok()
                .and_then(|text| text.parse().ok())
                .unwrap_or(0);
            tx.execute(
                "INSERT INTO totals (entity, last_seq, total) VALUES (?1, ?2, ?3)
                 ON CONFLICT (entity) DO UPDATE SET last_seq = ?2, total = total + ?3",
                params![key, seq, value],
            )?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    fn rows(&self) -> Vec<(String, u64, u64)> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT entity, last_seq, total FROM totals ORDER BY entity")
            .unwrap();
        stmt.query_map([], |row| {
            let (seq, total): (i64, i64) = (row.get(1)?, row.get(2)?);
            Ok((row.get(0)?, seq as u64, total as u64))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }
}

impl FeedHandler for Totals {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.handle_batch(std::slice::from_ref(record))
    }

    fn handle_batch<'a>(
        &'a self,
        records: &'a [FeedRecord],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.apply(records)
                .map_err(HandlerError::msg)?
                .map_err(HandlerError::msg)?;
            let applied = self
                .applied
                .fetch_add(records.len() as u64, Ordering::SeqCst);
            if self.print {
                println!("applied {}", applied + records.len() as u64);
            }
            Ok(())
        })
    }

    fn applied_seq<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, HandlerError>> {
        let key = format!("{type_id}/{entity_id}");
        let conn = self.conn.lock().unwrap();
        let seq = conn
            .query_row(
                "SELECT last_seq FROM totals WHERE entity = ?1",
                [key],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|seq| seq.map(|seq| seq as u64))
            .map_err(HandlerError::msg);
        Box::pin(async move { seq })
    }
}

/// Write states and events forever.
async fn write_forever(storage: Arc<SqliteStorage>, task: u64) {
    let id = format!("w{task}");
    let mut events_seq = 0;
    for expected in 0u64.. {
        let write = StateWrite {
            meta: None,
            type_id: "counter".to_owned(),
            entity_id: id.clone(),
            expected_seq: expected,
            payload: Some(Bytes::from((expected + 1).to_string())),
            type_name: "test.Counter".to_owned(),
            schedule: Vec::new(),
            trace: None,
        };
        storage.write_state(write).await.unwrap();
        let count = 1 + expected % 3;
        let append = EventAppend {
            type_id: "ledger".to_owned(),
            entity_id: id.clone(),
            expected_seq: events_seq,
            events: (1..=count)
                .map(|i| {
                    (
                        "test.Posted".to_owned(),
                        Bytes::from((events_seq + i).to_string()),
                    )
                })
                .collect(),
            snapshot: None,
            delete: false,
            schedule: Vec::new(),
            trace: None,
        };
        events_seq = storage.append_events(append).await.unwrap();
    }
}

/// The child side of [`a_killed_projection_catches_up_to_the_source`]: does
/// nothing unless started by it.
#[test]
fn crash_child_projection() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    runtime().block_on(async move {
        let dir = Path::new(&dir);
        let storage = open(dir);
        let totals = Arc::new(Totals::open(dir, true));
        let _consumer = feed::start(storage.clone(), storage.clone(), config(), totals)
            .await
            .unwrap();
        let writers: Vec<_> = (0..WRITERS)
            .map(|task| tokio::spawn(write_forever(storage.clone(), task)))
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[test]
fn a_killed_projection_catches_up_to_the_source() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_projection",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut applied = 0u64;
    while applied < 1500 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        if let Some(count) = line.strip_prefix("applied ") {
            applied = applied.max(count.parse().unwrap());
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    drop(lines);
    reader.join().unwrap();
    assert!(!status.success(), "the child must be killed: {status:?}");
    assert!(applied >= 1500, "the child applied only {applied} records");

    runtime().block_on(async move {
        let storage = open(dir.path());
        let stored = storage.load_offset(CONSUMER).await.unwrap();
        let head = storage.read_feed(0, &[], usize::MAX).await.unwrap().len() as u64;
        println!("killed after {applied} applied; stored offset {stored} of {head}");
        let totals = Arc::new(Totals::open(dir.path(), false));
        let consumer = feed::start(storage.clone(), storage.clone(), config(), totals.clone())
            .await
            .unwrap();
        let start = Instant::now();
        while consumer.status().delivered_offset < head {
            assert!(start.elapsed() < Duration::from_secs(60), "no catch-up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = consumer.status();
        consumer.shutdown().await.unwrap();
        // Every change applied once, in order: the projection holds, per
        // entity, the source's last sequence number and the sum 1 + .. + seq.
        let mut expected = Vec::new();
        for task in 0..WRITERS {
            let id = format!("w{task}");
            let state = storage.load_state("counter", &id).await.unwrap();
            let events = storage.load_journal("ledger", &id).await.unwrap().events;
            for (key, seq) in [
                (format!("counter/{id}"), state.map_or(0, |s| s.seq)),
                (format!("ledger/{id}"), events.last().map_or(0, |e| e.seq)),
            ] {
                if seq > 0 {
                    expected.push((key, seq, seq * (seq + 1) / 2));
                }
            }
        }
        expected.sort();
        assert_eq!(totals.rows(), expected);
        assert_eq!(status.failures, 0, "out-of-order records: {status:?}");
        assert_eq!(storage.load_offset(CONSUMER).await.unwrap(), head);
        println!(
            "after the restart: {} delivered, {} duplicates dropped",
            status.delivered, status.duplicates
        );
    });
}
