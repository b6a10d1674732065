//! What workflow command handlers and step transitions return: a state
//! change and where the workflow goes next, and for commands the reply.

use std::any::TypeId;
use std::fmt;

use bytes::Bytes;

use crate::status::Status;

/// An encoded step input with the Rust type it was made from, so that the
/// runtime can refuse a transition whose input is not the step's.
#[derive(Clone)]
pub(crate) struct StepInput {
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) bytes: Bytes,
}

impl StepInput {
    pub(crate) fn of<I: prost::Message + 'static>(input: &I) -> StepInput {
        StepInput {
            type_id: TypeId::of::<I>(),
            type_name: std::any::type_name::<I>(),
            bytes: Bytes::from(input.encode_to_vec()),
        }
    }
}

impl fmt::Debug for StepInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepInput")
            .field("type", &self.type_name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Where a workflow goes after a command or a step.
#[derive(Debug, Clone)]
pub(crate) enum Next {
    /// Stay where it is (a running step keeps running, a paused workflow
    /// stays paused).
    Stay,
    /// Run this step with this input.
    Step(String, Option<StepInput>),
    /// Wait for a command.
    Pause,
    /// End the workflow: no more steps; commands are still answered.
    End,
    /// End the workflow and delete its state.
    Delete,
}

/// A state change and where the workflow goes next: what a step's
/// transition returns, and (finished with [`Transition::then_reply`]) what a
/// command handler returns.
///
/// ```no_run
/// # use plinth::workflow::Transition;
/// # #[derive(Clone, PartialEq, prost::Message)] struct State { #[prost(string, tag = "1")] status: String }
/// # #[derive(Clone, PartialEq, prost::Message)] struct Deposit { #[prost(int64, tag = "1")] amount: i64 }
/// let next: Transition<State> = Transition::to("deposit", Deposit { amount: 10 })
///     .with_state(State { status: "withdrawn".into() });
/// ```
#[must_use = "a transition does nothing unless returned"]
#[derive(Debug, Clone)]
pub struct Transition<S> {
    pub(crate) state: Option<S>,
    pub(crate) next: Next,
}

impl<S> Transition<S> {
    /// Go to step `step` with `input` (of the step's input type).
    pub fn to<I: prost::Message + 'static>(step: &str, input: I) -> Transition<S> {
        Transition {
            state: None,
            next: Next::Step(step.to_owned(), Some(StepInput::of(&input))),
        }
    }

    /// Go to step `step` with the default value of its input type.
    pub fn to_step(step: &str) -> Transition<S> {
        Transition {
            state: None,
            next: Next::Step(step.to_owned(), None),
        }
    }

    /// Pause: no step runs until a command moves the workflow on.
    pub fn pause() -> Transition<S> {
        Transition {
            state: None,
            next: Next::Pause,
        }
    }

    /// End the workflow. Its state stays readable; no step runs again.
    pub fn end() -> Transition<S> {
        Transition {
            state: None,
            next: Next::End,
        }
    }

    /// End the workflow and delete its state.
    pub fn delete() -> Transition<S> {
        Transition {
            state: None,
            next: Next::Delete,
        }
    }

    /// Only change the state; the workflow stays where it is.
    pub fn update(state: S) -> Transition<S> {
        Transition {
            state: Some(state),
            next: Next::Stay,
        }
    }

    /// Change nothing.
    pub fn stay() -> Transition<S> {
        Transition {
            state: None,
            next: Next::Stay,
        }
    }

    /// Also replace the state (persisted with the move).
    pub fn with_state(mut self, state: S) -> Transition<S> {
        self.state = Some(state);
        self
    }

    /// Finish a command: persist the state and the move, then reply.
    pub fn then_reply<R>(self, reply: R) -> WorkflowEffect<S, R> {
        WorkflowEffect {
            transition: self,
            outcome: Ok(reply),
        }
    }

    /// The new state, when the transition replaces it.
    pub fn updated_state(&self) -> Option<&S> {
        self.state.as_ref()
    }

    /// The step the transition goes to, if it goes to one.
    pub fn next_step(&self) -> Option<&str> {
        match &self.next {
            Next::Step(step, _) => Some(step),
            _ => None,
        }
    }

    /// Whether the transition pauses the workflow.
    pub fn is_pause(&self) -> bool {
        matches!(self.next, Next::Pause)
    }

    /// Whether the transition ends the workflow (or deletes it).
    pub fn is_end(&self) -> bool {
        matches!(self.next, Next::End | Next::Delete)
    }
}

/// The effect of a workflow command handler: a [`Transition`] (persisted
/// before anything else happens) and the reply, or an error that changes
/// nothing.
#[must_use = "an effect does nothing unless returned from a handler"]
#[derive(Debug)]
pub struct WorkflowEffect<S, R> {
    pub(crate) transition: Transition<S>,
    pub(crate) outcome: Result<R, Status>,
}

impl<S, R> WorkflowEffect<S, R> {
    /// Reply without changing anything.
    pub fn reply(reply: R) -> WorkflowEffect<S, R> {
        Transition::stay().then_reply(reply)
    }

    /// Fail the command; nothing changes.
    pub fn error(status: impl Into<Status>) -> WorkflowEffect<S, R> {
        WorkflowEffect {
            transition: Transition::stay(),
            outcome: Err(status.into()),
        }
    }

    /// The transition.
    pub fn transition(&self) -> &Transition<S> {
        &self.transition
    }

    /// The reply, when the effect replies.
    pub fn reply_message(&self) -> Option<&R> {
        self.outcome.as_ref().ok()
    }

    /// The error, when the effect fails the command.
    pub fn error_status(&self) -> Option<&Status> {
        self.outcome.as_ref().err()
    }

    /// The same effect with its reply mapped (generated code encodes it).
    pub fn map_reply<T>(self, f: impl FnOnce(R) -> T) -> WorkflowEffect<S, T> {
        WorkflowEffect {
            transition: self.transition,
            outcome: self.outcome.map(f),
        }
    }
}
