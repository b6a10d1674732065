//! The event-sourced entity kit: one entity id, its journal and its state,
//! as the runtime keeps them — a command's events are applied in order
//! through the implementation's `apply_*` functions, its reply is computed
//! from the new state, an error persists nothing, and every
//! `snapshot_every` events the state is snapshotted (so a test can check
//! that recovery from the snapshot and the later events gives the same
//! state).

use bytes::Bytes;

use super::env::{KitEnv, TimerChange};
use super::outcome::{Ended, entity_effect_accessors, outcome_accessors};
use crate::component::adapter::{EventSet, EventSourcedAdapter};
use crate::context::CommandContext;
use crate::effect::{DeferredCall, EventEffect, EventOutcome};

/// Picks one message type out of an entity's event enum; generated for
/// each event of each event-sourced entity.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of this entity (its events are the variants of `{E}`)",
    label = "not an event of this entity"
)]
pub trait EventOf<E>: Sized {
    /// The event, if `event` is one of this type.
    fn from_event(event: &E) -> Option<&Self>;
}

/// Events between snapshots when the entity does not say (the runtime's
/// default, `PLINTH_SNAPSHOT_EVERY`).
const DEFAULT_SNAPSHOT_EVERY: usize = 100;

/// One event-sourced entity's journal and state. Generated kits
/// (`<Name>EntityTestKit`) wrap one and dereference to it.
#[derive(Debug)]
pub struct EventSourcedKit<S, E> {
    env: KitEnv,
    entity_id: String,
    empty: S,
    state: S,
    journal: Vec<E>,
    snapshot_every: usize,
    snapshot: Option<(usize, S)>,
}

impl<S: prost::Message + Default + Clone, E: EventSet> EventSourcedKit<S, E> {
    /// A kit for the entity `entity_id`, starting at `empty`, snapshotting
    /// every `snapshot_every` events (the entity's option: 0 for the
    /// runtime's default, negative for never).
    pub fn new(
        entity_id: impl Into<String>,
        empty: S,
        snapshot_every: i32,
    ) -> EventSourcedKit<S, E> {
        let snapshot_every = match snapshot_every {
            n if n > 0 => n as usize,
            0 => DEFAULT_SNAPSHOT_EVERY,
            _ => 0,
        };
        EventSourcedKit {
            env: KitEnv::default(),
            entity_id: entity_id.into(),
            state: empty.clone(),
            empty,
            journal: Vec::new(),
            snapshot_every,
            snapshot: None,
        }
    }

    /// The entity id every command runs for.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The current state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Every event persisted so far, in order.
    pub fn all_events(&self) -> &[E] {
        &self.journal
    }

    /// The latest snapshot: how many events it covers, and the state.
    pub fn snapshot(&self) -> Option<(usize, &S)> {
        self.snapshot.as_ref().map(|(count, state)| (*count, state))
    }

    /// Persist `events` through `adapter`'s `apply`, as if earlier commands
    /// had emitted them.
    pub fn given<A>(&mut self, adapter: &A, events: Vec<E>)
    where
        A: EventSourcedAdapter<State = S, Event = E>,
    {
        self.persist(events, &|state: &mut S, event: &E| {
            adapter.apply(state, event)
        });
    }

    /// The state recovery would produce: the latest snapshot (or the empty
    /// state) with the later events applied through `adapter` — what a
    /// restarted service has.
    pub fn recovered_state<A>(&self, adapter: &A) -> S
    where
        A: EventSourcedAdapter<State = S, Event = E>,
    {
        let apply = |state: &mut S, event: &E| adapter.apply(state, event);
        let (from, mut state) = match &self.snapshot {
            Some((count, state)) => (*count, state.clone()),
            None => (0, self.empty.clone()),
        };
        for event in &self.journal[from..] {
            // Replayed from their stored form, as the runtime replays them.
            let stored = E::decode_payload(event.type_name(), &event.encode_payload())
                .expect("an event decodes from its own encoding");
            apply(&mut state, &stored);
        }
        state
    }

