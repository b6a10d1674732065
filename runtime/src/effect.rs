//! What entity and view handlers return: the state change to persist, then the
//! reply, error or forward. Handlers are pure; the runtime applies an effect only
//! after its state change is durable.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::status::Status;

/// A call to a method of a component of this service, made later by the runtime
/// (a forward or a side effect). `R` is the method's reply type.
pub struct DeferredCall<R> {
    path: &'static str,
    payload: Bytes,
    reply: PhantomData<fn() -> R>,
}

impl<R> DeferredCall<R> {
    /// A call of the gRPC method `path` (`/package.Service/Method`) with an encoded
    /// request. Generated clients build these; users rarely need to.
    pub fn new(path: &'static str, payload: Bytes) -> DeferredCall<R> {
        DeferredCall {
            path,
            payload,
            reply: PhantomData,
        }
    }

    /// The method path.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The encoded request.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The same call with its reply type erased.
    pub fn erase(self) -> DeferredCall<Bytes> {
        DeferredCall::new(self.path, self.payload)
    }
}

impl<R> Clone for DeferredCall<R> {
    fn clone(&self) -> Self {
        DeferredCall::new(self.path, self.payload.clone())
    }
}

impl<R> fmt::Debug for DeferredCall<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredCall")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What a value-entity command does to the state.
#[derive(Debug, Clone, PartialEq)]
pub enum StateChange<S> {
    /// Leave the state as it is.
    None,
    /// Replace the state.
    Update(S),
    /// Delete the entity: its state returns to the empty state.
    Delete,
}

/// How a command ends for its caller.
#[derive(Debug)]
pub enum Outcome<R> {
    /// Reply with this message.
    Reply(R),
    /// Fail with this status; nothing is persisted.
    Error(Status),
    /// Hand the command on to another component, whose reply is the reply.
    Forward(DeferredCall<R>),
}

impl<R> Outcome<R> {
    fn map<T>(self, f: impl FnOnce(R) -> T) -> Outcome<T> {
        match self {
            Outcome::Reply(reply) => Outcome::Reply(f(reply)),
            Outcome::Error(status) => Outcome::Error(status),
            Outcome::Forward(call) => Outcome::Forward(DeferredCall::new(call.path, call.payload)),
        }
    }
}

/// The effect of a value-entity command handler: a state change (persisted
/// before anything else happens), then a reply, error or forward, and side
/// effects run after the state change is durable.
#[must_use = "an effect does nothing unless returned from a handler"]
#[derive(Debug)]
pub struct Effect<S, R> {
    change: StateChange<S>,
    outcome: Outcome<R>,
    side_effects: Vec<DeferredCall<Bytes>>,
}

/// A state change waiting for its reply: `Effect::update(s).then_reply(r)`.
#[must_use = "finish the effect with then_reply or then_forward"]
#[derive(Debug)]
pub struct StateUpdate<S>(StateChange<S>);

impl<S> StateUpdate<S> {
    /// Persist the change, then reply.
    pub fn then_reply<R>(self, reply: R) -> Effect<S, R> {
        Effect {
            change: self.0,
            outcome: Outcome::Reply(reply),
            side_effects: Vec::new(),
        }
    }

    /// Persist the change, then forward the command.
    pub fn then_forward<R>(self, call: DeferredCall<R>) -> Effect<S, R> {
        Effect {
            change: self.0,
            outcome: Outcome::Forward(call),
            side_effects: Vec::new(),
        }
    }
}

impl<S> Effect<S, ()> {
    /// Replace the state; finish with [`StateUpdate::then_reply`].
    pub fn update(state: S) -> StateUpdate<S> {
        StateUpdate(StateChange::Update(state))
    }

    /// Delete the entity; finish with [`StateUpdate::then_reply`].
    pub fn delete() -> StateUpdate<S> {
        StateUpdate(StateChange::Delete)
    }
}

impl<S, R> Effect<S, R> {
    /// Reply without changing the state.
    pub fn reply(reply: R) -> Effect<S, R> {
        Effect {
            change: StateChange::None,
            outcome: Outcome::Reply(reply),
            side_effects: Vec::new(),
        }
    }

    /// Fail the command; the state is left as it is.
    pub fn error(status: impl Into<Status>) -> Effect<S, R> {
        Effect {
            change: StateChange::None,
            outcome: Outcome::Error(status.into()),
            side_effects: Vec::new(),
        }
    }

    /// Forward the command to another component without changing the state.
    pub fn forward(call: DeferredCall<R>) -> Effect<S, R> {
        Effect {
            change: StateChange::None,
            outcome: Outcome::Forward(call),
            side_effects: Vec::new(),
        }
    }

    /// Also run this call after the state change is durable (fire and forget).
    pub fn with_side_effect<T>(mut self, call: DeferredCall<T>) -> Effect<S, R> {
        self.side_effects.push(call.erase());
        self
    }

    /// The state change.
    pub fn state_change(&self) -> &StateChange<S> {
        &self.change
    }

