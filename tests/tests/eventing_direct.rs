//! Publishing from direct calls, and services without a topic backend: a
//! direct call of a publishing action method publishes its result (with the
//! caller's `ce-subject`, a fresh `ce-id`); without a backend the call fails
//! with `FAILED_PRECONDITION` and a topic subscription stops the start with
//! an error naming the topic.

use std::sync::Arc;

use counter::counter::{CounterChanged, CounterEventsActionComponent};
use counter::{Counter, CounterPublisher};
use counter_totals::TotalsFeeder;
use counter_totals::totals::CounterEventsConsumerActionComponent;
use plinth::eventing::{SqliteTopics, Topics};
use plinth::storage::{SqliteOptions, SqliteStorage};
use plinth::{Config, ServiceError};
use plinth_tests::eventing::read_all;
use prost::Message;
use reqwest::StatusCode;

fn config(dir: &std::path::Path) -> Config {
    Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.join("plinth.db"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_a_direct_call_publishes_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let topics: Arc<dyn Topics> = Arc::new(SqliteTopics::open(dir.path().join("t.db")).unwrap());
    let service = plinth::Service::new()
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .config(config(dir.path()))
        .topics(topics.clone())
        .start()
        .await
        .unwrap();
    let reply = reqwest::Client::new()
        .post(format!(
            "http://{}/counter.CounterEvents/OnChanged",
            service.local_addr()
        ))
        .header("ce-subject", "direct-1")
        .json(&serde_json::json!({ "value": "5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "{:?}", reply.text().await);
    let published = read_all(&*topics, "counter-events").await;
    assert_eq!(published.len(), 1);
    let message = &published[0].message;
    let changed = CounterChanged::decode(message.payload.clone()).unwrap();
    assert_eq!(
        (changed.counter_id.as_str(), changed.value),
        ("direct-1", 5)
    );
    assert_eq!(message.metadata.get("ce-subject"), Some("direct-1"));
    let id = message.metadata.get("ce-id").unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID: {id}");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_without_a_topic_backend_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        SqliteStorage::open(dir.path().join("given.db"), SqliteOptions::default()).unwrap(),
    );
    let service = plinth::Service::new()
        .with(counter::counter::CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .config(config(dir.path()))
        .storage(storage.clone())
        .start()
        .await
        .unwrap();
    let reply = reqwest::Client::new()
        .post(format!(
            "http://{}/counter.CounterEvents/OnChanged",
            service.local_addr()
        ))
        .header("ce-subject", "c1")
        .json(&serde_json::json!({ "value": "1" }))
        .send()
        .await
        .unwrap();
    // FAILED_PRECONDITION is HTTP 400.
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body = reply.text().await.unwrap();
    assert!(body.contains("no topic backend"), "{body}");
    service.shutdown().await;

    let refused = plinth::Service::new()
        .with(CounterEventsConsumerActionComponent::new(TotalsFeeder))
        .config(config(dir.path()))
        .storage(storage)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(refused, ServiceError::Eventing(_)), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("counter-events") && message.contains("no topic backend"),
        "{message}"
    );
    assert!(!dir.path().join("topics.db").exists());
}
