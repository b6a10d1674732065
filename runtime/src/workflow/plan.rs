//! Moves: from a workflow's stored position and a transition to the new
//! position, the state to write and the schedule rows that drive it next.

use bytes::Bytes;
use prost::Message;

use super::definition::{WorkflowDefinition, input_bytes};
use super::effect::{Next, Transition};
use super::record::{Drive, Record, WorkflowStatus};
use crate::storage::{DueCall, ScheduleOp, ScheduledCall};

/// The prefix of the method paths of the calls that drive workflows: never
/// a gRPC path (those start with `/`), so no client can make them.
pub(crate) const DRIVE_PATH: &str = "plinth.workflow:";

/// The drive path of the workflows stored under `type_id`.
pub(crate) fn drive_path(type_id: &str) -> String {
    format!("{DRIVE_PATH}{type_id}")
}

/// The timer that ends workflow `id` when it runs too long.
pub(crate) fn timeout_timer(type_id: &str, id: &str) -> String {
    format!("plinth.workflow-timeout:{type_id}/{id}")
}

/// What a move changes.
#[derive(Debug)]
pub(crate) struct Planned<S> {
    /// The new state (the empty state after a delete).
    pub(crate) state: S,
    /// Whether the state is deleted.
    pub(crate) deleted: bool,
    /// The new position.
    pub(crate) record: Record,
    /// Schedule rows written with the move.
    pub(crate) ops: Vec<ScheduleOp>,
    /// Step calls to run now (stored and claimed by this process).
    pub(crate) now: Vec<DueCall>,
}

/// Where a plan is made.
pub(crate) struct Mover<'a, S> {
    pub(crate) definition: &'a WorkflowDefinition<S>,
    pub(crate) type_id: &'a str,
    pub(crate) id: &'a str,
}

impl<S: Clone + 'static> Mover<'_, S> {
    /// Apply `transition` to a workflow at `record` with state `state`:
    /// `Ok(None)` when nothing changes, an error when the move is impossible
    /// (an unknown step, an input of the wrong type, a move after the end).
    pub(crate) fn plan(
        &self,
        record: &Record,
        state: &S,
        empty: impl FnOnce() -> S,
        transition: Transition<S>,
    ) -> Result<Option<Planned<S>>, String> {
        let Transition {
            state: new_state,
            next,
        } = transition;
        if !matches!(next, Next::Stay) && record.status().is_finished() {
            return Err(format!(
                "workflow {} has ended; it cannot move again",
                self.id
            ));
        }
        if matches!(next, Next::Stay) && new_state.is_none() {
            return Ok(None);
        }
        // The workflow's timeout runs from its first move to a step or a pause.
        let starts = record.status() == WorkflowStatus::NotStarted
            && matches!(next, Next::Step(..) | Next::Pause);
        let mut planned = Planned {
            state: new_state.unwrap_or_else(|| state.clone()),
            deleted: false,
            record: record.clone(),
            ops: Vec::new(),
            now: Vec::new(),
        };
        match next {
            Next::Stay => {}
            Next::Step(step, input) => {
                let target = self.definition.check_target(&step, input.as_ref())?;
                let r = &mut planned.record;
                r.set_status(WorkflowStatus::Running);
                r.step = step;
                r.input = input_bytes(input.as_ref());
                r.attempts = 0;
                r.token += 1;
                let recover = if r.timed_out {
                    self.definition.timeout_failover.as_ref()
                } else {
                    self.definition.recover_of(target)
                };
                r.unlimited = recover.is_none();
                r.max_retries = recover.map_or(u32::MAX, |recover| recover.max_retries);
                let (op, call) = self.step_call(r.token, crate::schedule::HOLD);
                planned.ops.push(op);
                planned.now.push(call);
            }
            Next::Pause => {
                planned.record.set_status(WorkflowStatus::Paused);
                planned.record.token += 1;
            }
            Next::End => self.finish(&mut planned, WorkflowStatus::Ended),
            Next::Delete => {
                self.finish(&mut planned, WorkflowStatus::Deleted);
                planned.state = empty();
                planned.deleted = true;
            }
        }
        if starts && let Some(timeout) = self.definition.timeout {
            planned.ops.push(self.timeout_call(timeout));
        }
        Ok(Some(planned))
    }

