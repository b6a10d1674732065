//! Subscriptions survive SIGKILL: the counter service (its entity and the
//! action publishing every change) is killed mid-stream under write load and
//! restarted; afterwards the topic holds every change of every counter, in
//! per-counter order, duplicates allowed (and counted), none lost.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use plinth::eventing::SqliteTopics;
use plinth_tests::eventing::{counter_changes, eventually, first_seen, read_all};
use plinth_tests::process::ServiceProcess;

const COUNTER_SERVICE: &str = env!("CARGO_BIN_EXE_eventing-counter");
const COUNTERS: usize = 6;

/// Per counter, the highest value a reply acknowledged.
type Acknowledged = Arc<Mutex<HashMap<String, i64>>>;

fn number(value: &serde_json::Value) -> i64 {
    match value {
        serde_json::Value::String(text) => text.parse().unwrap(),
        other => other.as_i64().unwrap_or(0),
    }
}

/// Writers increasing the counters until the process goes away.
fn load(base: String, acknowledged: Acknowledged) {
    for writer in 0..COUNTERS {
        let base = base.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let id = format!("k{writer}");
            loop {
                let sent = http
                    .post(format!("{base}/counters/{id}/increase"))
                    .json(&serde_json::json!({ "amount": 1 }))
                    .send()
                    .await;
                let Ok(reply) = sent else { return };
                let Ok(body) = reply.json::<serde_json::Value>().await else {
                    return;
                };
                let value = number(&body["value"]);
                let mut acknowledged = acknowledged.lock().unwrap();
                let entry = acknowledged.entry(id.clone()).or_default();
                *entry = (*entry).max(value);
            }
        });
    }
}

async fn counter_value(base: &str, id: &str) -> i64 {
    let body: serde_json::Value = reqwest::get(format!("{base}/counters/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    number(&body["value"])
}

async fn wait_published_up_to(topics: &SqliteTopics, finals: &HashMap<String, i64>) {
    eventually("the topic caught up with the counters", || async {
        let per_counter = counter_changes(&read_all(topics, "counter-events").await);
        finals.iter().all(|(id, last)| {
            per_counter
                .get(id)
                .is_some_and(|values| values.iter().any(|(value, _)| value == last))
        })
    })
    .await;
}

async fn start(dir: &Path) -> ServiceProcess {
    ServiceProcess::start(Path::new(COUNTER_SERVICE), dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_sigkill_mid_stream_loses_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path()).await;
    // The service keeps its topic log beside its storage file.
    let topics = SqliteTopics::open(dir.path().join("topics.db")).unwrap();
    let acknowledged: Acknowledged = Arc::default();
    load(process.url(), acknowledged.clone());
    eventually("the subscription is publishing under load", || async {
        let done: i64 = acknowledged.lock().unwrap().values().sum();
        done >= 300 && read_all(&topics, "counter-events").await.len() >= 150
    })
    .await;
    process.kill();
    let acked = acknowledged.lock().unwrap().clone();

    let process = start(dir.path()).await;
    let base = process.url();
    let mut finals = HashMap::new();
    for writer in 0..COUNTERS {
        let id = format!("k{writer}");
        let value = counter_value(&base, &id).await;
        assert!(
            value >= acked.get(&id).copied().unwrap_or(0),
            "{id}: an acknowledged write was lost"
        );
        finals.insert(id, value);
    }
    wait_published_up_to(&topics, &finals).await;

    let per_counter = counter_changes(&read_all(&topics, "counter-events").await);
    let mut duplicates = 0;
    for (id, last) in &finals {
        // Every change, first seen in order; repeats are redeliveries of
        // the same change (same ce-id).
        let (firsts, repeats) = first_seen(id, &per_counter[id]);
        duplicates += repeats;
        assert_eq!(firsts, (1..=*last).collect::<Vec<_>>(), "{id}");
    }
    eprintln!(
        "changes: {}, duplicates after the crash: {duplicates}",
        finals.values().sum::<i64>()
    );
    process.kill();
}
