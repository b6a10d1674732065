//! The value entity kit: one entity id whose state is kept across calls, as
//! the runtime keeps it — a command's new state replaces the state, a
//! delete returns it to the empty state, an error changes nothing.

use bytes::Bytes;

use super::env::{KitEnv, TimerChange};
use super::outcome::{Ended, entity_effect_accessors, outcome_accessors};
use crate::component::adapter::ValueEntityAdapter;
use crate::context::CommandContext;
use crate::effect::{DeferredCall, Effect, Outcome, StateChange};

/// One value entity's state and what its calls did. Generated kits
/// (`<Name>EntityTestKit`) wrap one and dereference to it.
#[derive(Debug)]
pub struct ValueEntityKit<S> {
    env: KitEnv,
    entity_id: String,
    empty: S,
    state: S,
    exists: bool,
}

impl<S: prost::Message + Default + Clone> ValueEntityKit<S> {
    /// A kit for the entity `entity_id`, starting at `empty` (the
    /// implementation's empty state).
    pub fn new(entity_id: impl Into<String>, empty: S) -> ValueEntityKit<S> {
        ValueEntityKit {
            env: KitEnv::default(),
            entity_id: entity_id.into(),
            state: empty.clone(),
            empty,
            exists: false,
        }
    }

    /// The entity id every command runs for.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The current state (the empty state until a command stores one).
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Whether a state is stored (updated and not deleted since).
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// Start from a stored `state`, as if earlier commands had written it.
    pub fn set_state(&mut self, state: S) {
        self.state = state;
        self.exists = true;
    }

    /// Run `command` through `adapter` (a generated component) on the
    /// current state and keep what it changed; the reply decoded as `R`.
    /// The generated kit's methods call this.
    pub fn handle<A, R>(&mut self, adapter: &A, command: A::Command) -> ValueEntityResult<R, S>
    where
        A: ValueEntityAdapter<State = S>,
        R: prost::Message + Default,
    {
        let result = self.run(|state, ctx| adapter.handle(state, command, ctx));
        ValueEntityResult {
            ended: result.ended.decoded(),
            change: result.change,
            state: result.state,
            side_effects: result.side_effects,
            timers: result.timers,
        }
    }

    /// Run a handler on the current state and keep what it changed.
    fn run<R>(
        &mut self,
        handler: impl FnOnce(&S, &CommandContext) -> Effect<S, R>,
    ) -> ValueEntityResult<R, S> {
        let ctx = CommandContext::new(self.entity_id.clone()).with_metadata(self.env.metadata());
        let effect = handler(&self.state, &ctx);
        let timers = self.env.timer_changes(ctx.take_schedule());
        let (change, outcome, side_effects) = effect.into_parts();
        let ended = match outcome {
            Outcome::Reply(reply) => Ended::Reply(reply),
            Outcome::Error(status) => Ended::Error(status),
            Outcome::Forward(call) => Ended::Forward(call),
        };
        if ended.is_error() {
            // A rejected command changes nothing.
            return ValueEntityResult {
                ended,
                change: StateChange::None,
                state: self.state.clone(),
                side_effects: Vec::new(),
                timers: Vec::new(),
            };
        }
        match &change {
            StateChange::None => {}
            StateChange::Update(state) => {
                // Stored as its encoding, as the runtime stores it.
                self.state = S::decode(state.encode_to_vec().as_slice()).unwrap_or_default();
                self.exists = true;
            }
            StateChange::Delete => {
                self.state = self.empty.clone();
                self.exists = false;
            }
        }
        self.env.record(&timers);
        ValueEntityResult {
            ended,
            change,
            state: self.state.clone(),
            side_effects,
            timers,
        }
    }
}

impl<S> std::ops::Deref for ValueEntityKit<S> {
    type Target = KitEnv;
    fn deref(&self) -> &KitEnv {
        &self.env
    }
}

impl<S> std::ops::DerefMut for ValueEntityKit<S> {
    fn deref_mut(&mut self) -> &mut KitEnv {
        &mut self.env
    }
}

/// What one value entity command did.
#[derive(Debug)]
pub struct ValueEntityResult<R, S> {
    ended: Ended<R>,
    change: StateChange<S>,
    state: S,
    side_effects: Vec<DeferredCall<Bytes>>,
    timers: Vec<TimerChange>,
}

impl<R, S> ValueEntityResult<R, S> {
    outcome_accessors!(R);

    /// The state after the command.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The state the command stored, if it updated it.
    pub fn updated_state(&self) -> Option<&S> {
        match &self.change {
            StateChange::Update(state) => Some(state),
            _ => None,
        }
    }

    /// Whether the command updated the state.
    pub fn state_was_updated(&self) -> bool {
        matches!(self.change, StateChange::Update(_))
    }

    /// Whether the command deleted the entity.
    pub fn state_was_deleted(&self) -> bool {
        matches!(self.change, StateChange::Delete)
    }

    entity_effect_accessors!();
}
