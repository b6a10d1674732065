//! The workflow kit: one workflow id, its state and position, moved by its
//! commands and by steps the test runs one at a time — with the runtime's
//! own rules for moves, recovery (retries, then the failover step) and the
//! workflow timeout (due by the kit's clock: `kit.advance(..)` past it
//! sends the workflow to its timeout's failover step). A step's calls to
//! other components get the replies canned with [`WorkflowKit::when`].
//! A step's own timeout bounds real waiting, as in the runtime.

use std::sync::Arc;
use std::time::SystemTime;

use futures::FutureExt;

use super::env::{KitEnv, StartedTimer, TimerChange};
use super::outbound::{KitOutbound, MadeCall};
use super::outcome::{Ended, outcome_accessors};
use crate::clock::Clock;
use crate::component::adapter::WorkflowAdapter;
use crate::context::{ActionContext, CommandContext};
use crate::effect::DeferredCall;
use crate::status::{Code, Status};
use crate::storage::ScheduleOp;
use crate::workflow::plan::{Mover, Planned, timeout_timer};
use crate::workflow::record::Record;
use crate::workflow::{WorkflowContext, WorkflowDefinition, WorkflowPosition, WorkflowStatus};

/// One workflow's state and position. Generated kits
/// (`<Name>WorkflowTestKit`) wrap one and dereference to it.
pub struct WorkflowKit<S> {
    env: KitEnv,
    id: String,
    type_id: &'static str,
    empty: S,
    state: S,
    record: Record,
    definition: WorkflowDefinition<S>,
    outbound: Arc<KitOutbound>,
    timeout_due: Option<SystemTime>,
}

impl<S> std::fmt::Debug for WorkflowKit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowKit")
            .field("id", &self.id)
            .field("position", &self.record.position())
            .finish_non_exhaustive()
    }
}

