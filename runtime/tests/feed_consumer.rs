//! The change-feed consumer against a real SQLite file: complete per-entity
//! ordered delivery under concurrent writers, retries that hold back only the
//! failing entity, bounded buffering, and polling without commit notifications.

mod feed_support;

use plinth::storage::{EntityStore, OffsetStore};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use feed_support::*;
use futures::future::BoxFuture;
use plinth::feed::{self, ConsumerConfig, Delivery};
use plinth::storage::{EventAppend, FeedRecord, FeedSource, SqliteStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_once_in_entity_order_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));
    let recorder = Arc::new(Recorder::default());
    let config = ConsumerConfig::new("orders", vec!["counter".to_owned(), "ledger".to_owned()]);
    let consumer = feed::start(storage.clone(), storage.clone(), config, recorder.clone())
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
                    schedule: Vec::new(),
                    trace: None,
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
    let consumer = feed::start(storage.clone(), storage.clone(), config, recorder.clone())
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
    let consumer = feed::start(storage.clone(), storage.clone(), config, recorder.clone())
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
    let consumer = feed::start(storage.clone(), storage.clone(), config, recorder.clone())
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

impl FeedSource for Unnotified {
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, plinth::storage::StorageResult<Vec<FeedRecord>>> {
        self.0.read_feed(after, type_ids, limit)
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
    let consumer = feed::start(storage.clone(), sqlite.clone(), config, recorder.clone())
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
