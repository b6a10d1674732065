//! Workflows: durable processes made of steps.
//!
//! A workflow is a stateful component like a value entity — one state
//! message per id, commands handled one at a time per id by synchronous
//! handlers — with a position: the step it runs, paused, or ended. A command
//! handler returns a [`WorkflowEffect`]: a [`Transition`] (a new state, and
//! a step to go to with its input, a pause, an end or a delete) and the
//! reply. A step ([`Step`], defined in the user's [`WorkflowDefinition`])
//! runs an async call — other components through the generated clients, or
//! any async code — then a synchronous transition from its result and the
//! state of that moment.
//!
//! # Guarantees
//!
//! - **State and position are stored together, after every command and
//!   every step**, in one write fenced by the workflow's sequence number,
//!   with the scheduled call that runs the next step in the same
//!   transaction. The change of state goes on the change feed like a value
//!   entity's, so views and subscriptions can follow workflows (subscribe
//!   with `value_entity: "<type_id>"`).
//! - **A step runs at least once.** Its call is made after the move to it is
//!   durable; after a crash or restart it is made again (the next start with
//!   SQLite, any process once the claim lapses with PostgreSQL). A step whose
//!   call finished but whose transition was not stored runs again: steps
//!   should be idempotent, or call idempotent commands.
//! - **One process at a time** runs a workflow's step: the scheduled call is
//!   claimed in storage (a step longer than the claim extends it), and a
//!   step's result is applied only if the workflow is still at the move that
//!   started it; a command that moved the workflow meanwhile (paused, ended,
//!   sent it elsewhere) wins and the result is dropped.
//! - **Timeouts.** A step's call is cut off after its timeout (default
//!   5 s, [`WorkflowDefinition::default_step_timeout`]) and counts as a
//!   failure. A workflow with a [`WorkflowDefinition::timeout`] goes to its
//!   failover step when it runs longer (started with the first move, stored
//!   as a timer); the workflow ends after that step.
//! - **Recovery.** A failing step is retried with backoff (0.2 s doubling
//!   to 10 s): forever when it has no [`Recover`] (its own or the default),
//!   else `max_retries` times before it goes to the failover step.
//!   Compensation is an ordinary step a failure leads to.
//! - **Pause and resume.** A paused workflow runs nothing until a command
//!   (perhaps from a timer) moves it on. Ended workflows answer commands but
//!   never move again.
//!
//! Where a workflow is can be read by its handlers
//! ([`WorkflowContext::position`]) and at
//! `GET /_plinth/workflows/{type_id}/{id}` on the admin surface.

mod context;
mod definition;
pub(crate) mod effect;
pub(crate) mod plan;
pub(crate) mod record;
pub(crate) mod runner;
pub(crate) mod status;

#[cfg(test)]
mod tests;

pub use context::WorkflowContext;
pub use definition::{DEFAULT_STEP_TIMEOUT, MaxRetries, Recover, Step, WorkflowDefinition};
pub use effect::{Transition, WorkflowEffect};
pub use record::{WorkflowPosition, WorkflowStatus};

pub(crate) use plan::DRIVE_PATH;
