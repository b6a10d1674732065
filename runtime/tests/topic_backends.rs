//! The topic backend contract, the same suite over the embedded SQLite log
//! and NATS JetStream: positions from 1 in publish order, metadata and
//! payload kept byte for byte, reads after a position and up to a limit,
//! durability across a reopen, topics kept apart, bad names refused.

mod eventing_support;

use std::sync::Arc;

use bytes::Bytes;
use plinth::Metadata;
use plinth::eventing::{NatsTopics, SqliteTopics, TopicError, TopicMessage, Topics};

fn message(subject: &str, n: u32) -> TopicMessage {
    TopicMessage {
        metadata: Metadata::new()
            .with("ce-id", format!("{subject}-{n}"))
            .with("ce-type", "test.Thing")
            .with("ce-subject", subject)
            .with("content-type", "application/protobuf"),
        payload: Bytes::from(vec![n as u8, 0, 0xff]),
    }
}

/// The same message: payload and attributes (in any order: NATS headers
/// keep none).
fn same(got: &TopicMessage, want: &TopicMessage) -> bool {
    let sorted = |m: &TopicMessage| {
        let mut entries: Vec<(String, String)> = m
            .metadata
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        entries.sort();
        entries
    };
    got.payload == want.payload && sorted(got) == sorted(want)
}

async fn contract(topics: Arc<dyn Topics>, reopen: impl AsyncFn() -> Arc<dyn Topics>) {
    assert!(topics.read("nothing-yet", 0, 10).await.unwrap().is_empty());
    let mut positions = Vec::new();
    for n in 1..=20 {
        let subject = if n % 2 == 0 { "even" } else { "odd" };
        positions.push(topics.publish("things", message(subject, n)).await.unwrap());
    }
    assert_eq!(positions, (1..=20).collect::<Vec<u64>>());
    assert_eq!(
        topics
            .publish("other.things", message("x", 1))
            .await
            .unwrap(),
        1
    );

    let first = topics.read("things", 0, 5).await.unwrap();
    assert_eq!(
        first.iter().map(|m| m.position).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(
        same(&first[0].message, &message("odd", 1)),
        "{:?}",
        first[0]
    );
    assert_eq!(first[1].message.subject(), "even");
    let rest = topics.read("things", 5, 100).await.unwrap();
    assert_eq!(rest.len(), 15);
    assert_eq!(rest[0].position, 6);
    assert!(
        same(&rest[14].message, &message("even", 20)),
        "{:?}",
        rest[14]
    );
    // Reading again from an earlier position gives the same messages.
    let again = topics.read("things", 3, 2).await.unwrap();
    assert!(
        same(&again[0].message, &message("even", 4)),
        "{:?}",
        again[0]
    );
    assert_eq!(again[1].position, 5);

    let other = topics.read("other.things", 0, 10).await.unwrap();
    assert_eq!(other.len(), 1);
    assert!(same(&other[0].message, &message("x", 1)), "{:?}", other[0]);

    for bad in ["", "a b", "a/b", "a*", "a>"] {
        let error = topics.publish(bad, message("x", 1)).await.unwrap_err();
        assert!(
            matches!(error, TopicError::InvalidName { .. }),
            "{bad}: {error}"
        );
    }

    // Durable: a new handle sees everything and continues the positions.
    drop(topics);
    let reopened = reopen().await;
    let all = reopened.read("things", 0, 100).await.unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(
        reopened
            .publish("things", message("odd", 21))
            .await
            .unwrap(),
        21
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_backend_contract_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topics.db");
    let topics: Arc<dyn Topics> = Arc::new(SqliteTopics::open(&path).unwrap());
    let watch = topics.watch("things").expect("the embedded log notifies");
    assert_eq!(*watch.borrow(), 0);
    let reopen = async || Arc::new(SqliteTopics::open(&path).unwrap()) as Arc<dyn Topics>;
    contract(topics.clone(), reopen).await;
    // Publishes through the first handle moved its watch.
    assert_eq!(*watch.borrow(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_backend_contract_nats_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = eventing_support::NatsServer::start(&dir.path().join("nats")).await else {
        return;
    };
    let url = nats.url();
    let topics: Arc<dyn Topics> = Arc::new(NatsTopics::connect(&url).await.unwrap());
    let reopen = async || Arc::new(NatsTopics::connect(&url).await.unwrap()) as Arc<dyn Topics>;
    contract(topics, reopen).await;
}

#[tokio::test]
async fn topic_backend_nats_unreachable_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let error = NatsTopics::connect(&format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}
