//! Counters that go up and down, and an action publishing each change.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use crate::counter::{
    ChangeValue, CounterChanged, CounterEntity, CounterEventsAction, CounterId, CounterState,
    CurrentValue,
};
use plinth::{ActionContext, CommandContext, Effect, Status};

/// The counter's business rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter;

fn check_amount(amount: i64) -> Result<(), Status> {
    if amount <= 0 {
        return Err(Status::invalid_argument(format!(
            "amount must be greater than zero, not {amount}"
        )));
    }
    Ok(())
}

impl CounterEntity for Counter {
    fn increase(
        &self,
        state: &CounterState,
        command: ChangeValue,
        _ctx: &CommandContext,
    ) -> Effect<CounterState, CurrentValue> {
        if let Err(status) = check_amount(command.amount) {
            return Effect::error(status);
        }
        let Some(value) = state.value.checked_add(command.amount) else {
            return Effect::error(Status::out_of_range("the counter would overflow"));
        };
        Effect::update(CounterState { value }).then_reply(CurrentValue { value })
    }

    fn decrease(
        &self,
        state: &CounterState,
        command: ChangeValue,
        _ctx: &CommandContext,
    ) -> Effect<CounterState, CurrentValue> {
        if let Err(status) = check_amount(command.amount) {
            return Effect::error(status);
        }
        if command.amount > state.value {
            return Effect::error(Status::failed_precondition(format!(
                "cannot decrease {} by {}: counters never go below zero",
                state.value, command.amount
            )));
        }
        let value = state.value - command.amount;
        Effect::update(CounterState { value }).then_reply(CurrentValue { value })
    }

    fn get(
        &self,
        state: &CounterState,
        _command: CounterId,
        _ctx: &CommandContext,
    ) -> Effect<CounterState, CurrentValue> {
        Effect::reply(CurrentValue { value: state.value })
    }

    fn reset(
        &self,
        _state: &CounterState,
        _command: CounterId,
        _ctx: &CommandContext,
    ) -> Effect<CounterState, ()> {
        Effect::update(CounterState::default()).then_reply(())
    }
}

/// Publishes every counter change.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterPublisher;

impl CounterEventsAction for CounterPublisher {
    async fn on_changed(
        &self,
        message: CounterState,
        ctx: ActionContext,
    ) -> Result<CounterChanged, Status> {
        let Some(counter_id) = ctx.event_subject() else {
            return Err(Status::invalid_argument(
                "a counter change must name its counter (ce-subject)",
            ));
        };
        Ok(CounterChanged {
            counter_id: counter_id.to_owned(),
            value: message.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use plinth::{Code, Metadata};

    use super::counter::{CounterEntityTestKit, CounterEventsActionTestKit};
    use super::*;

    fn change(amount: i64) -> ChangeValue {
        ChangeValue {
            counter_id: "c1".into(),
            amount,
        }
    }

    fn id() -> CounterId {
        CounterId {
            counter_id: "c1".into(),
        }
    }

    #[test]
    fn increase_and_decrease_change_the_value() {
        let mut counter = CounterEntityTestKit::of(Counter);
        assert_eq!(
            counter.increase(change(2)).reply(),
            &CurrentValue { value: 2 }
        );
        let up = counter.increase(change(3));
        assert_eq!(up.updated_state(), Some(&CounterState { value: 5 }));
        assert_eq!(up.reply(), &CurrentValue { value: 5 });
        counter.decrease(change(5));
        assert_eq!(counter.state(), &CounterState { value: 0 });
    }

    #[test]
    fn bad_amounts_and_underflow_are_rejected_and_change_nothing() {
        let mut counter = CounterEntityTestKit::of(Counter);
        assert_eq!(
            counter.increase(change(0)).error().code(),
            Code::InvalidArgument
        );
        counter.increase(change(1));
        let below = counter.decrease(change(2));
        assert_eq!(below.error().code(), Code::FailedPrecondition);
        assert!(!below.state_was_updated());
        assert_eq!(counter.state().value, 1);
        counter.set_state(CounterState { value: i64::MAX });
        assert_eq!(counter.increase(change(1)).error().code(), Code::OutOfRange);
    }

    #[test]
    fn get_and_reset() {
        let mut counter = CounterEntityTestKit::of(Counter);
        counter.set_state(CounterState { value: 7 });
        assert_eq!(counter.get(id()).reply(), &CurrentValue { value: 7 });
        let reset = counter.reset(id());
        assert_eq!(reset.updated_state(), Some(&CounterState { value: 0 }));
        assert_eq!(counter.get(id()).reply().value, 0);
    }

    #[tokio::test]
    async fn the_action_publishes_each_change_to_counter_events() {
        let mut publisher = CounterEventsActionTestKit::of(CounterPublisher);
        publisher.set_metadata(Metadata::new().with("ce-subject", "c1"));
        let changed = publisher.on_changed(CounterState { value: 4 }).await;
        let expected = CounterChanged {
            counter_id: "c1".into(),
            value: 4,
        };
        assert_eq!(changed.reply(), &expected);
        assert_eq!(
            changed.expect_one::<CounterChanged>("counter-events"),
            expected
        );
        let published = &changed.published()[0];
        assert_eq!(published.ce_type(), "counter.CounterChanged");
        assert_eq!(published.subject(), Some("c1"));
    }

    #[tokio::test]
    async fn a_change_without_a_subject_is_refused_and_publishes_nothing() {
        let mut publisher = CounterEventsActionTestKit::of(CounterPublisher);
        let anonymous = publisher.on_changed(CounterState { value: 4 }).await;
        assert_eq!(anonymous.error().code(), Code::InvalidArgument);
        assert!(anonymous.published().is_empty());
        assert!(publisher.published_to("counter-events").is_empty());
    }

    #[test]
    fn the_client_builds_deferred_calls() {
        let call = counter::CounterServiceClient::increase(change(2));
        assert_eq!(call.path(), "/counter.CounterService/Increase");
    }
}
