//! A view fed by a topic, over the embedded log and NATS JetStream: placed
//! orders (protobuf from a Plinth publisher, JSON from another producer)
//! become rows keyed by `ce-subject`, a cancellation deletes its row, a
//! message of a type no method takes and one without a subject leave the
//! table alone, and after a restart the view goes on from its stored
//! offset.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use plinth::eventing::{NatsTopics, SqliteTopics, TopicMessage, Topics};
use plinth::storage::{SqliteOptions, SqliteStorage, Storage};
use plinth::{Config, Metadata, RunningService, Service};
use plinth_tests::nats::NatsServer;
use plinth_tests::orders::{OrderCancelled, OrderPlaced, Orders, OrdersByItemViewComponent};
use prost::Message;
use serde_json::{Value, json};

async fn serve(storage: Arc<dyn Storage>, topics: Arc<dyn Topics>) -> RunningService {
    Service::new()
        .with(OrdersByItemViewComponent::new(Orders))
        .storage(storage)
        .topics(topics)
        .config(Config::default().with_addr("127.0.0.1:0".parse().expect("addr")))
        .start()
        .await
        .expect("starts")
}

fn message(subject: &str, ce_type: &str, content_type: &str, payload: Bytes) -> TopicMessage {
    let mut metadata = Metadata::new()
        .with("ce-id", format!("{subject}-{ce_type}"))
        .with("ce-type", ce_type)
        .with("ce-source", "/test")
        .with("content-type", content_type);
    if !subject.is_empty() {
        metadata.insert("ce-subject", subject);
    }
    TopicMessage { metadata, payload }
}

fn placed(subject: &str, item: &str, quantity: i32) -> TopicMessage {
    let payload = OrderPlaced {
        item: item.to_owned(),
        quantity,
    };
    message(
        subject,
        "orders.OrderPlaced",
        "application/protobuf",
        Bytes::from(payload.encode_to_vec()),
    )
}

async fn by_item(service: &RunningService, item: &str) -> Value {
    let url = format!("http://{}/orders.OrdersByItem/ByItem", service.local_addr());
    let reply = reqwest::Client::new()
        .post(url)
        .json(&json!({ "item": item }))
        .send()
        .await
        .expect("answered");
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.expect("json")
}

/// Wait until the orders of `item` are `expected` (within 15 s).
async fn rows_become(service: &RunningService, item: &str, expected: Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = by_item(service, item).await;
        if rows == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the view shows {rows}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_topic_feeds_the_view(topics: Arc<dyn Topics>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plinth.db");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&path, SqliteOptions::default()).expect("opens"));
    let service = serve(storage.clone(), topics.clone()).await;

    topics
        .publish("orders", placed("o1", "tea", 2))
        .await
        .unwrap();
    topics
        .publish("orders", placed("o2", "tea", 1))
        .await
        .unwrap();
    let json = message(
        "o3",
        "orders.OrderPlaced",
        "application/json",
        Bytes::from_static(br#"{"item": "tea", "quantity": 5}"#),
    );
    topics.publish("orders", json).await.unwrap();
    // Neither an unknown type nor a message without a subject makes a row.
    let unknown = message("o4", "orders.Unknown", "application/protobuf", Bytes::new());
    topics.publish("orders", unknown).await.unwrap();
    topics
        .publish("orders", placed("", "tea", 9))
        .await
        .unwrap();
    let cancelled = message(
        "o2",
        "orders.OrderCancelled",
        "application/protobuf",
        Bytes::from(
            OrderCancelled {
                reason: "gone".into(),
            }
            .encode_to_vec(),
        ),
    );
    topics.publish("orders", cancelled).await.unwrap();
    let rows = json!({"orders": [
        {"orderId": "o1", "item": "tea", "quantity": 2},
        {"orderId": "o3", "item": "tea", "quantity": 5},
    ]});
    rows_become(&service, "tea", rows.clone()).await;

    // A restart goes on from the stored offset, and new messages arrive.
    service.shutdown().await;
    drop(storage);
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&path, SqliteOptions::default()).expect("reopens"));
    let service = serve(storage, topics.clone()).await;
    topics
        .publish("orders", placed("o5", "tea", 1))
        .await
        .unwrap();
    let mut more = rows.clone();
    more["orders"]
        .as_array_mut()
        .unwrap()
        .push(json!({"orderId": "o5", "item": "tea", "quantity": 1}));
    rows_become(&service, "tea", more).await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_in_the_embedded_log_feeds_a_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topics = SqliteTopics::open(dir.path().join("topics.db")).expect("opens");
    a_topic_feeds_the_view(Arc::new(topics)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_topic_feeds_a_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(server) = NatsServer::start(dir.path()).await else {
        return;
    };
    let topics = NatsTopics::connect(&server.url()).await.expect("connects");
    a_topic_feeds_the_view(Arc::new(topics)).await;
}