    /// The new state, when the effect updates it.
    pub fn updated_state(&self) -> Option<&S> {
        match &self.change {
            StateChange::Update(state) => Some(state),
            _ => None,
        }
    }

    /// Whether the effect deletes the entity.
    pub fn is_delete(&self) -> bool {
        matches!(self.change, StateChange::Delete)
    }

    /// The outcome.
    pub fn outcome(&self) -> &Outcome<R> {
        &self.outcome
    }

    /// The reply, when the effect replies.
    pub fn reply_message(&self) -> Option<&R> {
        match &self.outcome {
            Outcome::Reply(reply) => Some(reply),
            _ => None,
        }
    }

    /// The error, when the effect fails.
    pub fn error_status(&self) -> Option<&Status> {
        match &self.outcome {
            Outcome::Error(status) => Some(status),
            _ => None,
        }
    }

    /// The side effects.
    pub fn side_effects(&self) -> &[DeferredCall<Bytes>] {
        &self.side_effects
    }

    /// The same effect with its reply converted (generated adapters encode it).
    pub fn map_reply<T>(self, f: impl FnOnce(R) -> T) -> Effect<S, T> {
        Effect {
            change: self.change,
            outcome: self.outcome.map(f),
            side_effects: self.side_effects,
        }
    }

    /// The parts: state change, outcome, side effects.
    pub fn into_parts(self) -> (StateChange<S>, Outcome<R>, Vec<DeferredCall<Bytes>>) {
        (self.change, self.outcome, self.side_effects)
    }
}

type ReplyFn<S, R> = Box<dyn FnOnce(&S) -> R + Send>;

/// How an event-sourced command ends: the reply is computed from the state
/// after the emitted events were applied.
pub enum EventOutcome<S, R> {
    /// Reply with what this function computes from the new state.
    Reply(ReplyFn<S, R>),
    /// Fail with this status; no event is persisted.
    Error(Status),
    /// Hand the command on to another component.
    Forward(DeferredCall<R>),
}

impl<S, R> fmt::Debug for EventOutcome<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventOutcome::Reply(_) => f.write_str("Reply(..)"),
            EventOutcome::Error(status) => f.debug_tuple("Error").field(status).finish(),
            EventOutcome::Forward(call) => f.debug_tuple("Forward").field(call).finish(),
        }
    }
}

/// The effect of an event-sourced command handler: events to persist (applied to
/// the state in order), then a reply computed from the new state, an error or a
/// forward.
#[must_use = "an effect does nothing unless returned from a handler"]
pub struct EventEffect<S, E, R> {
    events: Vec<E>,
    delete: bool,
    outcome: EventOutcome<S, R>,
    side_effects: Vec<DeferredCall<Bytes>>,
}

impl<S, E: fmt::Debug, R> fmt::Debug for EventEffect<S, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEffect")
            .field("events", &self.events)
            .field("delete", &self.delete)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// Events waiting for the reply: `EventEffect::emit(e).then_reply(|state| ..)`.
#[must_use = "finish the effect with then_reply or then_forward"]
#[derive(Debug)]
pub struct Emit<E> {
    events: Vec<E>,
    delete: bool,
}

impl<E> Emit<E> {
    /// Emit one more event after the ones already listed.
    pub fn and(mut self, event: impl Into<E>) -> Emit<E> {
        self.events.push(event.into());
        self
    }

    /// Delete the entity after persisting the events.
    pub fn and_delete(mut self) -> Emit<E> {
        self.delete = true;
        self
    }

    /// Persist the events, then reply with what `reply` computes from the new state.
    pub fn then_reply<S, R>(
        self,
        reply: impl FnOnce(&S) -> R + Send + 'static,
    ) -> EventEffect<S, E, R> {
        EventEffect {
            events: self.events,
            delete: self.delete,
            outcome: EventOutcome::Reply(Box::new(reply)),
            side_effects: Vec::new(),
        }
    }

    /// Persist the events, then forward the command.
    pub fn then_forward<S, R>(self, call: DeferredCall<R>) -> EventEffect<S, E, R> {
        EventEffect {
            events: self.events,
            delete: self.delete,
            outcome: EventOutcome::Forward(call),
            side_effects: Vec::new(),
        }
    }
}

impl<S, E, R: Send + 'static> EventEffect<S, E, R> {
    /// Reply without emitting events.
    pub fn reply(reply: R) -> EventEffect<S, E, R> {
        EventEffect {
            events: Vec::new(),
            delete: false,
            outcome: EventOutcome::Reply(Box::new(move |_| reply)),
            side_effects: Vec::new(),
        }
    }
}

impl<E> EventEffect<(), E, ()> {
    /// Emit an event (more with [`Emit::and`]).
    pub fn emit(event: impl Into<E>) -> Emit<E> {
        Emit {
            events: vec![event.into()],
            delete: false,
        }
    }

