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
    use futures::executor::block_on;
    use plinth::codegen::{ActionAdapter, ActionReply, Message, decode, encode};
    use plinth::{Code, Metadata};

    use super::counter::{
        COUNTER_EVENTS_ACTION_INFO, CounterEventsActionComponent, CounterServiceClient,
    };
    use super::*;

    fn ctx() -> CommandContext {
        CommandContext::new("c1")
    }

    fn change(amount: i64) -> ChangeValue {
        ChangeValue {
            counter_id: "c1".into(),
            amount,
        }
    }

    #[test]
    fn increase_and_decrease_change_the_value() {
        let up = Counter.increase(&CounterState { value: 2 }, change(3), &ctx());
        assert_eq!(up.updated_state(), Some(&CounterState { value: 5 }));
        assert_eq!(up.reply_message(), Some(&CurrentValue { value: 5 }));

        let down = Counter.decrease(&CounterState { value: 5 }, change(5), &ctx());
        assert_eq!(down.updated_state(), Some(&CounterState { value: 0 }));
    }

    #[test]
    fn bad_amounts_and_underflow_are_rejected() {
        let zero = Counter.increase(&CounterState::default(), change(0), &ctx());
        assert_eq!(
            zero.error_status().map(Status::code),
            Some(Code::InvalidArgument)
        );
        let below = Counter.decrease(&CounterState { value: 1 }, change(2), &ctx());
        assert_eq!(
            below.error_status().map(Status::code),
            Some(Code::FailedPrecondition)
        );
        assert!(below.updated_state().is_none());
        let overflow = Counter.increase(&CounterState { value: i64::MAX }, change(1), &ctx());
        assert_eq!(
            overflow.error_status().map(Status::code),
            Some(Code::OutOfRange)
        );
    }

    #[test]
    fn get_and_reset() {
        let id = CounterId {
            counter_id: "c1".into(),
        };
        let get = Counter.get(&CounterState { value: 7 }, id.clone(), &ctx());
        assert_eq!(get.reply_message(), Some(&CurrentValue { value: 7 }));
        let reset = Counter.reset(&CounterState { value: 7 }, id, &ctx());
        assert_eq!(reset.updated_state(), Some(&CounterState { value: 0 }));
    }

    #[test]
    fn the_action_publishes_each_change() {
        let metadata = Metadata::new().with("ce-subject", "c1");
        let changed = block_on(
            CounterPublisher.on_changed(CounterState { value: 4 }, ActionContext::new(metadata)),
        );
        assert_eq!(
            changed,
            Ok(CounterChanged {
                counter_id: "c1".into(),
                value: 4
            })
        );
        let anonymous = block_on(
            CounterPublisher.on_changed(CounterState { value: 4 }, ActionContext::default()),
        );
        assert_eq!(anonymous.map_err(|s| s.code()), Err(Code::InvalidArgument));

        let method = &COUNTER_EVENTS_ACTION_INFO.methods[0];
        assert_eq!(method.publish, Some("counter-events"));
        assert!(method.subscribe.is_some());
    }

    #[test]
    fn the_action_component_decodes_and_encodes() {
        let component = CounterEventsActionComponent::new(CounterPublisher);
        let ctx = ActionContext::new(Metadata::new().with("ce-subject", "c9"));
        let payload = encode(&CounterState { value: 11 });
        let reply = block_on(component.call(0, payload, ctx.clone())).expect("handled");
        let ActionReply::Unary(bytes) = reply else {
            panic!("a unary reply")
        };
        let changed: CounterChanged = decode(&bytes).unwrap();
        assert_eq!(
            changed,
            CounterChanged {
                counter_id: "c9".into(),
                value: 11
            }
        );

        let garbage =
            block_on(component.call(0, vec![0xff, 0xff].into(), ctx.clone())).unwrap_err();
        assert_eq!(garbage.code(), Code::InvalidArgument);
        let unknown = block_on(component.call(3, Default::default(), ctx)).unwrap_err();
        assert_eq!(unknown.code(), Code::Unimplemented);
    }

    #[test]
    fn the_client_builds_deferred_calls() {
        let call = CounterServiceClient::increase(change(2));
        assert_eq!(call.path(), "/counter.CounterService/Increase");
        assert_eq!(
            ChangeValue::decode(call.payload().clone()).unwrap(),
            change(2)
        );
    }
}
