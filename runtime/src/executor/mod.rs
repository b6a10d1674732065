//! The entity executor: runs entity commands one at a time per entity id and in
//! parallel across ids, keeps active entities' state in a bounded cache, and
//! replies only after the state change is durable.
//!
//! Several processes on one shared storage (PostgreSQL): every write is fenced
//! by the entity's expected sequence number, and a process cannot know whether
//! another one wrote an entity it cached. So with a shared storage a command
//! runs on the cached state, and:
//!
//! - if it writes, the fence checks the cached copy: a command that lost the
//!   race to another process's write (or ran on a stale copy) gets a
//!   conflict, changes nothing, and runs again on the stored state;
//! - if it only replies (a read, or an error), the stored sequence number is
//!   read before the reply counts, and on a mismatch the command runs again
//!   on the stored state.
//!
//! - an entity that another process wrote while this one had it cached is
//!   marked contended: its commands read the stored state first (one read is
//!   cheaper than a write that loses the race and runs again), until a read
//!   finds it unchanged since the last command here.
//!
//! So per entity, commands still apply one at a time, each once, and none
//! sees state older than the last acknowledged write. Writes to entities
//! only this process writes cost nothing extra; replies, and commands to
//! contended entities, cost one read of the state. Owning
//! entities per process (forwarding commands to the owner) would save that
//! read, at the price of a hop for most calls and a takeover protocol; the
//! figures behind the choice are in BENCHMARKS.md ("PostgreSQL and several
//! processes").
//!
//! Commands to one entity are pipelined when this process is the only writer
//! of its storage: the next command runs while the last one's write commits,
//! and replies wait for their writes ([`pipeline`] states the rule).
//!
//! A command runs detached from its caller (on a task of its own), so that
//! once it started it runs to completion even if the caller goes away. The
//! exception costs nothing to that rule: a value-entity command that finds
//! its entity free and cached (and this process its only writer) runs its
//! handler on the caller's task, and when the handler only replies or
//! rejects, with no write to wait for, the answer is given right there
//! (nothing changed, so there is nothing to complete); any other effect is
//! carried on detached, holding the entity, before the caller's task yields.
//!
//! - [`cache`]: the active-entity slots and their passivation.
//! - [`pipeline`]: queued writes and what replies wait for.
//! - [`value`]: value entities (load state, handle, write with the expected sequence).
//! - [`event_sourced`]: event-sourced entities (replay, handle, append, snapshot).
//! - [`guard`]: turning handler panics into `INTERNAL` with a correlation id.
//! - [`stats`]: command and conflict-retry counters for the metrics.

pub(crate) mod cache;
pub(crate) mod event_sourced;
pub(crate) mod guard;
pub(crate) mod pipeline;
pub(crate) mod stats;
pub(crate) mod value;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tracing::Instrument as _;

use crate::component::info::ComponentInfo;
use crate::context::Metadata;
use crate::effect::DeferredCall;
use crate::status::Status;
use crate::storage::{DueCall, EntityStore, ScheduleOp, ScheduleStore, StorageError};

/// How many times a command is retried on fresh state after a sequence conflict.
const MAX_CONFLICT_RETRIES: usize = 8;

/// What the executor needs from the service.
#[derive(Clone)]
pub(crate) struct ExecutorSettings {
    /// Where state is stored.
    pub(crate) storage: Arc<dyn EntityStore>,
    /// Where side effects and timers of commands that write nothing go.
    pub(crate) schedule: Arc<dyn ScheduleStore>,
    /// Snapshot interval for event-sourced entities that use the runtime default.
    pub(crate) snapshot_every: u32,
    /// The most active entities kept per component.
    pub(crate) max_active_entities: usize,
    /// Whether other processes write the same storage, so a cached entity
    /// is reloaded before every command ([`Storage::shared`]).
    ///
    /// [`Storage::shared`]: crate::storage::Storage::shared
    pub(crate) validate: bool,
    /// The counters every component adds to.
    pub(crate) stats: Arc<stats::ExecutorStats>,
}

impl std::fmt::Debug for ExecutorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorSettings")
            .field("snapshot_every", &self.snapshot_every)
            .field("max_active_entities", &self.max_active_entities)
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}

