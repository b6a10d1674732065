//! Two processes that talk only through a topic: the counter service
//! publishes every change to `counter-events`; the counter-totals service
//! consumes it into its own entity. Run over the embedded log (one SQLite
//! file shared by both) and over NATS JetStream. The consumer is killed with
//! SIGKILL mid-stream and restarted: afterwards its state equals the
//! counters'.

use std::path::Path;
use std::time::Duration;

use plinth_tests::eventing::{NatsServer, eventually};
use plinth_tests::process::ServiceProcess;

const COUNTER_SERVICE: &str = env!("CARGO_BIN_EXE_eventing-counter");
const TOTALS_SERVICE: &str = env!("CARGO_BIN_EXE_eventing-totals");
const COUNTERS: usize = 4;
const CHANGES: i64 = 40;

fn number(value: &serde_json::Value) -> i64 {
    match value {
        serde_json::Value::String(text) => text.parse().unwrap(),
        other => other.as_i64().unwrap_or(0),
    }
}

async fn get(url: String) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn increase_all(base: &str, from: i64, to: i64) {
    let http = reqwest::Client::new();
    for _ in from..to {
        for counter in 0..COUNTERS {
            let reply = http
                .post(format!("{base}/counters/t{counter}/increase"))
                .json(&serde_json::json!({ "amount": 1 }))
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_success());
        }
    }
}

async fn totals_reached(totals: &str, value: i64) -> bool {
    for counter in 0..COUNTERS {
        let total = get(format!("{totals}/totals/t{counter}")).await;
        if number(&total["lastValue"]) != value {
            return false;
        }
    }
    true
}

async fn two_services(dir: &Path, topics: &str) {
    let counter_dir = dir.join("counter");
    let totals_dir = dir.join("totals");
    std::fs::create_dir_all(&counter_dir).unwrap();
    std::fs::create_dir_all(&totals_dir).unwrap();
    let env = [("PLINTH_TOPICS", topics)];
    let counters = ServiceProcess::start_with(Path::new(COUNTER_SERVICE), &counter_dir, &env).await;
    let totals = ServiceProcess::start_with(Path::new(TOTALS_SERVICE), &totals_dir, &env).await;

    increase_all(&counters.url(), 0, CHANGES / 2).await;
    // Kill the consumer while it may still be consuming, keep producing.
    tokio::time::sleep(Duration::from_millis(20)).await;
    totals.kill();
    increase_all(&counters.url(), CHANGES / 2, CHANGES).await;
    let totals = ServiceProcess::start_with(Path::new(TOTALS_SERVICE), &totals_dir, &env).await;
    let base = totals.url();
    eventually("the totals caught up with the counters", || {
        totals_reached(&base, CHANGES)
    })
    .await;
    for counter in 0..COUNTERS {
        let total = get(format!("{base}/totals/t{counter}")).await;
        let value = get(format!("{}/counters/t{counter}", counters.url())).await;
        assert_eq!(number(&total["lastValue"]), number(&value["value"]));
        assert_eq!(total["counterId"], format!("t{counter}"));
        // Each change seen at least once; redeliveries after the kill may
        // count again.
        let seen = number(&total["changesSeen"]);
        assert!(seen >= CHANGES, "t{counter}: saw {seen} changes");
        assert_eq!(
            total["lastEventId"],
            format!("counters/t{counter}/{CHANGES}"),
            "the ce-id of the last change reached the consumer"
        );
    }
    counters.kill();
    totals.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_two_services_share_an_embedded_topic_log() {
    let dir = tempfile::tempdir().unwrap();
    let shared = format!("sqlite:{}", dir.path().join("topics.db").display());
    two_services(dir.path(), &shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_two_services_over_nats_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(&dir.path().join("nats")).await else {
        return;
    };
    two_services(dir.path(), &nats.url()).await;
}
