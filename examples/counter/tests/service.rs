//! The counter service end to end: a change made over gRPC is published to
//! `counter-events`, with its CloudEvents attributes.

use std::time::Duration;

use counter::counter::{
    ChangeValue, CounterChanged, CounterEntityComponent, CounterEventsActionComponent,
    CounterServiceClient,
};
use counter::{Counter, CounterPublisher};
use plinth::testkit::TestService;

fn counters() -> plinth::Service {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(CounterPublisher))
}

#[tokio::test]
async fn every_change_is_published_to_counter_events() {
    let service = TestService::start(counters())
        .await
        .expect("the service starts");
    let reply = service
        .call(CounterServiceClient::increase(ChangeValue {
            counter_id: "c1".into(),
            amount: 4,
        }))
        .await
        .expect("increased");
    assert_eq!(reply.value, 4);
    let changed: CounterChanged = service
        .expect_one("counter-events", 0, Duration::from_secs(10))
        .await;
    assert_eq!(
        changed,
        CounterChanged {
            counter_id: "c1".into(),
            value: 4
        }
    );
    let published = &service.published("counter-events")[0];
    assert_eq!(published.ce_type(), "counter.CounterChanged");
    assert_eq!(published.subject(), Some("c1"));
    service.shutdown().await;
}

#[tokio::test]
async fn a_callers_trace_context_reaches_the_message_its_change_causes() {
    let service = TestService::start(counters())
        .await
        .expect("the service starts");
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    // The change is stored with the caller's trace context; the action that
    // consumes it from the change feed sees it, and so does its message.
    let reply = service
        .http_with(
            "POST",
            "/counters/c1/increase",
            Some(serde_json::json!({"amount": 2})),
            &[("traceparent", parent), ("tracestate", "vendor=7")],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let _: CounterChanged = service
        .expect_one("counter-events", 0, Duration::from_secs(10))
        .await;
    let published = &service.published("counter-events")[0];
    assert_eq!(published.metadata.get("traceparent"), Some(parent));
    assert_eq!(published.metadata.get("tracestate"), Some("vendor=7"));

    // A change made without one causes a message without one.
    service
        .call(CounterServiceClient::increase(ChangeValue {
            counter_id: "c2".into(),
            amount: 1,
        }))
        .await
        .expect("increased");
    let _: CounterChanged = service
        .expect_one("counter-events", 1, Duration::from_secs(10))
        .await;
    assert_eq!(
        service.published("counter-events")[1]
            .metadata
            .get("traceparent"),
        None
    );
    service.shutdown().await;
}
