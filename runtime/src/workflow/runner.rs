//! Running one workflow component: its commands (one at a time per
//! workflow, like an entity's) and the calls that drive its steps and its
//! timeout (see the module doc of [`super`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use prost::Message;

use super::context::WorkflowContext;
use super::definition::WorkflowDefinition;
use super::plan::{Mover, Planned};
use super::record::{Drive, Record, WorkflowPosition, WorkflowStatus};
use crate::component::adapter::WorkflowAdapter;
use crate::component::info::ComponentInfo;
use crate::context::{ActionContext, CommandContext, Metadata};
use crate::executor::cache::EntityCache;
use crate::executor::guard::{guarded, panic_status};
use crate::executor::{
    CommandReply, CommandResult, EntityRunner, ExecutorSettings, Scheduled, run_detached,
    start_command, storage_status,
};
use crate::feed::Backoff;
use crate::status::{Code, Status};
use crate::storage::{DueCall, StateWrite, StorageError, StoredState};

/// How many times a write is tried again after a conflict with another process.
const MAX_CONFLICT_RETRIES: usize = 8;
/// The delay before a failed step is tried again: 0.2 s doubling to 10 s.
const STEP_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(10),
    factor: 2.0,
    jitter: 0.1,
};

/// A workflow as stored.
struct Loaded<S> {
    seq: u64,
    state: S,
    record: Record,
}

/// What driving a workflow left to do: step calls to run now, and whether
/// the schedule gained rows for later.
#[derive(Debug, Default)]
pub(crate) struct Driven {
    pub(crate) now: Vec<DueCall>,
    pub(crate) later: bool,
}

/// A workflow component as the dispatcher drives it.
pub(crate) trait WorkflowDriver: EntityRunner {
    /// The workflow's service (`package.Service`).
    fn service(&self) -> &'static str;

    /// Handle a call of the workflow's drive path: run a step, or its timeout.
    fn drive(
        self: Arc<Self>,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<Driven, Status>>;

    /// Where workflow `id` is, and its encoded state (`None`: never written).
    fn position(&self, id: &str) -> BoxFuture<'_, Result<Option<WorkflowPosition>, Status>>;
}

/// Runs the commands and steps of one workflow component.
pub(crate) struct WorkflowRunner<A: WorkflowAdapter> {
    adapter: A,
    info: &'static ComponentInfo,
    definition: WorkflowDefinition<A::State>,
    settings: ExecutorSettings,
    cache: EntityCache<Loaded<A::State>>,
}

impl<A: WorkflowAdapter> WorkflowRunner<A> {
    /// A runner for `adapter`; an error naming what is wrong when its
    /// definition cannot run (a duplicate step, a missing failover step).
    pub(crate) fn new(adapter: A, settings: ExecutorSettings) -> Result<WorkflowRunner<A>, String> {
        let info = adapter.info();
        let definition = adapter.definition();
        let problems = definition.problems();
        if !problems.is_empty() {
            return Err(format!("workflow {}: {}", info.name, problems.join("; ")));
        }
        Ok(WorkflowRunner {
            info,
            definition,
            cache: EntityCache::with_gauge(
                settings.max_active_entities,
                settings.stats.cached_gauge(),
            ),
            adapter,
            settings,
        })
    }

    fn mover<'a>(&'a self, id: &'a str) -> Mover<'a, A::State> {
        Mover {
            definition: &self.definition,
            type_id: self.info.type_id,
            id,
        }
    }

    async fn load(&self, id: &str) -> Result<Loaded<A::State>, Status> {
        let stored = self
            .settings
            .storage
            .load_state(self.info.type_id, id)
            .await
            .map_err(|error| storage_status(self.info, id, &error))?;
        let Some(StoredState { seq, payload, meta }) = stored else {
            return Ok(Loaded {
                seq: 0,
                state: self.adapter.empty_state(),
                record: Record::default(),
            });
        };
        let state = match payload {
            None => self.adapter.empty_state(),
            Some(payload) => A::State::decode(payload).map_err(|error| {
                tracing::error!(component = self.info.name, workflow_id = id, %error, "stored state does not decode");
                Status::new(Code::DataLoss, format!("the stored state of {id} cannot be decoded"))
            })?,
        };
        Ok(Loaded {
            seq,
            state,
            record: Record::decode_meta(meta.as_deref()),
        })
    }

