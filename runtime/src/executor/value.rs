//! Value entities: load the state (or the empty state), run the handler, write
//! the new state fenced by the sequence number it was loaded at, and only then
//! reply. A conflict means another writer got there first: reload and run the
//! command again on the fresh state.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message;

use super::cache::EntityCache;
use super::guard::guarded;
use super::{
    CommandReply, CommandResult, EntityRunner, ExecutorSettings, MAX_CONFLICT_RETRIES, Scheduled,
    start_command, storage_status,
};
use crate::component::adapter::ValueEntityAdapter;
use crate::component::info::ComponentInfo;
use crate::context::{CommandContext, Metadata};
use crate::effect::{Outcome, StateChange};
use crate::status::Status;
use crate::storage::{StateWrite, StorageError, StoredState};

/// A value entity's state as it is in storage.
struct Loaded<S> {
    seq: u64,
    state: S,
    /// Another process wrote the entity while this one had it cached.
    contended: bool,
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
                }
            }
        })
    }

    async fn execute(
        self: Arc<Self>,
        method: usize,
        payload: Bytes,
        first: A::Command,
        id: String,
        metadata: Metadata,
    ) -> Result<CommandResult, Status> {
        let info = self.info;
        let cell = self.cache.checkout(&id);
        let mut slot = cell.lock().await;
        // Another process may have written the entity since it was cached
        // (see the module doc). An entity other processes write too is read
        // before the command (cheaper than losing the write's race); any
        // other cached copy is verified before a reply
        // computed from it counts, unless the write's fence checks it.
        let mut verified = !self.settings.validate;
        let mut contended = slot.as_ref().is_some_and(|cached| cached.contended);
        let cached_seq = slot.as_ref().map(|cached| cached.seq);
        if self.settings.validate && contended {
            *slot = None;
        }
        let ctx = CommandContext::new(id.clone()).with_metadata(metadata);
        let mut first = Some(first);
        self.settings.stats.command();
        for _ in 0..=MAX_CONFLICT_RETRIES {
            if slot.is_none() {
                let mut fresh = self.load(&id).await?;
                // Unchanged since it was cached: no other writer lately.
                fresh.contended = contended && cached_seq != Some(fresh.seq);
                *slot = Some(fresh);
                verified = true;
            }
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            let command = match first.take() {
                Some(command) => command,
                None => guarded(info, method, || self.adapter.decode(method, &payload))??.command,
            };
            let effect = guarded(info, method, || {
                self.adapter.handle(&loaded.state, command, &ctx)
            })?;
            let timers = ctx.take_schedule();
            let (change, outcome, side_effects) = effect.into_parts();
            if !verified && matches!(change, StateChange::None) {
                let stored = self.load(&id).await?;
                verified = true;
                if stored.seq != loaded.seq {
                    // Stale: run the command again on the stored state.
                    self.settings.stats.conflict_retry();
                    *loaded = stored;
                    loaded.contended = true;
                    continue;
                }
            }
            let reply = match outcome {
                Outcome::Error(status) => return Err(status),
                Outcome::Reply(message) => CommandReply::Message(message),
                Outcome::Forward(call) => CommandReply::Forward(call),
            };
            let trace = crate::trace::stored(ctx.metadata());
            let mut scheduled = Scheduled::of(info, &id, timers, side_effects, trace.clone());
            let (stored, new_state) = match change {
                StateChange::None => {
                    return scheduled
                        .store_alone(&self.settings, info, &id, reply)
                        .await;
                }
                StateChange::Update(state) => (Some(Bytes::from(state.encode_to_vec())), state),
                StateChange::Delete => {
                    (None, guarded(info, method, || self.adapter.empty_state())?)
                }
            };
            if let CommandReply::Forward(call) = &reply {
                scheduled.forward(call);
            }
            let write = StateWrite {
                meta: None,
                type_id: info.type_id.to_string(),
                entity_id: id.clone(),
                expected_seq: loaded.seq,
                payload: stored,
                type_name: info.state_type.to_string(),
                schedule: std::mem::take(&mut scheduled.ops),
                trace,
            };
            match self.settings.storage.write_state(write).await {
                Ok(seq) => {
                    loaded.seq = seq;
                    loaded.state = new_state;
                    return Ok(scheduled.committed(reply));
                }
                Err(StorageError::Conflict {
                    expected, actual, ..
                }) => {
                    tracing::debug!(component = info.name, entity_id = %id, expected, actual, "conflict; retrying on fresh state");
                    self.settings.stats.conflict_retry();
                    contended = true;
                    *slot = None;
                }
                Err(error) => {
                    // Whether the write landed is unknown: forget the cached copy.
                    *slot = None;
                    return Err(storage_status(info, &id, &error));
                }
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under the command; gave up after {MAX_CONFLICT_RETRIES} retries"
        )))
    }
}

impl<A: ValueEntityAdapter> EntityRunner for ValueEntityRunner<A> {
    fn run(
        self: Arc<Self>,
        method: usize,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<CommandResult, Status>> {
        Box::pin(async move {
            let runner = self.clone();
            start_command(
                self.info,
                method,
                || self.adapter.decode(method, &payload),
                |command, id| runner.execute(method, payload.clone(), command, id, metadata),
            )
            .await
        })
    }
}
