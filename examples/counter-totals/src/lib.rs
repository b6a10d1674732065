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
    use super::*;

    fn observe(value: i64, event_id: &str) -> Observe {
        Observe {
            counter_id: "c1".into(),
            value,
            event_id: event_id.into(),
        }
    }

    #[test]
    fn the_last_value_wins_and_repeats_count_once() {
        let ctx = CommandContext::new("c1");
        let first = Totals.observe(&CounterTotal::default(), observe(3, "e1"), &ctx);
        let state = first.updated_state().cloned().unwrap();
        assert_eq!((state.last_value, state.changes_seen), (3, 1));
        let again = Totals.observe(&state, observe(3, "e1"), &ctx);
        assert!(again.updated_state().is_none());
        let next = Totals.observe(&state, observe(4, "e2"), &ctx);
        let state = next.updated_state().unwrap();
        assert_eq!((state.last_value, state.changes_seen), (4, 2));
    }

    #[test]
    fn calls_need_a_running_service() {
        let changed = CounterChanged {
            counter_id: "c1".into(),
            value: 1,
        };
        let outcome = futures::executor::block_on(
            TotalsFeeder.on_counter_changed(changed, ActionContext::default()),
        );
        assert_eq!(
            outcome.unwrap_err().code(),
            plinth::Code::FailedPrecondition
        );
        let anonymous = futures::executor::block_on(
            TotalsFeeder.on_counter_changed(CounterChanged::default(), ActionContext::default()),
        );
        assert_eq!(anonymous.unwrap_err().code(), plinth::Code::InvalidArgument);
    }
}
