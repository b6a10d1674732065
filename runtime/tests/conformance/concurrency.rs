//! Several instances (several processes, for PostgreSQL) writing at once
//! while a consumer tails the change feed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plinth::storage::{FeedRecord, StorageError};

use super::{Backend, append, state};

/// Several instances (processes) write at once while a consumer tails the
/// feed: it sees every record once, in offset order, none skipped.
pub async fn concurrent_writers_and_tailing_consumer(b: &Backend) {
    const TASKS: usize = 4;
    const WRITES: u64 = 30;
    let instances = b.instances(3).await;
    let done = Arc::new(AtomicBool::new(false));
    let reader = instances[instances.len() - 1].clone();
    let consumer = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<FeedRecord> = Vec::new();
            let mut idle_after_done = 0;
            while idle_after_done < 3 {
                let finished = done.load(Ordering::SeqCst);
                let after = seen.last().map_or(0, |r| r.offset);
                let page = reader.read_feed(after, &[], 64).await.unwrap();
                if page.is_empty() {
                    if finished {
                        idle_after_done += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen.extend(page);
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for (n, storage) in instances.iter().enumerate() {
        for task in 0..TASKS {
            let storage = storage.clone();
            writers.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                let id = format!("p{n}t{task}");
                for i in 0..WRITES {
                    if i % 3 == 2 {
                        let events = append(&id, (i / 3) * 2, &["x", "y"]);
                        let seq = storage.append_events(events).await.unwrap();
                        acked.push(("journal".to_owned(), id.clone(), seq - 1));
                        acked.push(("journal".to_owned(), id.clone(), seq));
                    } else {
                        let expected = i - i / 3;
                        let write = state("counter", &id, expected, Some("v"));
                        let seq = storage.write_state(write).await.unwrap();
                        acked.push(("counter".to_owned(), id.clone(), seq));
                    }
                    // Every task also contends for one shared entity.
                    loop {
                        let current = storage.load_state("shared", "s").await.unwrap();
                        let expected = current.map_or(0, |s| s.seq);
                        match storage
                            .write_state(state("shared", "s", expected, Some("v")))
                            .await
                        {
                            Ok(seq) => {
                                acked.push(("shared".to_owned(), "s".to_owned(), seq));
                                break;
                            }
                            Err(StorageError::Conflict { .. }) => continue,
                            Err(other) => panic!("shared write: {other:?}"),
                        }
                    }
                }
                acked
            }));
        }
    }
    let mut acked = BTreeSet::new();
    for writer in writers {
        for key in writer.await.unwrap() {
            assert!(acked.insert(key.clone()), "acknowledged twice: {key:?}");
        }
    }
    done.store(true, Ordering::SeqCst);
    let seen = consumer.await.unwrap();

    let offsets: Vec<u64> = seen.iter().map(|r| r.offset).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "the consumer saw offsets out of order"
    );
    let everything = instances[0].read_feed(0, &[], 1_000_000).await.unwrap();
    assert_eq!(
        everything.len(),
        seen.len(),
        "the tailing consumer skipped records"
    );
    assert_eq!(everything, seen);
    let fed: BTreeSet<(String, String, u64)> = seen
        .iter()
        .map(|r| (r.type_id.clone(), r.entity_id.clone(), r.seq))
        .collect();
    assert_eq!(
        fed, acked,
        "the feed holds exactly the acknowledged changes"
    );
    let shared_writes = instances.len() as u64 * TASKS as u64 * WRITES;
    let shared = instances[0]
        .load_state("shared", "s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.seq, shared_writes);
    // Per entity, the feed's sequence numbers increase with the offsets.
    let mut last: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in &seen {
        let previous = last.insert((&r.type_id, &r.entity_id), r.seq);
        assert!(
            previous.is_none_or(|p| p < r.seq),
            "{r:?} after seq {previous:?}"
        );
    }
    // Every instance's commit notification reaches the last offset.
    let head = *offsets.last().unwrap();
    for storage in &instances {
        let mut watch = storage.feed_watch().expect("the backend notifies commits");
        let reached = tokio::time::timeout(Duration::from_secs(10), watch.wait_for(|h| *h >= head));
        assert!(
            matches!(reached.await, Ok(Ok(_))),
            "feed_watch did not reach {head}"
        );
    }
}

/// Many writes sent at once (so a backend with group commit takes them in
/// one batch): each write's fence holds or fails on its own, deletes and
/// first writes mix with updates, and exactly the writes that held reach the
/// feed, each with its sequence number.
pub async fn writes_sent_together_are_fenced_one_by_one(b: &Backend) {
    let storage = &b.storage;
    for id in 0..20 {
        storage
            .write_state(state("batch", &format!("e{id}"), 0, Some("v1")))
            .await
            .unwrap();
    }
    let head = storage.read_feed(0, &[], 1000).await.unwrap().len();
    // e0..e19 exist at seq 1: even ones are updated (expected 1), odd ones
    // are stale (expected 0 or 5); n0..n9 are new, and every third one of
    // the updates is a delete.
    let mut writes = Vec::new();
    for id in 0..20u64 {
        let expected = match id % 4 {
            0 | 2 => 1,
            1 => 0,
            _ => 5,
        };
        let payload = (id % 3 != 0).then_some("v2");
        writes.push((format!("e{id}"), expected, payload));
    }
    for id in 0..10 {
        writes.push((format!("n{id}"), 0, Some("new")));
    }
    let results = futures::future::join_all(writes.iter().map(|(id, expected, payload)| {
        storage.write_state(state("batch", id, *expected, *payload))
    }))
    .await;
    let mut applied = BTreeMap::new();
    for ((id, expected, payload), result) in writes.iter().zip(results) {
        let holds = id.starts_with('n') || *expected == 1;
        match result {
            Ok(seq) => {
                assert!(holds, "{id}: a stale write was applied");
                assert_eq!(seq, expected + 1, "{id}");
                applied.insert(id.clone(), (seq, payload.is_none()));
            }
            Err(StorageError::Conflict { actual, .. }) => {
                assert!(!holds, "{id}: a fresh write conflicted");
                assert_eq!(actual, 1, "{id}");
            }
            Err(other) => panic!("{id}: {other}"),
        }
    }
    assert_eq!(applied.len(), 20, "10 updates and 10 first writes hold");
    for (id, (seq, deleted)) in &applied {
        let stored = storage.load_state("batch", id).await.unwrap();
        match stored {
            Some(stored) if !deleted => assert_eq!(stored.seq, *seq, "{id}"),
            Some(stored) => assert!(stored.payload.is_none(), "{id} deleted"),
            None => assert!(*deleted, "{id} was written"),
        }
    }
    for id in (1..20).step_by(2) {
        let stored = storage
            .load_state("batch", &format!("e{id}"))
            .await
            .unwrap();
        assert_eq!(
            stored.map(|s| s.seq),
            Some(1),
            "a stale write left e{id} alone"
        );
    }
    let feed = storage.read_feed(0, &[], 1000).await.unwrap();
    let new: BTreeSet<(String, u64)> = feed[head..]
        .iter()
        .map(|r| (r.entity_id.clone(), r.seq))
        .collect();
    let expected: BTreeSet<(String, u64)> = applied
        .iter()
        .map(|(id, (seq, _))| (id.clone(), *seq))
        .collect();
    assert_eq!(new, expected, "exactly the applied writes reach the feed");
    assert_eq!(feed.len() - head, 20, "one record per applied write");
}
