//! Value entities: load the state (or the empty state), run the handler, write
//! the new state fenced by the sequence number it was loaded at, and only then
//! reply (pipelined with the entity's next commands when this process is the
//! only writer: [`super::pipeline`]). A conflict means another writer got
//! there first: reload and run the command again on the fresh state.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message;
use tracing::Instrument as _;

use super::cache::{EntityCache, EntityCell};
use super::guard::guarded;
use super::pipeline::{Pending, Tail};
use super::{
    CommandReply, CommandResult, EntityRunner, ExecutorSettings, MAX_CONFLICT_RETRIES, Ran,
    Scheduled, command_span, entity_id, run_detached, storage_status,
};
use crate::component::adapter::ValueEntityAdapter;
use crate::component::info::ComponentInfo;
use crate::context::{CommandContext, Metadata};
use crate::effect::{DeferredCall, Outcome, StateChange};
use crate::status::Status;
use crate::storage::{ScheduleOp, StateWrite, StorageError, StoredState};

/// A value entity's state as it is in storage.
struct Loaded<S> {
    seq: u64,
    state: S,
    /// Another process wrote the entity while this one had it cached.
    contended: bool,
    /// The queued write the state was built on, until it is durable.
    tail: Tail,
}

/// Runs the commands of one value-entity component.
pub(crate) struct ValueEntityRunner<A: ValueEntityAdapter> {
    adapter: A,
    info: &'static ComponentInfo,
    settings: ExecutorSettings,
    cache: EntityCache<Loaded<A::State>>,
}

impl<A: ValueEntityAdapter> ValueEntityRunner<A> {
    /// A runner for `adapter`.
    pub(crate) fn new(adapter: A, settings: ExecutorSettings) -> ValueEntityRunner<A> {
        ValueEntityRunner {
            info: adapter.info(),
            cache: EntityCache::with_gauge(
                settings.max_active_entities,
                settings.stats.cached_gauge(),
            ),
            adapter,
            settings,
        }
    }

    async fn load(&self, id: &str) -> Result<Loaded<A::State>, Status> {
        let stored = self
            .settings
            .storage
            .load_state(self.info.type_id, id)
            .await
            .map_err(|error| storage_status(self.info, id, &error))?;
        Ok(match stored {
            None | Some(StoredState { payload: None, .. }) => Loaded {
                seq: stored.map_or(0, |s| s.seq),
                state: self.adapter.empty_state(),
                contended: false,
                tail: Tail::default(),
            },
            Some(StoredState {
                seq,
                payload: Some(payload),
                ..
            }) => {
                let state = A::State::decode(payload).map_err(|error| {
                    tracing::error!(component = self.info.name, entity_id = id, %error, "stored state does not decode");
                    Status::new(crate::status::Code::DataLoss, format!("the stored state of {id} cannot be decoded"))
                })?;
                Loaded {
                    seq,
                    state,
                    contended: false,
                    tail: Tail::default(),
                }
            }
        })
    }

    async fn execute(
        self: Arc<Self>,
        cell: EntityCell<Loaded<A::State>>,
        method: usize,
        payload: Bytes,
        first: A::Command,
        id: String,
        metadata: Metadata,
    ) -> Result<CommandResult, Status> {
        let info = self.info;
        let ran = {
            let mut slot = cell.lock().await;
            self.run_locked(&mut slot, method, &payload, first, &id, metadata)
                .await?
        };
        // The entity is free for its next command; this one waits for
        // durability (see `pipeline`).
        ran.finish(&self.settings, info, &id).await
    }