    /// The move a finished step's `transition` makes: after the workflow
    /// timed out, the (failover) step ends the workflow; a step that picks
    /// nothing next leaves it paused, waiting for a command. An error when
    /// the move is impossible (a failure of the step, recovered as any).
    pub(crate) fn after_step(
        &self,
        record: &Record,
        state: &S,
        empty: impl FnOnce() -> S,
        mut transition: Transition<S>,
    ) -> Result<Planned<S>, crate::status::Status> {
        if record.timed_out {
            transition.next = Next::End;
        } else if matches!(transition.next, Next::Stay) {
            transition.next = Next::Pause;
        }
        match self.plan(record, state, empty, transition) {
            Ok(Some(planned)) => Ok(planned),
            Ok(None) => Err(crate::status::Status::internal(
                "the step's transition changed nothing",
            )),
            Err(problem) => Err(crate::status::Status::internal(problem)),
        }
    }

    /// A failed attempt at the running step: retry it later, or go to its
    /// failover step once its retries are used up (after a workflow
    /// timeout: end).
    pub(crate) fn failed(
        &self,
        record: &Record,
        state: &S,
        backoff: std::time::Duration,
    ) -> Planned<S> {
        let attempts = record.attempts.saturating_add(1);
        if record.unlimited || attempts <= record.max_retries {
            let mut planned = Planned {
                state: state.clone(),
                deleted: false,
                record: record.clone(),
                ops: Vec::new(),
                now: Vec::new(),
            };
            planned.record.attempts = attempts;
            planned.record.token += 1;
            let (op, _) = self.step_call(planned.record.token, backoff);
            planned.ops.push(op);
            return planned;
        }
        let failover = if record.timed_out {
            None
        } else {
            self.definition
                .steps
                .get(&record.step)
                .and_then(|step| self.definition.recover_of(step))
        };
        let transition = match failover {
            Some(recover) => Transition {
                state: None,
                next: Next::Step(recover.failover.clone(), recover.input.clone()),
            },
            None => Transition::end(),
        };
        // Checked when the service started: a failover step exists.
        self.plan(record, state, || state.clone(), transition)
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                let mut planned = Planned {
                    state: state.clone(),
                    deleted: false,
                    record: record.clone(),
                    ops: Vec::new(),
                    now: Vec::new(),
                };
                self.finish(&mut planned, WorkflowStatus::Ended);
                planned
            })
    }

    /// The workflow's timeout fired: go to the timeout's failover step (the
    /// workflow ends after it), or end.
    pub(crate) fn timed_out(&self, record: &Record, state: &S) -> Option<Planned<S>> {
        if record.status().is_finished() || record.status() == WorkflowStatus::NotStarted {
            return None;
        }
        let mut at = record.clone();
        at.timed_out = true;
        let transition = match &self.definition.timeout_failover {
            Some(recover) => Transition {
                state: None,
                next: Next::Step(recover.failover.clone(), recover.input.clone()),
            },
            None => Transition::end(),
        };
        let mut planned = self
            .plan(&at, state, || state.clone(), transition)
            .ok()
            .flatten()?;
        planned.record.timed_out = true;
        Some(planned)
    }

    fn finish(&self, planned: &mut Planned<S>, status: WorkflowStatus) {
        planned.record.set_status(status);
        planned.record.token += 1;
        if self.definition.timeout.is_some() {
            planned
                .ops
                .push(ScheduleOp::Cancel(timeout_timer(self.type_id, self.id)));
        }
    }

    /// The row that runs the step of move `token` once `delay` passed.
    fn step_call(&self, token: u64, delay: std::time::Duration) -> (ScheduleOp, DueCall) {
        let key = uuid::Uuid::new_v4().to_string();
        let drive = Drive {
            entity_id: self.id.to_owned(),
            token,
            timeout: false,
            key: key.clone(),
        };
        let entry = ScheduledCall {
            key,
            name: None,
            lane: format!("workflow:{}/{}", self.type_id, self.id),
            path: drive_path(self.type_id),
            payload: Bytes::from(drive.encode_to_vec()),
            delay,
            max_retries: None,
            trace: None,
        };
        let call = crate::schedule::pending(&entry);
        (ScheduleOp::Put(entry), call)
    }

    /// The timer that fires when the workflow runs longer than `timeout`.
    fn timeout_call(&self, timeout: std::time::Duration) -> ScheduleOp {
        let name = timeout_timer(self.type_id, self.id);
        let drive = Drive {
            entity_id: self.id.to_owned(),
            token: 0,
            timeout: true,
            key: String::new(),
        };
        ScheduleOp::Put(ScheduledCall {
            key: uuid::Uuid::new_v4().to_string(),
            lane: format!("timer:{name}"),
            name: Some(name),
            path: drive_path(self.type_id),
            payload: Bytes::from(drive.encode_to_vec()),
            delay: timeout,
            max_retries: Some(10),
            trace: None,
        })
    }
}