    /// Emit several events, in order.
    pub fn emit_all<I>(events: I) -> Emit<E>
    where
        I: IntoIterator,
        I::Item: Into<E>,
    {
        Emit {
            events: events.into_iter().map(Into::into).collect(),
            delete: false,
        }
    }
}

impl<S, E, R> EventEffect<S, E, R> {
    /// Fail the command; no event is persisted.
    pub fn error(status: impl Into<Status>) -> EventEffect<S, E, R> {
        EventEffect {
            events: Vec::new(),
            delete: false,
            outcome: EventOutcome::Error(status.into()),
            side_effects: Vec::new(),
        }
    }

    /// Forward the command without emitting events.
    pub fn forward(call: DeferredCall<R>) -> EventEffect<S, E, R> {
        EventEffect {
            events: Vec::new(),
            delete: false,
            outcome: EventOutcome::Forward(call),
            side_effects: Vec::new(),
        }
    }

    /// Also run this call after the events are durable (fire and forget).
    pub fn with_side_effect<T>(mut self, call: DeferredCall<T>) -> EventEffect<S, E, R> {
        self.side_effects.push(call.erase());
        self
    }

    /// The emitted events, in order.
    pub fn events(&self) -> &[E] {
        &self.events
    }

    /// Whether the effect deletes the entity.
    pub fn is_delete(&self) -> bool {
        self.delete
    }

    /// The error, when the effect fails.
    pub fn error_status(&self) -> Option<&Status> {
        match &self.outcome {
            EventOutcome::Error(status) => Some(status),
            _ => None,
        }
    }

    /// The side effects.
    pub fn side_effects(&self) -> &[DeferredCall<Bytes>] {
        &self.side_effects
    }

    /// The reply the effect gives once its events are applied to `state` (for
    /// unit tests of handlers); `None` for errors and forwards.
    pub fn reply_for(self, state: &S) -> Option<R> {
        match self.outcome {
            EventOutcome::Reply(reply) => Some(reply(state)),
            _ => None,
        }
    }

    /// The same effect with its reply converted (generated adapters encode it).
    pub fn map_reply<T>(self, f: impl FnOnce(R) -> T + Send + 'static) -> EventEffect<S, E, T>
    where
        S: 'static,
        R: 'static,
    {
        let outcome = match self.outcome {
            EventOutcome::Reply(reply) => {
                EventOutcome::Reply(Box::new(move |state: &S| f(reply(state))))
            }
            EventOutcome::Error(status) => EventOutcome::Error(status),
            EventOutcome::Forward(call) => {
                EventOutcome::Forward(DeferredCall::new(call.path, call.payload))
            }
        };
        EventEffect {
            events: self.events,
            delete: self.delete,
            outcome,
            side_effects: self.side_effects,
        }
    }

    /// The parts: events, delete flag, outcome, side effects.
    pub fn into_parts(self) -> (Vec<E>, bool, EventOutcome<S, R>, Vec<DeferredCall<Bytes>>) {
        (self.events, self.delete, self.outcome, self.side_effects)
    }
}

/// What a view update handler does to its row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowUpdate<R> {
    /// Store this row (insert or replace).
    Upsert(R),
    /// Delete the row.
    Delete,
    /// Leave the row as it is.
    Ignore,
}

impl<R> RowUpdate<R> {
    /// The same update with its row converted.
    pub fn map<T>(self, f: impl FnOnce(R) -> T) -> RowUpdate<T> {
        match self {
            RowUpdate::Upsert(row) => RowUpdate::Upsert(f(row)),
            RowUpdate::Delete => RowUpdate::Delete,
            RowUpdate::Ignore => RowUpdate::Ignore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_effects_carry_state_and_reply() {
        let effect: Effect<u32, &str> = Effect::update(7).then_reply("ok");
        assert_eq!(effect.updated_state(), Some(&7));
        assert_eq!(effect.reply_message(), Some(&"ok"));
        let effect = effect.map_reply(str::len);
        assert_eq!(effect.reply_message(), Some(&2));

        let effect: Effect<u32, ()> = Effect::error(Status::not_found("no cart"));
        assert_eq!(effect.state_change(), &StateChange::None);
        assert_eq!(effect.error_status().map(Status::message), Some("no cart"));

        let effect: Effect<u32, ()> = Effect::delete().then_reply(());
        assert!(effect.is_delete());
    }

    #[test]
    fn event_effects_reply_from_the_new_state() {
        let effect: EventEffect<u32, u32, u32> = EventEffect::emit(1u32)
            .and(2u32)
            .then_reply(|s: &u32| s * 10);
        assert_eq!(effect.events(), &[1, 2]);
        let effect = effect.map_reply(|r| r + 1);
        assert_eq!(effect.reply_for(&3), Some(31));

        let effect: EventEffect<u32, u32, ()> = EventEffect::error(Status::invalid_argument("no"));
        assert!(effect.events().is_empty());
        assert!(effect.reply_for(&0).is_none());
    }
}