/// How a command ended, once its state change is durable.
#[derive(Debug)]
pub(crate) struct CommandResult {
    /// The reply, or the call whose reply is the reply.
    pub(crate) reply: CommandReply,
    /// Side effects to deliver now: stored (in the outbox) and claimed.
    pub(crate) side_effects: Vec<DueCall>,
    /// Whether the command started or cancelled timers.
    pub(crate) timers_changed: bool,
    /// The forward of [`CommandReply::Forward`], stored with the command's
    /// write (a command that writes nothing does not store its forward: if
    /// it is lost, nothing happened).
    pub(crate) forward: Option<DueCall>,
}

/// A command's schedule changes: its timer changes, then one outbox entry
/// per side effect, in the entity's lane.
#[derive(Debug, Default)]
pub(crate) struct Scheduled {
    /// What to store with the command's write.
    pub(crate) ops: Vec<ScheduleOp>,
    /// The side effects, to deliver once stored.
    pub(crate) pending: Vec<DueCall>,
    /// Whether timers changed.
    pub(crate) timers_changed: bool,
    /// The stored forward, if any.
    pub(crate) forward: Option<DueCall>,
    /// The command's trace context, carried by every call it schedules.
    trace: Option<String>,
}

impl Scheduled {
    /// The changes of a command of `info` on entity `id`; `trace` is the
    /// command's stored trace context ([`crate::trace::stored`]).
    pub(crate) fn of(
        info: &ComponentInfo,
        id: &str,
        timers: Vec<ScheduleOp>,
        side_effects: Vec<DeferredCall<Bytes>>,
        trace: Option<String>,
    ) -> Scheduled {
        let timers_changed = !timers.is_empty();
        let mut ops = timers;
        if trace.is_some() {
            for op in &mut ops {
                if let ScheduleOp::Put(call) = op {
                    call.trace.clone_from(&trace);
                }
            }
        }
        let mut pending = Vec::with_capacity(side_effects.len());
        // Built only when there are side effects: most commands have none.
        let lane = if side_effects.is_empty() {
            String::new()
        } else {
            crate::schedule::entity_lane(info.type_id, id)
        };
        for call in &side_effects {
            let mut entry = crate::schedule::outbox_entry(&lane, call);
            entry.trace.clone_from(&trace);
            pending.push(crate::schedule::pending(&entry));
            ops.push(ScheduleOp::Put(entry));
        }
        Scheduled {
            ops,
            pending,
            timers_changed,
            forward: None,
            trace,
        }
    }

    /// Store the command's forward with its write, in a lane of its own:
    /// the caller waits for it, so it goes at once, beside the side effects.
    pub(crate) fn forward(&mut self, call: &DeferredCall<Bytes>) {
        let mut entry =
            crate::schedule::outbox_entry(&format!("forward:{}", uuid::Uuid::new_v4()), call);
        entry.trace.clone_from(&self.trace);
        self.forward = Some(crate::schedule::pending(&entry));
        self.ops.push(ScheduleOp::Put(entry));
    }

    /// Store the changes on their own (a command that writes nothing), so
    /// that they are durable before the reply; then the command's result.
    pub(crate) async fn store_alone(
        self,
        settings: &ExecutorSettings,
        info: &ComponentInfo,
        id: &str,
        reply: CommandReply,
    ) -> Result<CommandResult, Status> {
        if !self.ops.is_empty() {
            settings
                .schedule
                .schedule(self.ops)
                .await
                .map_err(|error| storage_status(info, id, &error))?;
        }
        Ok(CommandResult {
            reply,
            side_effects: self.pending,
            timers_changed: self.timers_changed,
            forward: None,
        })
    }

    /// The command's result once its write (carrying the changes) committed.
    pub(crate) fn committed(self, reply: CommandReply) -> CommandResult {
        CommandResult {
            reply,
            side_effects: self.pending,
            timers_changed: self.timers_changed,
            forward: self.forward,
        }
    }
}

/// How a command left its entity's slot, and what it still waits for.
pub(crate) enum Ran {
    /// Its write (if any) is durable.
    Done(CommandResult),
    /// It wrote no state: its reply (or rejection) and its schedule changes
    /// wait for the write its state was built on.
    Unwritten {
        tail: Option<pipeline::Pending>,
        scheduled: Scheduled,
        reply: Result<CommandReply, Status>,
    },
    /// Its write is queued: the reply waits for it.
    Queued {
        write: pipeline::Pending,
        scheduled: Scheduled,
        reply: CommandReply,
    },
}

