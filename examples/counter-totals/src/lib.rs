//! A service fed by another service's topic: every `CounterChanged` message on
//! `counter-events` updates the counter's total here.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use crate::totals::{
    CounterChanged, CounterEventsConsumerAction, CounterTotal, CounterTotalServiceClient,
    CounterTotalsEntity, Observe, TotalId,
};
use plinth::{ActionContext, CommandContext, Effect, Status};

/// The totals' rules: the last value wins; a message seen twice in a row
/// (same `ce-id`) counts once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals;

impl CounterTotalsEntity for Totals {
    fn observe(
        &self,
        state: &CounterTotal,
        command: Observe,
        _ctx: &CommandContext,
    ) -> Effect<CounterTotal, CounterTotal> {
        if !command.event_id.is_empty() && command.event_id == state.last_event_id {
            return Effect::reply(state.clone());
        }
        let total = CounterTotal {
            counter_id: command.counter_id,
            last_value: command.value,
            changes_seen: state.changes_seen + 1,
            last_event_id: command.event_id,
        };
        Effect::update(total.clone()).then_reply(total)
    }

    fn get(
        &self,
        state: &CounterTotal,
        _command: TotalId,
        _ctx: &CommandContext,
    ) -> Effect<CounterTotal, CounterTotal> {
        Effect::reply(state.clone())
    }
}

/// Turns each topic message into an `Observe` command.
#[derive(Debug, Clone, Copy, Default)]
pub struct TotalsFeeder;

impl CounterEventsConsumerAction for TotalsFeeder {
    async fn on_counter_changed(
        &self,
        message: CounterChanged,
        ctx: ActionContext,
    ) -> Result<(), Status> {
        if message.counter_id.is_empty() {
            return Err(Status::invalid_argument(
                "a counter change must name its counter",
            ));
        }
        let event_id = ctx.metadata().get("ce-id").unwrap_or_default().to_owned();
        ctx.call(CounterTotalServiceClient::observe(Observe {
            counter_id: message.counter_id,
            value: message.value,
            event_id,
        }))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use plinth::{Code, Metadata, Status};

    use super::totals::{CounterEventsConsumerActionTestKit, CounterTotalsEntityTestKit};
    use super::*;

    fn observe(value: i64, event_id: &str) -> Observe {
        Observe {
            counter_id: "c1".into(),
            value,
            event_id: event_id.into(),
        }
    }

    fn changed(value: i64) -> CounterChanged {
        CounterChanged {
            counter_id: "c1".into(),
            value,
        }
    }

    #[test]
    fn the_last_value_wins_and_repeats_count_once() {
        let mut totals = CounterTotalsEntityTestKit::of(Totals);
        totals.observe(observe(3, "e1"));
        assert_eq!(
            (totals.state().last_value, totals.state().changes_seen),
            (3, 1)
        );
        let again = totals.observe(observe(3, "e1"));
        assert!(!again.state_was_updated());
        let next = totals.observe(observe(4, "e2"));
        let state = next.updated_state().expect("stored");
        assert_eq!((state.last_value, state.changes_seen), (4, 2));
    }

    #[tokio::test]
    async fn each_message_becomes_an_observe_with_its_event_id() {
        let mut feeder = CounterEventsConsumerActionTestKit::of(TotalsFeeder);
        feeder
            .when(CounterTotalServiceClient::observe)
            .reply(|observe| {
                Ok(CounterTotal {
                    counter_id: observe.counter_id,
                    last_value: observe.value,
                    changes_seen: 1,
                    last_event_id: observe.event_id,
                })
            });
        feeder.set_metadata(Metadata::new().with("ce-id", "e7"));
        let result = feeder.on_counter_changed(changed(5)).await;
        result.reply();
        let [call] = result.calls() else {
            panic!("one call, not {:?}", result.calls())
        };
        assert_eq!(call.path, "/totals.CounterTotalService/Observe");
        assert_eq!(call.request::<Observe>(), observe(5, "e7"));
    }

    #[tokio::test]
    async fn a_failing_observe_fails_the_message_so_it_is_retried() {
        let mut feeder = CounterEventsConsumerActionTestKit::of(TotalsFeeder);
        feeder
            .when(CounterTotalServiceClient::observe)
            .fail(Status::unavailable("storage is down"));
        let result = feeder.on_counter_changed(changed(1)).await;
        assert_eq!(result.error().code(), Code::Unavailable);
        let anonymous = feeder.on_counter_changed(CounterChanged::default()).await;
        assert_eq!(anonymous.error().code(), Code::InvalidArgument);
        assert_eq!(
            feeder.calls().len(),
            1,
            "the anonymous message calls nothing"
        );
    }
}