    /// Run `command` through `adapter` (a generated component) on the
    /// current state and persist its events; the reply decoded as `R`. The
    /// generated kit's methods call this.
    pub fn handle<A, R>(&mut self, adapter: &A, command: A::Command) -> EventSourcedResult<R, E, S>
    where
        A: EventSourcedAdapter<State = S, Event = E>,
        R: prost::Message + Default,
    {
        let result = self.run(
            |state, ctx| adapter.handle(state, command, ctx),
            |state, event| adapter.apply(state, event),
        );
        EventSourcedResult {
            ended: result.ended.decoded(),
            events: result.events,
            cursor: 0,
            state: result.state,
            deleted: result.deleted,
            side_effects: result.side_effects,
            timers: result.timers,
        }
    }

    /// Run a handler on the current state and persist its events.
    fn run<R>(
        &mut self,
        handler: impl FnOnce(&S, &CommandContext) -> EventEffect<S, E, R>,
        apply: impl Fn(&mut S, &E),
    ) -> EventSourcedResult<R, E, S> {
        let ctx = CommandContext::new(self.entity_id.clone()).with_metadata(self.env.metadata());
        let effect = handler(&self.state, &ctx);
        let timers = self.env.timer_changes(ctx.take_schedule());
        let (events, delete, outcome, side_effects) = effect.into_parts();
        if let EventOutcome::Error(status) = outcome {
            // A rejected command persists nothing.
            return EventSourcedResult {
                ended: Ended::Error(status),
                events: Vec::new(),
                cursor: 0,
                state: self.state.clone(),
                deleted: false,
                side_effects: Vec::new(),
                timers: Vec::new(),
            };
        }
        self.persist(events.clone(), &apply);
        if delete {
            self.state = self.empty.clone();
        }
        self.env.record(&timers);
        let ended = match outcome {
            EventOutcome::Reply(reply) => Ended::Reply(reply(&self.state)),
            EventOutcome::Forward(call) => Ended::Forward(call),
            EventOutcome::Error(status) => Ended::Error(status),
        };
        EventSourcedResult {
            ended,
            events,
            cursor: 0,
            state: self.state.clone(),
            deleted: delete,
            side_effects,
            timers,
        }
    }

    fn persist(&mut self, events: Vec<E>, apply: &impl Fn(&mut S, &E)) {
        for event in events {
            apply(&mut self.state, &event);
            self.journal.push(event);
            let since = self.snapshot.as_ref().map_or(0, |(count, _)| *count);
            if self.snapshot_every > 0 && self.journal.len() - since >= self.snapshot_every {
                // Kept as its encoding, as the runtime keeps it.
                let stored = S::decode(self.state.encode_to_vec().as_slice()).unwrap_or_default();
                self.snapshot = Some((self.journal.len(), stored));
            }
        }
    }
}

impl<S, E> std::ops::Deref for EventSourcedKit<S, E> {
    type Target = KitEnv;
    fn deref(&self) -> &KitEnv {
        &self.env
    }
}

impl<S, E> std::ops::DerefMut for EventSourcedKit<S, E> {
    fn deref_mut(&mut self) -> &mut KitEnv {
        &mut self.env
    }
}

/// What one event-sourced command did.
#[derive(Debug)]
pub struct EventSourcedResult<R, E, S> {
    ended: Ended<R>,
    events: Vec<E>,
    cursor: usize,
    state: S,
    deleted: bool,
    side_effects: Vec<DeferredCall<Bytes>>,
    timers: Vec<TimerChange>,
}

impl<R, E: EventSet, S> EventSourcedResult<R, E, S> {
    outcome_accessors!(R);

    /// The events the command emitted, in order.
    pub fn events(&self) -> &[E] {
        &self.events
    }

    /// Whether the command emitted events.
    pub fn did_emit_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next emitted event (the first, on the first call), which must be
    /// a `T`.
    ///
    /// # Panics
    /// When there are no more events, or the next one is another type.
    pub fn next_event<T: EventOf<E> + Clone>(&mut self) -> T {
        let Some(event) = self.events.get(self.cursor) else {
            panic!(
                "expected an event of type {}, but the command emitted only {} event(s)",
                std::any::type_name::<T>(),
                self.events.len()
            );
        };
        let Some(typed) = T::from_event(event) else {
            panic!(
                "expected event {} to be of type {}, but it is a {}",
                self.cursor + 1,
                std::any::type_name::<T>(),
                event.type_name()
            );
        };
        self.cursor += 1;
        typed.clone()
    }

    /// The state after the events were applied.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Whether the command deleted the entity.
    pub fn state_was_deleted(&self) -> bool {
        self.deleted
    }

    entity_effect_accessors!();
}
