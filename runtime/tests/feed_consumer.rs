//! The change-feed consumer against a real SQLite file: complete per-entity
//! ordered delivery under concurrent writers, retries that hold back only the
//! failing entity, restarts with deduplication, status figures, and the
//! commit-to-handler latency.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use plinth::feed::{self, ConsumerConfig, Delivery, FeedHandler, HandlerError};
use plinth::storage::{EventAppend, FeedRecord, SqliteOptions, SqliteStorage, StateWrite, Storage};
use tokio::sync::watch;

fn open(path: &Path) -> Arc<SqliteStorage> {
    Arc::new(SqliteStorage::open(path, SqliteOptions::default()).expect("open storage"))
}

fn state(type_id: &str, id: &str, expected_seq: u64) -> StateWrite {
    StateWrite {
        type_id: type_id.to_owned(),
        entity_id: id.to_owned(),
        expected_seq,
        payload: Some(Bytes::from((expected_seq + 1).to_string())),
        type_name: "test.Counter".to_owned(),
    }
}

/// Write `count` changes to each of `entities` value entities of `type_id`.
async fn write_all(storage: &SqliteStorage, type_id: &str, entities: &[String], count: u64) {
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
struct Recorder {
    /// `(type_id/entity_id, seq)` in handling order, with the handling time.
    log: Mutex<Vec<(String, u64, Instant)>>,
    /// Remaining failures per `(entity_id, seq)`.
    failures: Mutex<HashMap<(String, u64), u32>>,
    handled: AtomicU64,
    /// Calls of `handle_batch` with more than one entity.
    mixed_batches: AtomicU64,
}

impl Recorder {
    fn fail(&self, entity: &str, seq: u64, times: u32) {
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

    fn record(&self, record: &FeedRecord) {
        let key = format!("{}/{}", record.type_id, record.entity_id);
        self.log
            .lock()
            .unwrap()
            .push((key, record.seq, Instant::now()));
        self.handled.fetch_add(1, Ordering::SeqCst);
    }

    /// The sequence numbers seen per entity, in handling order.
    fn by_entity(&self) -> BTreeMap<String, Vec<u64>> {
        let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (key, seq, _) in self.log.lock().unwrap().iter() {
            seen.entry(key.clone()).or_default().push(*seq);
        }
        seen
    }

    /// When the record was handled.
    fn handled_at(&self, key: &str, seq: u64) -> Option<Instant> {
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
async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_once_in_entity_order_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    let recorder = Arc::new(Recorder::default());
    let config = ConsumerConfig::new("orders", vec!["counter".to_owned(), "ledger".to_owned()]);
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    let mut writers = Vec::new();
    for task in 0..16 {
        let storage = storage.clone();
        writers.push(tokio::spawn(async move {
            let entities = ids(&format!("c{task}"), 2);
            write_all(&storage, "counter", &entities, 30).await;
            // Events of an event-sourced type, three per append.
            let id = format!("l{task}");
            for round in 0..10u64 {
                let events = (0..3)
                    .map(|i| {
                        (
                            "test.Posted".to_owned(),
                            Bytes::from(format!("{round}.{i}")),
                        )
                    })
                    .collect();
                let append = EventAppend {
                    type_id: "ledger".to_owned(),
                    entity_id: id.clone(),
                    expected_seq: round * 3,
                    events,
                    snapshot: None,
                    delete: false,
                };
                storage.append_events(append).await.unwrap();
            }
            // A type the consumer does not read.
            write_all(&storage, "other", &[format!("o{task}")], 5).await;
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let expected = 16 * 2 * 30 + 16 * 30;
    wait_until(Duration::from_secs(30), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= expected
    })
    .await;
    let seen = recorder.by_entity();
    assert_eq!(seen.len(), 16 * 3, "entities: {:?}", seen.keys());
    for (entity, seqs) in &seen {
        assert!(!entity.starts_with("other/"), "read a type not asked for");
        let want: Vec<u64> = (1..=30).collect();
        assert_eq!(seqs, &want, "{entity} out of order or incomplete");
    }
    wait_until(Duration::from_secs(5), "lag 0", || {
        consumer.status().lag_records == 0
    })
    .await;
    let status = consumer.status();
    let head = storage.read_feed(0, &[], usize::MAX).await.unwrap().len() as u64;
    assert_eq!(status.head_offset, head);
    // The reads skipped the other type's records too: the watermark is the head.
    assert_eq!(status.delivered_offset, head);
    assert_eq!((status.delivered, status.duplicates), (expected, 0));
    consumer.shutdown().await.unwrap();
    assert_eq!(storage.load_offset("orders").await.unwrap(), head);
}

/// A failing record holds back only its entity, in both delivery modes.
async fn failing_record_holds_back_only_its_entity(delivery: Delivery) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    let recorder = Arc::new(Recorder::default());
    recorder.fail("bad", 2, 6);
    let config = ConsumerConfig::new("subscription", vec![]).with_delivery(delivery);
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    write_all(&storage, "counter", &["bad".to_owned()], 3).await;
    wait_until(Duration::from_secs(5), "the first failure", || {
        consumer.status().failures >= 1
    })
    .await;
    // Written while "bad" retries (about 630 ms of backoff): they must flow
    // past it.
    let others = ids("good", 20);
    let writers: Vec<_> = others
        .iter()
        .map(|id| {
            let (storage, id) = (storage.clone(), id.clone());
            tokio::spawn(async move { write_all(&storage, "counter", &[id], 5).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    wait_until(Duration::from_secs(30), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 3 + 20 * 5
    })
    .await;
    let seen = recorder.by_entity();
    assert_eq!(seen["counter/bad"], [1, 2, 3]);
    let bad_done = recorder.handled_at("counter/bad", 2).unwrap();
    for id in &others {
        assert_eq!(seen[&format!("counter/{id}")], [1, 2, 3, 4, 5]);
        let last = recorder.handled_at(&format!("counter/{id}"), 5).unwrap();
        assert!(last < bad_done, "{id} waited for the failing entity");
    }
    let status = consumer.status();
    assert_eq!(status.delivered, 3 + 20 * 5);
    // Six failures of "bad" alone, plus, in batch mode, one per mixed batch
    // holding it before the batch is split.
    assert!(status.failures >= 6, "{status:?}");
    assert_eq!(status.retrying_entities, 0);
    consumer.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_record_is_retried_in_order_while_other_entities_flow() {
    failing_record_holds_back_only_its_entity(Delivery::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_split_and_retried_while_other_entities_flow() {
    failing_record_holds_back_only_its_entity(Delivery::Batch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_mix_entities_in_offset_order() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    write_all(&storage, "counter", &ids("e", 50), 10).await;
    let recorder = Arc::new(Recorder::default());
    let config = ConsumerConfig::new("projector", vec![]).with_delivery(Delivery::Batch);
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 500
    })
    .await;
    assert!(recorder.mixed_batches.load(Ordering::SeqCst) > 0);
    for seqs in recorder.by_entity().values() {
        assert_eq!(seqs, &(1..=10).collect::<Vec<u64>>());
    }
    consumer.shutdown().await.unwrap();
}

/// A downstream store that remembers the last applied sequence number per
/// entity and counts every application; its dedup hook reports what it holds.
#[derive(Default)]
struct Downstream {
    applied: Mutex<HashMap<String, u64>>,
    /// `(entity, seq) -> (times applied, feed offset)`.
    applications: Mutex<HashMap<(String, u64), (u32, u64)>>,
    /// A delay per record, to stop a consumer mid-stream.
    delay: Duration,
    use_hook: bool,
}

impl FeedHandler for Downstream {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.applied
                .lock()
                .unwrap()
                .insert(record.entity_id.clone(), record.seq);
            let mut applications = self.applications.lock().unwrap();
            let entry = applications
                .entry((record.entity_id.clone(), record.seq))
                .or_insert((0, record.offset));
            entry.0 += 1;
            Ok(())
        })
    }

    fn applied_seq<'a>(
        &'a self,
        _type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, HandlerError>> {
        let known = self.applied.lock().unwrap().get(entity_id).copied();
        Box::pin(async move { Ok(if self.use_hook { known } else { None }) })
    }
}

/// Stop a consumer abruptly mid-stream and start it again: nothing is lost;
/// records after the stored offset come again and the hook drops them (or,
/// without the hook, they are delivered twice).
async fn restart_after_abort(use_hook: bool) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    write_all(&storage, "counter", &ids("e", 10), 60).await;
    let first = Arc::new(Downstream {
        delay: Duration::from_millis(1),
        use_hook,
        ..Downstream::default()
    });
    let mut config = ConsumerConfig::new("view", vec![]);
    config.store_every = 1_000_000;
    config.store_interval = Duration::from_millis(30);
    let consumer = feed::start(storage.clone(), config.clone(), first.clone())
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "200 records", || {
        first.applications.lock().unwrap().len() >= 200
    })
    .await;
    drop(consumer);
    let stored = storage.load_offset("view").await.unwrap();
    let handled_before = first.applications.lock().unwrap().clone();
    assert!(stored < 600, "stopped mid-stream");
    // Handled after the stored offset: these come again.
    let again = handled_before
        .values()
        .filter(|(_, offset)| *offset > stored)
        .count() as u64;
    assert!(again > 0, "the stored offset lags the handled records");

    let second = Arc::new(Downstream {
        use_hook,
        ..Downstream::default()
    });
    second
        .applied
        .lock()
        .unwrap()
        .extend(first.applied.lock().unwrap().clone());
    let consumer = feed::start(storage.clone(), config, second.clone())
        .await
        .unwrap();
    assert_eq!(consumer.status().stored_offset, stored);
    wait_until(Duration::from_secs(30), "the rest", || {
        consumer.status().delivered_offset == 600
    })
    .await;
    let status = consumer.status();
    consumer.shutdown().await.unwrap();
    assert_eq!(storage.load_offset("view").await.unwrap(), 600);
    let applications = second.applications.lock().unwrap();
    for entity in ids("e", 10) {
        for seq in 1..=60 {
            let before = handled_before
                .get(&(entity.clone(), seq))
                .map_or(0, |a| a.0);
            let after = applications.get(&(entity.clone(), seq)).map_or(0, |a| a.0);
            // Nothing lost; a duplicate only without the hook.
            assert!(before + after >= 1, "{entity}/{seq} lost");
            if use_hook {
                assert_eq!(before + after, 1, "{entity}/{seq} applied twice");
            }
        }
    }
    if use_hook {
        assert_eq!(status.duplicates, again);
        assert_eq!(status.delivered, 600 - stored - again);
    } else {
        assert_eq!(status.duplicates, 0);
        assert_eq!(status.delivered, 600 - stored);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_drops_redelivered_records_through_the_dedup_hook() {
    restart_after_abort(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_without_the_hook_redelivers_what_was_not_stored() {
    restart_after_abort(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_stores_everything_handled() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    write_all(&storage, "counter", &ids("e", 5), 20).await;
    let recorder = Arc::new(Recorder::default());
    let mut config = ConsumerConfig::new("sub", vec![]);
    config.store_every = 1_000_000;
    config.store_interval = Duration::from_secs(3600);
    let consumer = feed::start(storage.clone(), config.clone(), recorder.clone())
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 100
    })
    .await;
    consumer.shutdown().await.unwrap();
    assert_eq!(storage.load_offset("sub").await.unwrap(), 100);
    // Started again, it has nothing to deliver until new writes come.
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    write_all(&storage, "counter", &["late".to_owned()], 1).await;
    wait_until(Duration::from_secs(10), "the new record", || {
        recorder.handled.load(Ordering::SeqCst) >= 101
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(recorder.handled.load(Ordering::SeqCst), 101);
    consumer.shutdown().await.unwrap();
}

/// A handler that waits for a gate before handling anything.
struct Gated {
    open: watch::Receiver<bool>,
    handled: AtomicU64,
}

impl FeedHandler for Gated {
    fn handle<'a>(&'a self, _record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let mut open = self.open.clone();
            open.wait_for(|open| *open)
                .await
                .map_err(HandlerError::msg)?;
            self.handled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_lag_and_the_age_of_the_oldest_record() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    let (gate, open) = watch::channel(false);
    let handler = Arc::new(Gated {
        open,
        handled: AtomicU64::new(0),
    });
    let mut config = ConsumerConfig::new("lagging", vec!["counter".to_owned()]);
    config.concurrency = 4;
    let consumer = feed::start(storage.clone(), config, handler.clone())
        .await
        .unwrap();
    let idle = consumer.status();
    assert_eq!((idle.head_offset, idle.lag_records), (0, 0));
    assert!(idle.running);
    write_all(&storage, "counter", &ids("e", 10), 10).await;
    write_all(&storage, "other", &["x".to_owned()], 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lagging = consumer.status();
    assert_eq!(lagging.head_offset, 120);
    // Read past the other type's records once it found nothing of its own.
    assert_eq!(lagging.read_offset, 120, "{lagging:?}");
    // 100 read and waiting.
    assert_eq!(lagging.lag_records, 100, "{lagging:?}");
    assert_eq!(lagging.delivered_offset, 0);
    assert_eq!(lagging.in_flight, 4);
    assert!(lagging.oldest_undelivered_ms >= 90, "{lagging:?}");
    assert!(lagging.oldest_undelivered_ms < 10_000, "{lagging:?}");
    gate.send(true).unwrap();
    wait_until(Duration::from_secs(10), "no lag", || {
        consumer.status().lag_records == 0
    })
    .await;
    let caught_up = consumer.status();
    assert_eq!(handler.handled.load(Ordering::SeqCst), 100);
    assert_eq!(
        (caught_up.delivered_offset, caught_up.last_delivered_offset),
        (120, 100)
    );
    assert_eq!(caught_up.oldest_undelivered_ms, 0);
    let source = consumer.status_source();
    consumer.shutdown().await.unwrap();
    let stopped = source.status();
    assert_eq!((stopped.stored_offset, stopped.running), (120, false));
}

/// A handler that reports each record's handling time.
struct Timer {
    sender: tokio::sync::mpsc::UnboundedSender<(u64, Instant)>,
}

impl FeedHandler for Timer {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        let _ = self.sender.send((record.offset, Instant::now()));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_to_handler_latency() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    let (sender, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let consumer = feed::start(
        storage.clone(),
        ConsumerConfig::new("timer", vec![]),
        Arc::new(Timer { sender }),
    )
    .await
    .unwrap();
    let (mut from_start, mut from_ack) = (Vec::new(), Vec::new());
    for expected in 0..300u64 {
        let start = Instant::now();
        storage
            .write_state(state("counter", "one", expected))
            .await
            .unwrap();
        let acked = Instant::now();
        let (offset, at) = tokio::time::timeout(Duration::from_secs(5), handled.recv())
            .await
            .expect("the record reaches the handler without a poll")
            .unwrap();
        assert_eq!(offset, expected + 1);
        from_start.push(at.duration_since(start));
        // Signed: the handler may run before the writer's reply arrives.
        from_ack.push(at.saturating_duration_since(acked));
    }
    from_start.sort();
    from_ack.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    println!(
        "write start -> handler: median {:?}, p99 {:?}; ack -> handler: median {:?}, p99 {:?}",
        pct(&from_start, 50),
        pct(&from_start, 99),
        pct(&from_ack, 50),
        pct(&from_ack, 99)
    );
    // The job's completion is counted just after the handler returns.
    wait_until(Duration::from_secs(5), "the count", || {
        consumer.status().delivered == 300
    })
    .await;
    assert_eq!(consumer.status().head_offset, 300);
    consumer.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_buffer_pauses_reading_and_still_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    write_all(&storage, "counter", &ids("e", 20), 10).await;
    let recorder = Arc::new(Recorder::default());
    recorder.fail("e-0", 1, 3);
    let mut config = ConsumerConfig::new("small", vec![]);
    (config.max_buffered, config.read_batch, config.concurrency) = (8, 4, 2);
    config.max_batch = 3;
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 200
    })
    .await;
    for seqs in recorder.by_entity().values() {
        assert_eq!(seqs, &(1..=10).collect::<Vec<u64>>());
    }
    let status = consumer.status();
    assert_eq!(status.failures, 3);
    consumer.shutdown().await.unwrap();
    assert_eq!(storage.load_offset("small").await.unwrap(), 200);
}

/// A storage without commit notifications: consumers fall back to polling.
struct Unnotified(Arc<SqliteStorage>);

impl Storage for Unnotified {
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<Option<plinth::storage::StoredState>>> {
        self.0.load_state(type_id, entity_id)
    }

    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, plinth::storage::StorageResult<u64>> {
        self.0.write_state(write)
    }

    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<plinth::storage::Replay>> {
        self.0.load_journal(type_id, entity_id)
    }

    fn append_events(
        &self,
        append: EventAppend,
    ) -> BoxFuture<'_, plinth::storage::StorageResult<u64>> {
        self.0.append_events(append)
    }

    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<Vec<FeedRecord>>> {
        self.0.read_feed(after, type_ids, limit)
    }

    fn load_offset<'a>(
        &'a self,
        consumer: &'a str,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<u64>> {
        self.0.load_offset(consumer)
    }

    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<()>> {
        self.0.store_offset(consumer, offset)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_commit_notifications_the_consumer_polls() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open(&dir.path().join("plinth.db"));
    let storage = Arc::new(Unnotified(sqlite.clone()));
    assert!(storage.feed_watch().is_none());
    let recorder = Arc::new(Recorder::default());
    let mut config = ConsumerConfig::new("poller", vec![]);
    config.poll_interval = Duration::from_millis(20);
    let consumer = feed::start(storage.clone(), config, recorder.clone())
        .await
        .unwrap();
    write_all(&sqlite, "counter", &ids("e", 5), 4).await;
    wait_until(Duration::from_secs(10), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 20
    })
    .await;
    wait_until(Duration::from_secs(5), "the watermark", || {
        consumer.status().delivered_offset == 20
    })
    .await;
    assert_eq!(consumer.status().head_offset, 20);
    consumer.shutdown().await.unwrap();
}