impl Ran {
    /// A command rejected with `status`: it changes nothing.
    pub(crate) fn rejected(tail: Option<pipeline::Pending>, status: Status) -> Ran {
        Ran::Unwritten {
            tail,
            scheduled: Scheduled::default(),
            reply: Err(status),
        }
    }

    /// Wait for what the command waits for (the entity's slot released),
    /// then its result.
    pub(crate) async fn finish(
        self,
        settings: &ExecutorSettings,
        info: &ComponentInfo,
        id: &str,
    ) -> Result<CommandResult, Status> {
        match self {
            Ran::Done(result) => Ok(result),
            Ran::Unwritten {
                tail,
                scheduled,
                reply,
            } => {
                pipeline::settle(tail, info, id).await?;
                scheduled.store_alone(settings, info, id, reply?).await
            }
            Ran::Queued {
                write,
                scheduled,
                reply,
            } => {
                write.durable(info, id).await?;
                Ok(scheduled.committed(reply))
            }
        }
    }
}

/// The reply part of a [`CommandResult`].
#[derive(Debug)]
pub(crate) enum CommandReply {
    /// The encoded reply message.
    Message(Bytes),
    /// Forward to this call.
    Forward(DeferredCall<Bytes>),
}

/// An entity component as the dispatcher drives it, with its types erased.
pub(crate) trait EntityRunner: Send + Sync + 'static {
    /// Run a command of method `method` (an index into `info().methods`).
    fn run(
        self: Arc<Self>,
        method: usize,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<CommandResult, Status>>;
}

/// The id a command is for: the one from its id fields, else a generated UUID.
pub(crate) fn entity_id(
    info: &ComponentInfo,
    method: usize,
    decoded: Option<String>,
) -> Result<String, Status> {
    match decoded {
        Some(id) if id.is_empty() => Err(Status::invalid_argument(format!(
            "the entity id of {} must not be empty",
            info.methods[method].input_type
        ))),
        Some(id) => Ok(id),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// The status a caller sees for a storage failure (the details go to the log).
pub(crate) fn storage_status(
    info: &ComponentInfo,
    entity_id: &str,
    error: &StorageError,
) -> Status {
    tracing::error!(component = info.name, entity_id, %error, "storage failed");
    match error {
        StorageError::Closed => Status::unavailable("the service is shutting down"),
        StorageError::Transient(_) => Status::unavailable("storage is unavailable; try again"),
        _ => Status::unavailable("storage failed; try again"),
    }
}

/// Decode a command of `method` with `decode` (user code, guarded against
/// panics), find its entity id, and run `execute` on it detached from the
/// caller: what every stateful runner does first.
pub(crate) async fn start_command<C, Fut>(
    info: &'static ComponentInfo,
    method: usize,
    decode: impl FnOnce() -> Result<crate::component::adapter::Decoded<C>, Status>,
    execute: impl FnOnce(C, String) -> Fut,
) -> Result<CommandResult, Status>
where
    Fut: Future<Output = Result<CommandResult, Status>> + Send + 'static,
{
    let decoded = guard::guarded(info, method, decode)??;
    let id = entity_id(info, method, decoded.entity_id)?;
    let span = command_span(info, method, &id);
    run_detached(info, method, execute(decoded.command, id).instrument(span)).await
}

/// The span of one entity (or workflow) command, a child of the handler
/// span: the type and method at INFO; the id, which may be user data,
/// only when DEBUG is on for this module.
pub(crate) fn command_span(info: &'static ComponentInfo, method: usize, id: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "plinth.command",
        entity.type = info.type_id,
        method = info.methods[method].name,
        entity.id = tracing::field::Empty,
    );
    if !span.is_disabled() && tracing::enabled!(tracing::Level::DEBUG) {
        span.record("entity.id", id);
    }
    span
}

/// Spawn `work` so it runs to completion even if the caller goes away, and
/// turn a panic that escaped it into `INTERNAL`.
pub(crate) async fn run_detached<T: Send + 'static>(
    info: &'static ComponentInfo,
    method: usize,
    work: impl Future<Output = Result<T, Status>> + Send + 'static,
) -> Result<T, Status> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => {
            Err(guard::panic_status(info, method, error.into_panic()))
        }
        Err(_) => Err(Status::unavailable("the service is shutting down")),
    }
}
