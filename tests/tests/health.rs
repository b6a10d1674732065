//! Probes and consumer progress, over a real socket: liveness, readiness
//! that follows the storage and the topic backend (NATS going away makes
//! the service unready, not dead), and subscriptions' progress as JSON and
//! Prometheus metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use counter::counter::{CounterEntityComponent, CounterEventsActionComponent};
use counter::{Counter, CounterPublisher};
use plinth::eventing::{NatsTopics, SqliteTopics, Topics};
use plinth::storage::{SqliteOptions, SqliteStorage, Storage};
use plinth::{Config, RunningService, Service};
use plinth_tests::nats::NatsServer;
use serde_json::Value;

async fn start(storage: Arc<dyn Storage>, topics: Arc<dyn Topics>) -> RunningService {
    Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .storage(storage)
        .topics(topics)
        .config(Config::default().with_addr("127.0.0.1:0".parse().expect("addr")))
        .start()
        .await
        .expect("starts")
}

async fn get(service: &RunningService, path: &str) -> (u16, String) {
    let reply = reqwest::get(format!("http://{}{path}", service.local_addr()))
        .await
        .expect("answered");
    (reply.status().as_u16(), reply.text().await.expect("text"))
}

async fn json(service: &RunningService, path: &str) -> (u16, Value) {
    let (code, text) = get(service, path).await;
    (code, serde_json::from_str(&text).expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_storage_and_subscriptions_show_their_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = Arc::new(
        SqliteStorage::open(dir.path().join("plinth.db"), SqliteOptions::default()).unwrap(),
    );
    let topics = Arc::new(SqliteTopics::open(dir.path().join("topics.db")).unwrap());
    let service = start(storage.clone(), topics).await;

    assert_eq!(json(&service, "/_plinth/health/live").await.0, 200);
    let (code, ready) = json(&service, "/_plinth/health/ready").await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["checks"]["storage"]["ok"], true);
    assert_eq!(ready["checks"]["topics"]["ok"], true);

    // Changes reach the counter's subscription: its progress shows them.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let url = format!("http://{}/counters/c1/increase", service.local_addr());
        let reply = client
            .post(url)
            .json(&serde_json::json!({"amount": 1}))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, status) = json(&service, "/_plinth/subscriptions").await;
        let consumers = status["subscriptions"].as_array().expect("a list").clone();
        assert!(!consumers.is_empty(), "{status}");
        if consumers.iter().any(|c| c["delivered"].as_u64() >= Some(3)) {
            assert!(consumers.iter().all(|c| c["lag_records"] == 0), "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscription never caught up: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, metrics) = get(&service, "/_plinth/metrics").await;
    assert!(
        metrics.contains("# TYPE plinth_subscription_lag_records gauge"),
        "{metrics}"
    );
    assert!(
        metrics.contains("plinth_subscription_delivered_total{consumer=\""),
        "{metrics}"
    );

    // A storage that stops answering makes the service unready.
    storage.close().await.unwrap();
    let (code, ready) = json(&service, "/_plinth/health/ready").await;
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["checks"]["storage"]["ok"], false);
    assert_eq!(json(&service, "/_plinth/health/live").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_going_away_makes_the_service_unready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(nats) = NatsServer::start(dir.path()).await else {
        return;
    };
    let storage: Arc<dyn Storage> = Arc::new(
        SqliteStorage::open(dir.path().join("plinth.db"), SqliteOptions::default()).unwrap(),
    );
    let topics = Arc::new(NatsTopics::connect(&nats.url()).await.unwrap());
    let service = start(storage, topics).await;
    let (code, ready) = json(&service, "/_plinth/health").await;
    assert_eq!(code, 200, "{ready}");
    drop(nats);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (code, ready) = json(&service, "/_plinth/health/ready").await;
        if code == 503 {
            assert_eq!(ready["checks"]["topics"]["ok"], false, "{ready}");
            assert_eq!(ready["checks"]["storage"]["ok"], true, "{ready}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready without NATS: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(json(&service, "/_plinth/health/live").await.0, 200);
}
