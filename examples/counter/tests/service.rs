//! The counter service end to end: a change made over gRPC is published to
//! `counter-events`, with its CloudEvents attributes.

use std::time::Duration;

use counter::counter::{
    ChangeValue, CounterChanged, CounterEntityComponent, CounterEventsActionComponent,
    CounterServiceClient,
};
use counter::{Counter, CounterPublisher};
use plinth::testkit::TestService;

#[tokio::test]
async fn every_change_is_published_to_counter_events() {
    let service = TestService::start(
        plinth::Service::new()
            .with(CounterEntityComponent::new(Counter))
            .with(CounterEventsActionComponent::new(CounterPublisher)),
    )
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