    /// Run the command on the caller's task when its entity is free and
    /// cached and this process is its only writer. A command that then only
    /// replies (or is rejected) with nothing to wait for is answered right
    /// away: it changed nothing, so there is nothing to run to completion.
    /// Any other effect is carried on detached, holding the entity, as
    /// [`Self::execute`] would have. A busy or uncached entity, or a storage
    /// other processes write too, gets the command back for `execute`.
    fn try_inline(
        self: &Arc<Self>,
        cell: &EntityCell<Loaded<A::State>>,
        method: usize,
        command: A::Command,
        id: &str,
        metadata: Metadata,
        span: &tracing::Span,
    ) -> Inline<A::Command> {
        let info = self.info;
        if self.settings.validate {
            return Inline::Busy(command, metadata);
        }
        // A free lock has no waiters (it is handed over in arrival order).
        let Ok(mut slot) = cell.clone().try_lock_owned() else {
            return Inline::Busy(command, metadata);
        };
        let Some(loaded) = slot.as_mut().filter(|loaded| !loaded.tail.broken()) else {
            return Inline::Busy(command, metadata);
        };
        let entered = span.enter();
        self.settings.stats.command();
        let ctx = CommandContext::new(id.to_owned()).with_metadata(metadata);
        let effect = match guarded(info, method, || {
            self.adapter.handle(&loaded.state, command, &ctx)
        }) {
            Ok(effect) => effect,
            Err(status) => return Inline::Done(Err(status)),
        };
        let timers = ctx.take_schedule();
        let (change, outcome, side_effects) = effect.into_parts();
        let replies_only = matches!(change, StateChange::None)
            && timers.is_empty()
            && side_effects.is_empty()
            && loaded.tail.to_wait_for().is_none();
        let outcome = match outcome {
            Outcome::Reply(message) if replies_only => {
                return Inline::Done(Ok(CommandResult {
                    reply: CommandReply::Message(message),
                    side_effects: Vec::new(),
                    timers_changed: false,
                    forward: None,
                }));
            }
            Outcome::Error(status) if replies_only => return Inline::Done(Err(status)),
            other => other,
        };
        drop(entered);
        let runner = self.clone();
        let id = id.to_owned();
        Inline::Detach(Box::pin(async move {
            let ran = {
                let mut slot = slot;
                let effect = (change, outcome, side_effects);
                let concluded = runner
                    .conclude(
                        &mut slot,
                        (method, &id, &ctx),
                        effect,
                        timers,
                        &mut Checks::only_writer(),
                    )
                    .await?;
                concluded.ok_or_else(|| {
                    Status::internal(format!("the command on {id} was not concluded"))
                })?
            };
            ran.finish(&runner.settings, info, &id).await
        }))
    }

    /// Run the command holding the entity's slot.
    async fn run_locked(
        &self,
        slot: &mut Option<Loaded<A::State>>,
        method: usize,
        payload: &Bytes,
        first: A::Command,
        id: &str,
        metadata: Metadata,
    ) -> Result<Ran, Status> {
        let info = self.info;
        if slot.as_ref().is_some_and(|cached| cached.tail.broken()) {
            // Built on a write that failed: reload (see `pipeline`).
            *slot = None;
        }
        // Another process may have written the entity since it was cached
        // (see the module doc). An entity other processes write too is read
        // before the command (cheaper than losing the write's race); any
        // other cached copy is verified before a reply
        // computed from it counts, unless the write's fence checks it.
        let mut checks = Checks {
            verified: !self.settings.validate,
            contended: slot.as_ref().is_some_and(|cached| cached.contended),
        };
        let cached_seq = slot.as_ref().map(|cached| cached.seq);
        if self.settings.validate && checks.contended {
            *slot = None;
        }
        let ctx = CommandContext::new(id.to_owned()).with_metadata(metadata);
        let mut first = Some(first);
        self.settings.stats.command();
        for _ in 0..=MAX_CONFLICT_RETRIES {
            if slot.is_none() {
                let mut fresh = self.load(id).await?;
                // Unchanged since it was cached: no other writer lately.
                fresh.contended = checks.contended && cached_seq != Some(fresh.seq);
                *slot = Some(fresh);
                checks.verified = true;
            }
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            let command = match first.take() {
                Some(command) => command,
                None => guarded(info, method, || self.adapter.decode(method, payload))??.command,
            };
            let effect = guarded(info, method, || {
                self.adapter.handle(&loaded.state, command, &ctx)
            })?;
            let timers = ctx.take_schedule();
            let effect = effect.into_parts();
            let concluded = self
                .conclude(slot, (method, id, &ctx), effect, timers, &mut checks)
                .await?;
            if let Some(ran) = concluded {
                return Ok(ran);
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under the command; gave up after {MAX_CONFLICT_RETRIES} retries"
        )))
    }

    /// Carry out a handler's effect on the loaded entity in `slot`: its
    /// reply, its state write and its schedule changes. `None` when the
    /// command must run again on fresh state (the cached copy was stale, or
    /// its write lost the fence to another process).
    async fn conclude(
        &self,
        slot: &mut Option<Loaded<A::State>>,
        (method, id, ctx): (usize, &str, &CommandContext),
        (change, outcome, side_effects): EffectParts<A::State>,
        timers: Vec<ScheduleOp>,
        checks: &mut Checks,
    ) -> Result<Option<Ran>, Status> {
        let info = self.info;
        let Some(loaded) = slot.as_mut() else {
            return Ok(None);
        };
        if !checks.verified && matches!(change, StateChange::None) {
            let stored = self.load(id).await?;
            checks.verified = true;
            if stored.seq != loaded.seq {
                // Stale: run the command again on the stored state.
                self.settings.stats.conflict_retry();
                *loaded = stored;
                loaded.contended = true;
                return Ok(None);
            }
        }
        let tail = loaded.tail.to_wait_for();
        let reply = match outcome {
            Outcome::Error(status) => return Ok(Some(Ran::rejected(tail, status))),
            Outcome::Reply(message) => CommandReply::Message(message),
            Outcome::Forward(call) => CommandReply::Forward(call),
        };
        let trace = crate::trace::stored(ctx.metadata());
        let mut scheduled = Scheduled::of(info, id, timers, side_effects, trace.clone());
        let (stored, new_state) = match change {
            StateChange::None => {
                return Ok(Some(Ran::Unwritten {
                    tail,
                    scheduled,
                    reply: Ok(reply),
                }));
            }
            StateChange::Update(state) => (Some(Bytes::from(state.encode_to_vec())), state),
            StateChange::Delete => (None, guarded(info, method, || self.adapter.empty_state())?),
        };
        if let CommandReply::Forward(call) = &reply {
            scheduled.forward(call);
        }
        let write = StateWrite {
            meta: None,
            type_id: info.type_id.to_string(),
            entity_id: id.to_owned(),
            expected_seq: loaded.seq,
            payload: stored,
            type_name: info.state_type.to_string(),
            schedule: std::mem::take(&mut scheduled.ops),
            trace,
        };
        if !self.settings.validate {
            // Only writer: queue the write and let the next command in.
            let queued = self
                .settings
                .storage
                .queue_state(write)
                .await
                .map_err(|error| storage_status(info, id, &error))?;
            let pending = Pending::new(queued);
            loaded.seq += 1;
            loaded.state = new_state;
            loaded.tail.push(pending.clone());
            return Ok(Some(Ran::Queued {
                write: pending,
                scheduled,
                reply,
            }));
        }
        match self.settings.storage.write_state(write).await {
            Ok(seq) => {
                loaded.seq = seq;
                loaded.state = new_state;
                Ok(Some(Ran::Done(scheduled.committed(reply))))
            }
            Err(StorageError::Conflict {
                expected, actual, ..
            }) => {
                tracing::debug!(component = info.name, entity_id = %id, expected, actual, "conflict; retrying on fresh state");
                self.settings.stats.conflict_retry();
                checks.contended = true;
                *slot = None;
                Ok(None)
            }
            Err(error) => {
                // Whether the write landed is unknown: forget the cached copy.
                *slot = None;
                Err(storage_status(info, id, &error))
            }
        }
    }
}

