//! Shared fixtures of the change-feed consumer tests: a SQLite file, writes of
//! value-entity states, and a handler that records (and fails) deliveries.

#![allow(dead_code)]

use plinth::storage::EntityStore;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use plinth::feed::{FeedHandler, HandlerError};
use plinth::storage::{FeedRecord, SqliteOptions, SqliteStorage, StateWrite};

pub fn open(path: &Path) -> Arc<SqliteStorage> {
    Arc::new(SqliteStorage::open(path, SqliteOptions::default()).expect("open storage"))
}

pub fn state(type_id: &str, id: &str, expected_seq: u64) -> StateWrite {
    StateWrite {
        meta: None,
        type_id: type_id.to_owned(),
        entity_id: id.to_owned(),
        expected_seq,
        payload: Some(Bytes::from((expected_seq + 1).to_string())),
        type_name: "test.Counter".to_owned(),
        schedule: Vec::new(),
        trace: None,
    }
}

/// Write `count` changes to each of `entities` value entities of `type_id`.
pub async fn write_all(storage: &SqliteStorage, type_id: &str, entities: &[String], count: u64) {
    for expected in 0..count {
        for id in entities {
            storage
                .write_state(state(type_id, id, expected))
                .await
                .unwrap();
        }
    }
}

/// A handler that records what it sees and fails selected records a number of
/// times.
#[derive(Default)]
pub struct Recorder {
    /// `(type_id/entity_id, seq)` in handling order, with the handling time.
    pub log: Mutex<Vec<(String, u64, Instant)>>,
    /// Remaining failures per `(entity_id, seq)`.
    pub failures: Mutex<HashMap<(String, u64), u32>>,
    pub handled: AtomicU64,
    /// Calls of `handle_batch` with more than one entity.
    pub mixed_batches: AtomicU64,
}

impl Recorder {
    pub fn fail(&self, entity: &str, seq: u64, times: u32) {
        let mut failures = self.failures.lock().unwrap();
        failures.insert((entity.to_owned(), seq), times);
    }

    /// Whether the record must fail now (counting the failure down).
    fn must_fail(&self, record: &FeedRecord) -> bool {
        let mut failures = self.failures.lock().unwrap();
        match failures.get_mut(&(record.entity_id.clone(), record.seq)) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    pub fn record(&self, record: &FeedRecord) {
        let key = format!("{}/{}", record.type_id, record.entity_id);
        self.log
            .lock()
            .unwrap()
            .push((key, record.seq, Instant::now()));
        self.handled.fetch_add(1, Ordering::SeqCst);
    }

    /// The sequence numbers seen per entity, in handling order.
    pub fn by_entity(&self) -> BTreeMap<String, Vec<u64>> {
        let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (key, seq, _) in self.log.lock().unwrap().iter() {
            seen.entry(key.clone()).or_default().push(*seq);
        }
        seen
    }

    /// When the record was handled.
    pub fn handled_at(&self, key: &str, seq: u64) -> Option<Instant> {
        let log = self.log.lock().unwrap();
        log.iter()
            .find(|(k, s, _)| k == key && *s == seq)
            .map(|(_, _, at)| *at)
    }
}

impl FeedHandler for Recorder {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.must_fail(record) {
                return Err(HandlerError::msg(format!("refusing seq {}", record.seq)));
            }
            self.record(record);
            Ok(())
        })
    }

    fn handle_batch<'a>(
        &'a self,
        records: &'a [FeedRecord],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            // All or nothing: check every record before applying any.
            if records.iter().any(|record| self.must_fail(record)) {
                return Err(HandlerError::msg("refusing the batch"));
            }
            let first = &records[0].entity_id;
            if records.iter().any(|record| &record.entity_id != first) {
                self.mixed_batches.fetch_add(1, Ordering::SeqCst);
            }
            records.iter().for_each(|record| self.record(record));
            Ok(())
        })
    }
}

/// Wait until `done` holds, failing after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}
