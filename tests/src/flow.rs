//! The workflow fixture: jobs (`protos/flow.proto`) whose step `work` fails
//! its first `fail_times` attempts and takes `sleep_ms` each, then goes to
//! `finish` (or pauses, with `pause_after`). Step `work` times out after
//! 300 ms and gets two retries before it fails over to `recover`; a job
//! running longer than [`JOB_TIMEOUT`] goes to `timed-out` and ends.

pub use crate::generated::flow::*;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use plinth::workflow::WorkflowStatus;
use plinth::{
    ActionContext, Recover, Status, Step, Transition, WorkflowContext, WorkflowDefinition,
    WorkflowEffect,
};

/// How long a job may run.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(4);

/// Attempts of step `work` per job id, in this process.
static ATTEMPTS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

/// The states of each job the watcher saw, in order.
static SEEN: LazyLock<Mutex<HashMap<String, Vec<Vec<String>>>>> = LazyLock::new(Default::default);

/// The logs of job `id` the subscribed watcher saw, in order.
pub fn seen(id: &str) -> Vec<Vec<String>> {
    SEEN.lock().unwrap().get(id).cloned().unwrap_or_default()
}

/// Subscribed to the jobs' state changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watcher;

impl JobWatcherAction for Watcher {
    async fn on_job(&self, message: JobState, _ctx: ActionContext) -> Result<(), Status> {
        let mut seen = SEEN.lock().unwrap();
        let logs = seen.entry(message.job_id.clone()).or_default();
        // At least once: a state seen again is not noted twice.
        if logs.last() != Some(&message.log) {
            logs.push(message.log);
        }
        Ok(())
    }
}

/// How many times step `work` of job `id` was attempted in this process.
pub fn attempts(id: &str) -> u32 {
    ATTEMPTS.lock().unwrap().get(id).copied().unwrap_or(0)
}

/// The jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Jobs;

fn logged(state: &JobState, entry: &str) -> JobState {
    let mut next = state.clone();
    next.log.push(entry.to_owned());
    next
}

async fn work(input: Work, _ctx: ActionContext) -> Result<bool, Status> {
    let attempt = {
        let mut attempts = ATTEMPTS.lock().unwrap();
        let count = attempts.entry(input.job_id.clone()).or_default();
        *count += 1;
        *count
    };
    tokio::time::sleep(Duration::from_millis(u64::from(input.sleep_ms))).await;
    if attempt <= input.fail_times {
        return Err(Status::unavailable(format!("attempt {attempt} fails")));
    }
    Ok(input.pause_after)
}

impl JobWorkflow for Jobs {
    fn definition(&self) -> WorkflowDefinition<JobState> {
        WorkflowDefinition::new()
            .timeout(JOB_TIMEOUT)
            .failover_to("timed-out", 0)
            .step(
                Step::new("work", work, |state: &JobState, pause: bool| {
                    let state = logged(state, "work");
                    if pause {
                        Transition::pause().with_state(state)
                    } else {
                        Transition::to_step("finish").with_state(state)
                    }
                })
                .timeout(Duration::from_millis(300))
                .recover(Recover::max_retries(2).failover_to("recover")),
            )
            .step(Step::new(
                "finish",
                |(): (), _ctx: ActionContext| async { Ok(()) },
                |state: &JobState, ()| Transition::end().with_state(logged(state, "finish")),
            ))
            .step(Step::new(
                "recover",
                |(): (), _ctx: ActionContext| async { Ok(()) },
                |state: &JobState, ()| Transition::end().with_state(logged(state, "recover")),
            ))
            .step(Step::new(
                "timed-out",
                |(): (), _ctx: ActionContext| async { Ok(()) },
                |state: &JobState, ()| Transition::end().with_state(logged(state, "timed-out")),
            ))
    }

    fn start(
        &self,
        _state: &JobState,
        command: StartJob,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        if ctx.position().status != WorkflowStatus::NotStarted {
            return WorkflowEffect::error(Status::already_exists("the job exists"));
        }
        let state = JobState {
            job_id: command.job_id.clone(),
            log: vec!["start".to_owned()],
        };
        let work = Work {
            job_id: command.job_id,
            fail_times: command.fail_times,
            sleep_ms: command.sleep_ms,
            pause_after: command.pause_after,
        };
        Transition::to("work", work)
            .with_state(state.clone())
            .then_reply(state)
    }

    fn resume(
        &self,
        state: &JobState,
        _command: JobRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        if ctx.position().status != WorkflowStatus::Paused {
            return WorkflowEffect::error(Status::failed_precondition("the job is not paused"));
        }
        let state = logged(state, "resume");
        Transition::to_step("finish")
            .with_state(state.clone())
            .then_reply(state)
    }

    fn get(
        &self,
        state: &JobState,
        _command: JobRef,
        _ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        WorkflowEffect::reply(state.clone())
    }
}

/// A workflow definition whose failover step does not exist: the service
/// must refuse to start with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrokenJobs;

impl JobWorkflow for BrokenJobs {
    fn definition(&self) -> WorkflowDefinition<JobState> {
        Jobs.definition()
            .default_step_recover(Recover::max_retries(1).failover_to("nowhere"))
    }

    fn start(
        &self,
        s: &JobState,
        c: StartJob,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        Jobs.start(s, c, ctx)
    }

    fn resume(
        &self,
        s: &JobState,
        c: JobRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        Jobs.resume(s, c, ctx)
    }

    fn get(
        &self,
        s: &JobState,
        c: JobRef,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<JobState, JobState> {
        Jobs.get(s, c, ctx)
    }
}
