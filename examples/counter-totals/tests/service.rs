//! The totals service end to end: messages pushed into the topic it
//! subscribes to update the totals, read back over gRPC.

use std::time::Duration;

use counter_totals::totals::{
    CounterChanged, CounterEventsConsumerActionComponent, CounterTotalServiceClient,
    CounterTotalsEntityComponent, TotalId,
};
use counter_totals::{Totals, TotalsFeeder};
use plinth::testkit::{TestService, eventually};

#[tokio::test]
async fn each_message_on_counter_events_updates_the_total_once() {
    let service = TestService::start(
        plinth::Service::new()
            .with(CounterTotalsEntityComponent::new(Totals))
            .with(CounterEventsConsumerActionComponent::new(TotalsFeeder)),
    )
    .await
    .expect("the service starts");
    let changed = |value| CounterChanged {
        counter_id: "c1".into(),
        value,
    };
    service
        .publish("counter-events", &changed(3), Some("c1"))
        .await;
    service
        .publish("counter-events", &changed(5), Some("c1"))
        .await;
    let total = eventually(Duration::from_secs(10), || async {
        let total = service
            .call(CounterTotalServiceClient::get(TotalId {
                counter_id: "c1".into(),
            }))
            .await
            .map_err(|status| status.to_string())?;
        if total.changes_seen == 2 {
            Ok(total)
        } else {
            Err(format!("the total is {total:?}"))
        }
    })
    .await;
    assert_eq!(total.last_value, 5);
    service.shutdown().await;
}