impl<S: prost::Message + Default + Clone + 'static> WorkflowKit<S> {
    /// A kit for the workflow `id` of `adapter` (a generated component),
    /// not started.
    pub fn new<A: WorkflowAdapter<State = S>>(
        adapter: &A,
        id: impl Into<String>,
    ) -> WorkflowKit<S> {
        let env = KitEnv::default();
        let info = adapter.info();
        let outbound = Arc::new(KitOutbound::new(info.service, env.clock().clone()));
        let empty = adapter.empty_state();
        WorkflowKit {
            env,
            id: id.into(),
            type_id: info.type_id,
            state: empty.clone(),
            empty,
            record: Record::default(),
            definition: adapter.definition(),
            outbound,
            timeout_due: None,
        }
    }

    /// The workflow id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Where the workflow is.
    pub fn position(&self) -> WorkflowPosition {
        self.record.position()
    }

    /// Give a step's calls of a generated client's method a canned reply
    /// (see [`ActionKit::when`](super::ActionKit::when)).
    pub fn when<Q, R, F>(&mut self, method: F) -> super::action::Canned<'_, Q, R>
    where
        Q: prost::Message + Default + 'static,
        R: prost::Message + 'static,
        F: Fn(Q) -> DeferredCall<R>,
    {
        super::action::Canned::new(method(Q::default()).path(), &self.outbound)
    }

    /// Every component call the steps made so far, in order.
    pub fn calls(&self) -> Vec<MadeCall> {
        self.outbound.calls()
    }

    /// Run `command` through `adapter` and move the workflow as its effect
    /// says (the generated kit's methods call this).
    pub fn handle<A, R>(&mut self, adapter: &A, command: A::Command) -> WorkflowResult<R, S>
    where
        A: WorkflowAdapter<State = S>,
        R: prost::Message + Default,
    {
        let ctx = WorkflowContext::new(
            CommandContext::new(self.id.clone()).with_metadata(self.env.metadata()),
            self.record.position(),
        );
        let effect = adapter.handle(&self.state, command, &ctx);
        let timers = self.env.timer_changes(ctx.take_schedule());
        let ended = match effect.outcome {
            Err(status) => Ended::Error(status),
            Ok(reply) => {
                let planned = self.mover().plan(
                    &self.record,
                    &self.state,
                    || self.empty.clone(),
                    effect.transition,
                );
                match planned {
                    Ok(planned) => {
                        if let Some(planned) = planned {
                            self.apply(planned);
                        }
                        self.env.record(&timers);
                        Ended::Reply(reply).decoded()
                    }
                    Err(problem) => Ended::Error(Status::failed_precondition(problem)),
                }
            }
        };
        let timers = if ended.is_error() { Vec::new() } else { timers };
        WorkflowResult {
            ended,
            state: self.state.clone(),
            position: self.record.position(),
            timers,
        }
    }

    /// Run the running step once: its call, then its transition; a failure
    /// (an error, a timeout, a panic) counts as an attempt and the step's
    /// recovery applies. `Err` with the failure, or `FAILED_PRECONDITION`
    /// when no step is running.
    pub async fn run_step(&mut self) -> Result<(), Status> {
        if self.record.status() != WorkflowStatus::Running {
            return Err(Status::failed_precondition(format!(
                "workflow {} runs no step: it is {}",
                self.id,
                self.record.status().as_str()
            )));
        }
        let Some(step) = self.definition.steps.get(&self.record.step) else {
            return Err(Status::internal(format!(
                "the workflow is at step {:?}, which its definition does not have",
                self.record.step
            )));
        };
        let timeout = self.definition.step_timeout(step);
        let ctx = ActionContext::new(self.env.metadata()).with_outbound(self.outbound.clone());
        let call = step.run(&self.record.input, ctx);
        let result =
            match tokio::time::timeout(timeout, std::panic::AssertUnwindSafe(call).catch_unwind())
                .await
            {
                Err(_) => Err(Status::new(
                    Code::DeadlineExceeded,
                    format!(
                        "step {:?} did not finish within {timeout:?}",
                        self.record.step
                    ),
                )),
                Ok(Err(_)) => Err(Status::internal(format!(
                    "step {:?} panicked",
                    self.record.step
                ))),
                Ok(Ok(result)) => result,
            };
        let step_timers = self.outbound.take_timers();
        self.env.record(&step_timers);
        let failure = match result {
            Ok(then) => {
                let transition = then(&self.state);
                let empty = || self.empty.clone();
                match self
                    .mover()
                    .after_step(&self.record, &self.state, empty, transition)
                {
                    Ok(planned) => {
                        self.apply(planned);
                        return Ok(());
                    }
                    Err(status) => status,
                }
            }
            Err(status) => status,
        };
        let planned = self
            .mover()
            .failed(&self.record, &self.state, std::time::Duration::ZERO);
        self.apply(planned);
        Err(failure)
    }

    /// Run steps until the workflow pauses or ends, at most `max_steps`
    /// runs (failed attempts included); the position it stopped at.
    pub async fn run_steps(&mut self, max_steps: usize) -> WorkflowPosition {
        for _ in 0..max_steps {
            if self.record.status() != WorkflowStatus::Running {
                break;
            }
            let _ = self.run_step().await;
        }
        self.record.position()
    }

    /// Move the clock forward by `by`: past the workflow's timeout, the
    /// workflow goes to the timeout's failover step (or ends). The handlers'
    /// own timers due by then are returned, as [`KitEnv::advance`] does.
    pub fn advance(&mut self, by: std::time::Duration) -> Vec<StartedTimer> {
        let fired = self.env.advance(by);
        if self
            .timeout_due
            .is_some_and(|due| due <= self.env.clock().now())
        {
            self.timeout_due = None;
            if let Some(planned) = self.mover().timed_out(&self.record, &self.state) {
                self.apply(planned);
            }
        }
        fired
    }

    fn mover(&self) -> Mover<'_, S> {
        Mover {
            definition: &self.definition,
            type_id: self.type_id,
            id: &self.id,
        }
    }

    /// Take a planned move: the new state and position, and the workflow
    /// timeout it starts or cancels.
    fn apply(&mut self, planned: Planned<S>) {
        let timer = timeout_timer(self.type_id, &self.id);
        for op in &planned.ops {
            match op {
                ScheduleOp::Put(call) if call.name.as_deref() == Some(timer.as_str()) => {
                    self.timeout_due = Some(self.env.clock().now() + call.delay);
                }
                ScheduleOp::Cancel(name) if *name == timer => self.timeout_due = None,
                _ => {}
            }
        }
        // Stored as its encoding, as the runtime stores it.
        self.state = S::decode(planned.state.encode_to_vec().as_slice()).unwrap_or_default();
        self.record = planned.record;
    }
}

impl<S> std::ops::Deref for WorkflowKit<S> {
    type Target = KitEnv;
    fn deref(&self) -> &KitEnv {
        &self.env
    }
}

impl<S> std::ops::DerefMut for WorkflowKit<S> {
    fn deref_mut(&mut self) -> &mut KitEnv {
        &mut self.env
    }
}

/// What one workflow command did.
#[derive(Debug)]
pub struct WorkflowResult<R, S> {
    ended: Ended<R>,
    state: S,
    position: WorkflowPosition,
    timers: Vec<TimerChange>,
}

impl<R, S> WorkflowResult<R, S> {
    outcome_accessors!(R);

    /// The state after the command.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Where the workflow is after the command.
    pub fn position(&self) -> &WorkflowPosition {
        &self.position
    }

    /// The timers the command started and cancelled, in order.
    pub fn timers(&self) -> &[TimerChange] {
        &self.timers
    }
}