    /// Write a move, fenced by the sequence number `loaded` was read at.
    async fn write(
        &self,
        id: &str,
        loaded: &Loaded<A::State>,
        planned: &mut Planned<A::State>,
    ) -> Result<u64, StorageError> {
        let write = StateWrite {
            type_id: self.info.type_id.to_owned(),
            entity_id: id.to_owned(),
            expected_seq: loaded.seq,
            payload: (!planned.deleted).then(|| Bytes::from(planned.state.encode_to_vec())),
            meta: Some(Bytes::from(planned.record.encode_to_vec())),
            type_name: self.info.state_type.to_owned(),
            schedule: std::mem::take(&mut planned.ops),
            trace: None,
        };
        self.settings.storage.write_state(write).await
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
        let mut first = Some(first);
        self.settings.stats.command();
        for _ in 0..=MAX_CONFLICT_RETRIES {
            // With a shared storage another process may have moved the
            // workflow: read it before every command.
            if slot.is_none() || self.settings.validate {
                *slot = Some(self.load(&id).await?);
            }
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            let command = match first.take() {
                Some(command) => command,
                None => guarded(info, method, || self.adapter.decode(method, &payload))??.command,
            };
            let ctx = WorkflowContext::new(
                CommandContext::new(id.clone()).with_metadata(metadata.clone()),
                loaded.record.position(),
            );
            let effect = guarded(info, method, || {
                self.adapter.handle(&loaded.state, command, &ctx)
            })?;
            let timers = ctx.take_schedule();
            let reply = match effect.outcome {
                Ok(reply) => CommandReply::Message(reply),
                Err(status) => return Err(status),
            };
            let planned = self
                .mover(&id)
                .plan(&loaded.record, &loaded.state, || self.adapter.empty_state(), effect.transition)
                .map_err(|problem| {
                    tracing::error!(component = info.name, workflow_id = %id, %problem, "a command's transition is impossible");
                    Status::failed_precondition(problem)
                })?;
            let timers_changed = !timers.is_empty();
            let Some(mut planned) = planned else {
                return Scheduled::of(info, &id, timers, Vec::new(), None)
                    .store_alone(&self.settings, info, &id, reply)
                    .await;
            };
            let later = timers_changed || planned.ops.len() > planned.now.len();
            let mut ops = timers;
            ops.append(&mut planned.ops);
            planned.ops = ops;
            match self.write(&id, loaded, &mut planned).await {
                Ok(seq) => {
                    *loaded = Loaded {
                        seq,
                        state: planned.state,
                        record: planned.record,
                    };
                    return Ok(CommandResult {
                        reply,
                        side_effects: planned.now,
                        timers_changed: later,
                        forward: None,
                    });
                }
                Err(StorageError::Conflict { .. }) => {
                    self.settings.stats.conflict_retry();
                    *slot = None;
                }
                Err(error) => {
                    *slot = None;
                    return Err(storage_status(info, &id, &error));
                }
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under the command; gave up after {MAX_CONFLICT_RETRIES} retries"
        )))
    }