/// What a command knows about its cached copy of the entity.
struct Checks {
    /// The copy is known to be the stored state (or the write's fence
    /// checks it).
    verified: bool,
    /// Other processes write the entity too.
    contended: bool,
}

impl Checks {
    /// Only this process writes the entity: nothing to check.
    fn only_writer() -> Checks {
        Checks {
            verified: true,
            contended: false,
        }
    }
}

/// A handler's effect, taken apart.
type EffectParts<S> = (StateChange<S>, Outcome<Bytes>, Vec<DeferredCall<Bytes>>);

/// How [`ValueEntityRunner::try_inline`] left a command.
// Returned once and taken apart at once: boxing the large variant would cost
// an allocation per answered command.
#[allow(clippy::large_enum_variant)]
enum Inline<C> {
    /// Answered on the caller's task.
    Done(Result<CommandResult, Status>),
    /// Its effect is still to be carried out, holding the entity.
    Detach(BoxFuture<'static, Result<CommandResult, Status>>),
    /// Not run: the entity is busy, not cached, or shared with other
    /// processes.
    Busy(C, Metadata),
}

impl<A: ValueEntityAdapter> EntityRunner for ValueEntityRunner<A> {
    fn run(
        self: Arc<Self>,
        method: usize,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<CommandResult, Status>> {
        Box::pin(async move {
            let info = self.info;
            let decoded = guarded(info, method, || self.adapter.decode(method, &payload))??;
            let id = entity_id(info, method, decoded.entity_id)?;
            let span = command_span(info, method, &id);
            let cell = self.cache.checkout(&id);
            let (command, metadata) =
                match self.try_inline(&cell, method, decoded.command, &id, metadata, &span) {
                    Inline::Done(result) => return result,
                    Inline::Detach(rest) => {
                        return run_detached(info, method, rest.instrument(span)).await;
                    }
                    Inline::Busy(command, metadata) => (command, metadata),
                };
            let work = self.execute(cell, method, payload, command, id, metadata);
            run_detached(info, method, work.instrument(span)).await
        })
    }
}
