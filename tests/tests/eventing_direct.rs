//! Calls from outside, and services without a topic backend: a method fed by
//! a subscription is the runtime's (a forged event posted to it is refused
//! over HTTP and gRPC and publishes nothing); without a backend a topic
//! subscription stops the start with an error naming the topic.

use std::sync::Arc;

use counter::counter::{CounterChanged, CounterEventsActionComponent, CounterState};
use counter::{Counter, CounterPublisher};
use counter_totals::TotalsFeeder;
use counter_totals::totals::CounterEventsConsumerActionComponent;
use http::uri::PathAndQuery;
use plinth::eventing::{SqliteTopics, Topics};
use plinth::storage::{SqliteOptions, SqliteStorage};
use plinth::{Config, ServiceError};
use plinth_tests::eventing::read_all;
use plinth_tests::grpc;
use prost::Message;
use reqwest::StatusCode;
use tonic_prost::ProstCodec;

fn config(dir: &std::path::Path) -> Config {
    Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.join("plinth.db"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_a_subscription_method_is_not_callable_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let topics: Arc<dyn Topics> = Arc::new(SqliteTopics::open(dir.path().join("t.db")).unwrap());
    let service = plinth::Service::new()
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .config(config(dir.path()))
        .topics(topics.clone())
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", service.local_addr());
    // A forged change posted to the method the counter's subscription feeds.
    let reply = reqwest::Client::new()
        .post(format!("{base}/counter.CounterEvents/OnChanged"))
        .header("ce-subject", "forged-1")
        .json(&serde_json::json!({ "value": "5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    // The same over gRPC.
    let mut client = tonic::client::Grpc::new(grpc::connect(&base).await);
    client.ready().await.unwrap();
    let status = client
        .unary(
            tonic::Request::new(CounterState { value: 5 }),
            PathAndQuery::from_static("/counter.CounterEvents/OnChanged"),
            ProstCodec::<CounterState, CounterChanged>::default(),
        )
        .await
        .expect_err("the runtime's method is refused");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(
        read_all(&*topics, "counter-events").await.is_empty(),
        "nothing published"
    );
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
    // The runtime's own call of the method (as its subscription makes it):
    // publishing without a backend fails with FAILED_PRECONDITION.
    let payload = CounterState { value: 1 }.encode_to_vec();
    let Err(failed) = service
        .dispatch()
        .dispatch(
            "/counter.CounterEvents/OnChanged",
            payload.into(),
            plinth::Metadata::new().with("ce-subject", "c1"),
        )
        .await
    else {
        panic!("publishing without a topic backend must fail");
    };
    assert_eq!(failed.code(), plinth::Code::FailedPrecondition, "{failed}");
    assert!(failed.message().contains("no topic backend"), "{failed}");
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