    /// Run the step of move `drive.token`, then apply its transition (or
    /// its failure) if the workflow is still where the step found it.
    async fn run_step(self: Arc<Self>, drive: Drive, ctx: ActionContext) -> Result<Driven, Status> {
        let info = self.info;
        let id = drive.entity_id.clone();
        let found = self.load(&id).await?;
        if found.record.token != drive.token || found.record.status() != WorkflowStatus::Running {
            // Moved on meanwhile (or already run and applied): void.
            return Ok(Driven::default());
        }
        let step_name = found.record.step.clone();
        let outcome = match self.definition.steps.get(&step_name) {
            None => Err(Status::internal(format!(
                "workflow {id} is at step {step_name:?}, which the definition no longer has"
            ))),
            Some(step) => {
                let timeout = self.definition.step_timeout(step);
                self.keep_claim(&drive, timeout).await;
                let call = guarded(info, usize::MAX, || step.run(&found.record.input, ctx));
                match call {
                    Err(status) => Err(status),
                    Ok(call) => {
                        match tokio::time::timeout(timeout, AssertUnwindSafe(call).catch_unwind())
                            .await
                        {
                            Err(_) => Err(Status::new(
                                Code::DeadlineExceeded,
                                format!("step {step_name:?} did not finish within {timeout:?}"),
                            )),
                            Ok(Err(panic)) => Err(panic_status(info, usize::MAX, panic)),
                            Ok(Ok(result)) => result,
                        }
                    }
                }
            }
        };
        let mut outcome = Some(outcome);
        let cell = self.cache.checkout(&id);
        let mut slot = cell.lock().await;
        for _ in 0..=MAX_CONFLICT_RETRIES {
            if slot.is_none() || self.settings.validate {
                *slot = Some(self.load(&id).await?);
            }
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            if loaded.record.token != drive.token
                || loaded.record.status() != WorkflowStatus::Running
            {
                // A command moved the workflow while the step ran: its result is void.
                tracing::debug!(component = info.name, workflow_id = %id, step = %step_name, "step result dropped: the workflow moved on");
                return Ok(Driven::default());
            }
            let result = match outcome.take() {
                Some(result) => result,
                // A conflict: the step's result was applied by nobody (the
                // token still matches), so only a failure is left to retry.
                None => Err(Status::aborted("the workflow changed while its step ran")),
            };
            let planned = self.after_step(&id, loaded, result);
            if let Some(driven) = self.commit(&id, &mut slot, planned).await? {
                return Ok(driven);
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under its step"
        )))
    }

    /// Write `planned` over the workflow in `slot` (loaded): what to drive
    /// next, or `None` after a conflict (the slot is emptied, to load again).
    async fn commit(
        &self,
        id: &str,
        slot: &mut Option<Loaded<A::State>>,
        mut planned: Planned<A::State>,
    ) -> Result<Option<Driven>, Status> {
        let Some(loaded) = slot.as_mut() else {
            return Ok(None);
        };
        let later = planned.ops.len() > planned.now.len();
        match self.write(id, loaded, &mut planned).await {
            Ok(seq) => {
                let now = std::mem::take(&mut planned.now);
                *loaded = Loaded {
                    seq,
                    state: planned.state,
                    record: planned.record,
                };
                Ok(Some(Driven { now, later }))
            }
            Err(StorageError::Conflict { .. }) => {
                *slot = None;
                Ok(None)
            }
            Err(error) => {
                *slot = None;
                Err(storage_status(self.info, id, &error))
            }
        }
    }

    /// The move after a step's call: its transition on success, else its
    /// recovery.
    fn after_step(
        &self,
        id: &str,
        loaded: &Loaded<A::State>,
        result: Result<super::definition::Then<A::State>, Status>,
    ) -> Planned<A::State> {
        let info = self.info;
        let step = &loaded.record.step;
        let mover = self.mover(id);
        let failure = match result {
            Ok(then) => match guarded(info, usize::MAX, || then(&loaded.state)) {
                Ok(transition) => match mover.after_step(
                    &loaded.record,
                    &loaded.state,
                    || self.adapter.empty_state(),
                    transition,
                ) {
                    Ok(planned) => return planned,
                    Err(status) => status,
                },
                Err(status) => status,
            },
            Err(status) => status,
        };
        let attempts = loaded.record.attempts + 1;
        tracing::warn!(component = info.name, workflow_id = %id, step = %step, attempts, status = %failure, "workflow step failed");
        mover.failed(&loaded.record, &loaded.state, STEP_BACKOFF.delay(attempts))
    }

    /// A step longer than the schedule's claim: extend the claim on its row
    /// so that no other process starts it again while it runs.
    async fn keep_claim(&self, drive: &Drive, timeout: Duration) {
        let needed = timeout + Duration::from_secs(5);
        if drive.key.is_empty() || needed < crate::schedule::HOLD {
            return;
        }
        if let Err(error) = self
            .settings
            .schedule
            .retry_later(&drive.key, 0, "step running", needed)
            .await
        {
            tracing::warn!(%error, workflow_id = %drive.entity_id, "cannot extend the claim of a long step");
        }
    }

    /// The workflow's timeout fired.
    async fn run_timeout(self: Arc<Self>, id: String) -> Result<Driven, Status> {
        let cell = self.cache.checkout(&id);
        let mut slot = cell.lock().await;
        for _ in 0..=MAX_CONFLICT_RETRIES {
            if slot.is_none() || self.settings.validate {
                *slot = Some(self.load(&id).await?);
            }
            let Some(loaded) = slot.as_mut() else {
                continue;
            };
            let Some(planned) = self.mover(&id).timed_out(&loaded.record, &loaded.state) else {
                return Ok(Driven::default());
            };
            tracing::warn!(component = self.info.name, workflow_id = %id, "workflow timed out");
            if let Some(driven) = self.commit(&id, &mut slot, planned).await? {
                return Ok(driven);
            }
        }
        Err(Status::aborted(format!(
            "{id} kept changing under its timeout"
        )))
    }
}

impl<A: WorkflowAdapter> EntityRunner for WorkflowRunner<A> {
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

impl<A: WorkflowAdapter> WorkflowDriver for WorkflowRunner<A> {
    fn service(&self) -> &'static str {
        self.info.service
    }

    fn drive(
        self: Arc<Self>,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<Driven, Status>> {
        Box::pin(async move {
            let drive = Drive::decode(payload).map_err(|error| {
                Status::invalid_argument(format!("not a workflow drive call: {error}"))
            })?;
            let info = self.info;
            if drive.timeout {
                run_detached(info, usize::MAX, self.run_timeout(drive.entity_id)).await
            } else {
                run_detached(info, usize::MAX, self.run_step(drive, ctx)).await
            }
        })
    }

    fn position(&self, id: &str) -> BoxFuture<'_, Result<Option<WorkflowPosition>, Status>> {
        let id = id.to_owned();
        Box::pin(async move {
            let loaded = self.load(&id).await?;
            Ok((loaded.seq > 0).then(|| loaded.record.position()))
        })
    }
}
