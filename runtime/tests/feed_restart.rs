//! The change-feed consumer across stops and starts, against a real SQLite
//! file: restarts with deduplication, a clean shutdown storing everything
//! handled, status figures, and the commit-to-handler latency.

mod feed_support;

use plinth::storage::{EntityStore, OffsetStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use feed_support::*;
use futures::future::BoxFuture;
use plinth::feed::{self, ConsumerConfig, FeedHandler, HandlerError};
use plinth::storage::FeedRecord;
use tokio::sync::watch;

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
    let consumer = feed::start(
        storage.clone(),
        storage.clone(),
        config.clone(),
        first.clone(),
    )
    .await
    .unwrap();
    wait_until(Duration::from_secs(30), "200 records", || {
        first.applications.lock().unwrap().len() >= 200
    })
    .await;
    drop(consumer);
    // A handler of the aborted consumer may be finishing a record on another
    // worker thread; let it end before the downstream state is read.
    tokio::time::sleep(Duration::from_millis(100)).await;
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
    let consumer = feed::start(storage.clone(), storage.clone(), config, second.clone())
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
    let consumer = feed::start(
        storage.clone(),
        storage.clone(),
        config.clone(),
        recorder.clone(),
    )
    .await
    .unwrap();
    wait_until(Duration::from_secs(10), "every record", || {
        recorder.handled.load(Ordering::SeqCst) >= 100
    })
    .await;
    consumer.shutdown().await.unwrap();
    assert_eq!(storage.load_offset("sub").await.unwrap(), 100);
    // Started again, it has nothing to deliver until new writes come.
    let consumer = feed::start(storage.clone(), storage.clone(), config, recorder.clone())
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
    let consumer = feed::start(storage.clone(), storage.clone(), config, handler.clone())
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
