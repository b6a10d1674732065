//! A consumer split into slices shared by several processes on one storage:
//! each slice runs in one process at a time, a process that joins gets its
//! fair share, and a process that dies has its slices taken over. Two
//! "processes" here are two memberships and consumer groups on one storage.

mod feed_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use feed_support::{Recorder, ids, open, wait_until, write_all};
use plinth::feed::{self, ConsumerConfig, ConsumerHandle, Membership, Sharing};
use plinth::storage::SqliteStorage;

const TTL: Duration = Duration::from_millis(300);
const SLICES: u32 = 4;
const LIMIT: Duration = Duration::from_secs(20);

struct Process {
    membership: Arc<Membership>,
    handles: Vec<ConsumerHandle>,
    recorder: Arc<Recorder>,
}

impl Process {
    async fn start(storage: &Arc<SqliteStorage>) -> Process {
        let membership = Membership::join(storage.clone(), TTL).await;
        let sharing = Sharing {
            membership: membership.clone(),
            slices: SLICES,
            ttl: TTL,
        };
        let mut config = ConsumerConfig::new("counters-view", vec!["counter".into()]);
        config.poll_interval = Duration::from_millis(20);
        config.store_interval = Duration::from_millis(20);
        let recorder = Arc::new(Recorder::default());
        let handles = feed::start_group(
            storage.clone(),
            storage.clone(),
            config,
            recorder.clone(),
            Some(&sharing),
        )
        .await
        .unwrap();
        Process {
            membership,
            handles,
            recorder,
        }
    }

    fn running(&self) -> usize {
        self.handles.iter().filter(|h| h.status().running).count()
    }
}

/// Every record of `processes`, per entity, in handling order.
fn seen(processes: &[&Process]) -> BTreeMap<String, Vec<u64>> {
    let mut all: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for process in processes {
        for (key, seqs) in process.recorder.by_entity() {
            all.entry(key).or_default().extend(seqs);
        }
    }
    all
}

fn handled(processes: &[&Process], prefix: &str) -> usize {
    seen(processes)
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("counter/{prefix}")))
        .map(|(_, seqs)| seqs.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_spread_over_processes_and_move_when_one_dies() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("plinth.db"));

    // Alone, the first process runs every slice.
    let a = Process::start(&storage).await;
    write_all(&storage, "counter", &ids("first", 40), 2).await;
    wait_until(LIMIT, "the first process to handle every record", || {
        handled(&[&a], "first") == 80
    })
    .await;
    assert_eq!(a.running(), SLICES as usize);
    let names: Vec<String> = a.handles.iter().map(|h| h.status().name).collect();
    assert_eq!(names[1], "counters-view/slice-1-of-4", "{names:?}");

    // A second process joins: the slices are split two and two.
    let b = Process::start(&storage).await;
    wait_until(
        LIMIT,
        "the slices to be split between the processes",
        || a.running() == 2 && b.running() == 2,
    )
    .await;
    write_all(&storage, "counter", &ids("second", 40), 2).await;
    wait_until(LIMIT, "the two processes to handle the new records", || {
        handled(&[&a, &b], "second") >= 80
    })
    .await;
    assert!(
        b.recorder.by_entity().keys().any(|k| k.contains("second")),
        "the second process handled none of the new records"
    );
    // Each record once, in order, and each entity in one process only.
    for (key, seqs) in seen(&[&a, &b]) {
        assert_eq!(seqs, vec![1, 2], "{key}");
        let in_a = a.recorder.by_entity().contains_key(&key);
        let in_b = b.recorder.by_entity().contains_key(&key);
        assert!(
            !(in_a && in_b) || key.contains("first"),
            "{key} in both processes"
        );
    }

    // The second process dies (no clean stop: its leases just expire).
    drop(b.handles);
    drop(b.membership);
    write_all(&storage, "counter", &ids("third", 40), 2).await;
    wait_until(LIMIT, "the survivor to take over every slice", || {
        a.running() == SLICES as usize && handled(&[&a], "third") >= 80
    })
    .await;
    let third: BTreeMap<String, Vec<u64>> = seen(&[&a])
        .into_iter()
        .filter(|(key, _)| key.contains("third"))
        .collect();
    assert_eq!(third.len(), 40);
    for (key, seqs) in third {
        assert_eq!(seqs, vec![1, 2], "{key}");
    }
    for handle in a.handles {
        handle.shutdown().await.unwrap();
    }
    a.membership.leave().await;
}
