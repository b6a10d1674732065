//! Event-sourced entities: rebuild the state from the latest snapshot and the
//! later events, run the handler, append its events fenced by the last sequence
//! number (with a snapshot every N events), apply them to the cached state, and
//! reply from the new state once the append is durable (pipelined with the
//! entity's next commands when this process is the only writer:
//! [`super::pipeline`]).

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message;

use super::cache::EntityCache;
use super::guard::guarded;
use super::pipeline::{Pending, Tail};
use super::{
    CommandReply, CommandResult, EntityRunner, ExecutorSettings, MAX_CONFLICT_RETRIES, Ran,
    Scheduled, start_command, storage_status,
};
use crate::component::adapter::{EventSet, EventSourcedAdapter};
use crate::component::info::ComponentInfo;
use crate::context::{CommandContext, Metadata};
use crate::effect::EventOutcome;
use crate::status::{Code, Status};
use crate::storage::{EventAppend, StorageError};

/// An event-sourced entity's state as of its last event.
struct Loaded<S> {
    seq: u64,
    state: S,
    since_snapshot: u64,
    /// Another process wrote the entity while this one had it cached.
    contended: bool,
    /// The queued append the state was built on, until it is durable.
    tail: Tail,
}

impl<S> Loaded<S> {
    /// `count` events (and a snapshot if `snapshot`) were appended, leaving `state`.
    fn advance(&mut self, count: u64, snapshot: bool, state: S) {
        self.seq += count;
        self.since_snapshot = if snapshot {
            0
        } else {
            self.since_snapshot + count
        };
        self.state = state;
    }
}

/// Runs the commands of one event-sourced component.
pub(crate) struct EventSourcedRunner<A: EventSourcedAdapter> {
    adapter: A,
    info: &'static ComponentInfo,
    settings: ExecutorSettings,
    /// Events between snapshots; 0 = never.
    snapshot_every: u64,
    cache: EntityCache<Loaded<A::State>>,
}

impl<A: EventSourcedAdapter> EventSourcedRunner<A> {
    /// A runner for `adapter`.
    pub(crate) fn new(adapter: A, settings: ExecutorSettings) -> EventSourcedRunner<A> {
        let info = adapter.info();
        let snapshot_every = match info.snapshot_every {
            n if n > 0 => n as u64,
            0 => u64::from(settings.snapshot_every),
            _ => 0,
        };
        EventSourcedRunner {
            info,
            cache: EntityCache::with_gauge(
                settings.max_active_entities,
                settings.stats.cached_gauge(),
            ),
            adapter,
            settings,
            snapshot_every,
        }
    }

