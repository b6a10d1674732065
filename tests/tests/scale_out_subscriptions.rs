//! A subscription served by three processes on one PostgreSQL database,
//! SIGKILLed one at a time under write load: the counter service's action
//! publishes every change of every counter. Afterwards the topic holds every
//! change, first seen in per-counter order, none lost or skipped; the
//! redeliveries that at-least-once allows after each kill are counted and
//! reported.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plinth::eventing::SqliteTopics;
use plinth_tests::eventing::{counter_changes, eventually, first_seen, read_all};
use plinth_tests::postgres::fresh_database;
use plinth_tests::process::ServiceProcess;

const COUNTER_SERVICE: &str = env!("CARGO_BIN_EXE_eventing-counter");
const COUNTERS: usize = 6;
const KILLS: usize = 10;

/// Per counter, the highest value a reply acknowledged.
type Acknowledged = Arc<Mutex<HashMap<String, i64>>>;

fn number(value: &serde_json::Value) -> i64 {
    match value {
        serde_json::Value::String(text) => text.parse().unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

async fn start(url: &str, topics: &Path) -> (ServiceProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start_with(
        Path::new(COUNTER_SERVICE),
        dir.path(),
        &[
            ("PLINTH_STORAGE", url),
            ("PLINTH_TOPICS", topics.to_str().unwrap()),
        ],
    )
    .await;
    (process, dir)
}

/// Writers increasing every counter through `base` until it goes away or
/// `stop` is set; they end after their last request is answered.
fn load(
    base: String,
    acknowledged: Acknowledged,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut writers = Vec::new();
    for writer in 0..COUNTERS {
        let (base, acknowledged, stop) = (base.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let id = format!("k{writer}");
            while !stop.load(Ordering::Relaxed) {
                let sent = http
                    .post(format!("{base}/counters/{id}/increase"))
                    .json(&serde_json::json!({ "amount": 1 }))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let Ok(reply) = sent else { return };
                if !reply.status().is_success() {
                    return;
                }
                let Ok(body) = reply.json::<serde_json::Value>().await else {
                    return;
                };
                let value = number(&body["value"]);
                let mut acknowledged = acknowledged.lock().unwrap();
                let entry = acknowledged.entry(id.clone()).or_default();
                *entry = (*entry).max(value);
            }
        }));
    }
    writers
}

fn acknowledged_total(acknowledged: &Acknowledged) -> i64 {
    acknowledged.lock().unwrap().values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_three_subscribers_loses_no_change() {
    let Some(url) = fresh_database("sigkill_one_of_three_subscribers_loses_no_change").await else {
        return;
    };
    let shared = tempfile::tempdir().unwrap();
    let topic_file = shared.path().join("topics.db");
    let mut processes = Vec::new();
    for _ in 0..3 {
        processes.push(start(&url, &topic_file).await);
    }
    let topics = SqliteTopics::open(&topic_file).unwrap();
    let acknowledged: Acknowledged = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for round in 0..KILLS {
        let before = acknowledged_total(&acknowledged);
        for (process, _) in &processes {
            writers.extend(load(process.url(), acknowledged.clone(), stop.clone()));
        }
        eventually("the load to make progress", || async {
            acknowledged_total(&acknowledged) >= before + 60
        })
        .await;
        let (victim, _dir) = processes.remove(round % processes.len());
        victim.kill();
        processes.push(start(&url, &topic_file).await);
    }
    stop.store(true, Ordering::Relaxed);
    // A write still in flight would land after the reads below: wait for
    // every writer's last request to be answered (each times out in 10 s).
    for writer in writers {
        writer.await.expect("a writer ends");
    }
    let acked = acknowledged.lock().unwrap().clone();

    // Every acknowledged change is stored, and reaches the topic.
    let base = processes[0].0.url();
    let mut finals = HashMap::new();
    for writer in 0..COUNTERS {
        let id = format!("k{writer}");
        let body: serde_json::Value = reqwest::get(format!("{base}/counters/{id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let value = number(&body["value"]);
        assert!(
            value >= acked.get(&id).copied().unwrap_or(0),
            "{id}: an acknowledged write was lost"
        );
        finals.insert(id, value);
    }
    eventually("the topic to catch up with the counters", || async {
        let per_counter = counter_changes(&read_all(&topics, "counter-events").await);
        finals.iter().all(|(id, last)| {
            per_counter
                .get(id)
                .is_some_and(|values| values.iter().any(|(value, _)| value == last))
        })
    })
    .await;

    let per_counter = counter_changes(&read_all(&topics, "counter-events").await);
    let mut duplicates = 0;
    for (id, last) in &finals {
        let (firsts, repeats) = first_seen(id, &per_counter[id]);
        duplicates += repeats;
        // Every change, first published in order: none skipped.
        assert_eq!(firsts, (1..=*last).collect::<Vec<_>>(), "{id}");
    }
    let changes: i64 = finals.values().sum();
    assert!(changes >= 600, "the load ran: {changes} changes");
    eprintln!("changes: {changes}, redelivered after {KILLS} kills: {duplicates}");
    for (mut process, _) in processes {
        assert!(process.terminate(Duration::from_secs(30)).await.is_some());
    }
}