    async fn load(&self, id: &str, method: usize) -> Result<Loaded<A::State>, Status> {
        let info = self.info;
        let replay = self
            .settings
            .storage
            .load_journal(info.type_id, id)
            .await
            .map_err(|error| storage_status(info, id, &error))?;
        let corrupt = |what: String| {
            tracing::error!(component = info.name, entity_id = id, "{what}");
            Status::new(
                Code::DataLoss,
                format!("the journal of {id} cannot be replayed"),
            )
        };
        let (mut seq, mut state) = match replay.snapshot {
            Some((seq, payload)) => (
                seq,
                A::State::decode(payload)
                    .map_err(|error| corrupt(format!("snapshot does not decode: {error}")))?,
            ),
            None => (0, guarded(info, method, || self.adapter.empty_state())?),
        };
        let since_snapshot = replay.events.len() as u64;
        for stored in replay.events {
            if stored.seq != seq + 1 {
                return Err(corrupt(format!(
                    "journal gap: event {} follows {seq}",
                    stored.seq
                )));
            }
            let event =
                A::Event::decode_payload(&stored.type_name, &stored.payload).map_err(|status| {
                    corrupt(format!("event {} does not decode: {status}", stored.seq))
                })?;
            guarded(info, method, || self.adapter.apply(&mut state, &event))?;
            seq = stored.seq;
        }
        if replay.deleted {
            state = guarded(info, method, || self.adapter.empty_state())?;
        }
        Ok(Loaded {
            seq,
            state,
            since_snapshot,
            contended: false,
            tail: Tail::default(),
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
        let ran = {
            let mut slot = cell.lock().await;
            self.run_locked(&mut slot, method, &payload, first, &id, metadata)
                .await?
        };
        // The entity is free for its next command; this one waits for
        // durability (see `pipeline`).
        ran.finish(&self.settings, info, &id).await
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
        // computed from it counts, unless the append's fence checks it.
        let mut verified = !self.settings.validate;
        let mut contended = slot.as_ref().is_some_and(|cached| cached.contended);
        let cached_seq = slot.as_ref().map(|cached| cached.seq);
        if self.settings.validate && contended {
            *slot = None;
        }
        let ctx = CommandContext::new(id.to_owned()).with_metadata(metadata);
        let mut first = Some(first);
        self.settings.stats.command();
        for _ in 0..=MAX_CONFLICT_RETRIES {
            if slot.is_none() {
                let mut fresh = self.load(id, method).await?;
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
                None => guarded(info, method, || self.adapter.decode(method, payload))??.command,
            };
            let effect = guarded(info, method, || {
                self.adapter.handle(&loaded.state, command, &ctx)
            })?;
            let timers = ctx.take_schedule();
            let (events, delete, outcome, side_effects) = effect.into_parts();
            if !verified && events.is_empty() && !delete {
                let stored = self.load(id, method).await?;
                verified = true;
                if stored.seq != loaded.seq {
                    // Stale: run the command again on the stored state.
                    self.settings.stats.conflict_retry();
                    *loaded = stored;
                    loaded.contended = true;
                    continue;
                }
            }
            let tail = loaded.tail.to_wait_for();
            if let EventOutcome::Error(status) = outcome {
                return Ok(Ran::rejected(tail, status));
            }
            let trace = crate::trace::stored(ctx.metadata());
            let mut scheduled = Scheduled::of(info, id, timers, side_effects, trace.clone());
            if events.is_empty() && !delete {
                return Ok(Ran::Unwritten {
                    tail,
                    scheduled,
                    reply: finish(info, method, outcome, &loaded.state),
                });
            }

            // Apply to a copy first: a panicking `apply` leaves the cached state
            // untouched and nothing is written.
            let mut new_state = loaded.state.clone();
            guarded(info, method, || {
                for event in &events {
                    self.adapter.apply(&mut new_state, event);
                }
            })?;
            if let EventOutcome::Forward(call) = &outcome {
                scheduled.forward(call);
            }
            let count = events.len() as u64;
            let take_snapshot = self.snapshot_every > 0
                && !delete
                && loaded.since_snapshot + count >= self.snapshot_every;
            let append = EventAppend {
                type_id: info.type_id.to_string(),
                entity_id: id.to_owned(),
                expected_seq: loaded.seq,
                events: events
                    .iter()
                    .map(|e| (e.type_name().to_string(), Bytes::from(e.encode_payload())))
                    .collect(),
                snapshot: take_snapshot.then(|| Bytes::from(new_state.encode_to_vec())),
                delete,
                schedule: std::mem::take(&mut scheduled.ops),
                trace,
            };
            if !self.settings.validate {
                // Only writer: queue the append and let the next command in
                // (the reply and the next state first, so that a failure
                // there queues nothing).
                let reply = finish(info, method, outcome, &new_state)?;
                let next = if delete {
                    guarded(info, method, || self.adapter.empty_state())?
                } else {
                    new_state
                };
                let queued = self
                    .settings
                    .storage
                    .queue_append(append)
                    .await
                    .map_err(|error| storage_status(info, id, &error))?;
                let pending = Pending::new(queued);
                loaded.advance(count, take_snapshot, next);
                loaded.tail.push(pending.clone());
                return Ok(Ran::Queued {
                    write: pending,
                    scheduled,
                    reply,
                });
            }
            match self.settings.storage.append_events(append).await {
                Ok(seq) => {
                    let reply = finish(info, method, outcome, &new_state);
                    let next = if delete {
                        guarded(info, method, || self.adapter.empty_state())?
                    } else {
                        new_state
                    };
                    debug_assert_eq!(seq, loaded.seq + count);
                    loaded.advance(count, take_snapshot, next);
                    return Ok(Ran::Done(scheduled.committed(reply?)));
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
                    *slot = None;
                    return Err(storage_status(info, id, &error));
                }
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under the command; gave up after {MAX_CONFLICT_RETRIES} retries"
        )))
    }
}

/// The reply of a successful command, computed from `state`.
fn finish<S>(
    info: &'static ComponentInfo,
    method: usize,
    outcome: EventOutcome<S, Bytes>,
    state: &S,
) -> Result<CommandReply, Status> {
    match outcome {
        EventOutcome::Reply(reply) => Ok(CommandReply::Message(guarded(info, method, || {
            reply(state)
        })?)),
        EventOutcome::Forward(call) => Ok(CommandReply::Forward(call)),
        EventOutcome::Error(status) => Err(status),
    }
}

impl<A: EventSourcedAdapter> EntityRunner for EventSourcedRunner<A> {
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
