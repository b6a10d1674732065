//! Timers from handlers: `ctx.timers().start_single(name, delay, call,
//! max_retries)` and `ctx.timers().cancel(name)`.
//!
//! A timer makes `call` (a [`DeferredCall`] from a generated client) once
//! `delay` has passed, at least once, also across restarts; its name is
//! unique within the service, so starting a timer replaces the one of the
//! same name. A failing call is retried with backoff (3 s doubling to 30 s)
//! up to `max_retries` times, then dropped with an error line naming the
//! timer. From an action the change is stored before the method returns;
//! from an entity it is committed with the command's state change or events
//! (or on its own when the command writes nothing), before the reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::context::Outbound;
use crate::effect::DeferredCall;
use crate::status::Status;
use crate::storage::ScheduleOp;

/// The timers of an action call ([`ActionContext::timers`](crate::ActionContext::timers)).
pub struct Timers<'a> {
    pub(crate) outbound: Option<&'a dyn Outbound>,
}

impl std::fmt::Debug for Timers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("connected", &self.outbound.is_some())
            .finish()
    }
}

impl Timers<'_> {
    fn outbound(&self) -> Result<&dyn Outbound, Status> {
        self.outbound.ok_or_else(|| {
            Status::failed_precondition("timers need a context from a running service")
        })
    }

    /// Start the timer `name`: `call` is made once `delay` has passed,
    /// retried up to `max_retries` times if it fails. Replaces a timer of the
    /// same name. Returns once the timer is stored.
    pub async fn start_single<R>(
        &self,
        name: &str,
        delay: Duration,
        call: DeferredCall<R>,
        max_retries: u32,
    ) -> Result<(), Status> {
        self.outbound()?
            .start_timer(name, delay, call.erase(), max_retries)
            .await
    }

    /// Cancel the timer `name`; nothing happens if there is none (it fired,
    /// or was never started). A call already under way is not stopped.
    pub async fn cancel(&self, name: &str) -> Result<(), Status> {
        self.outbound()?.cancel_timer(name).await
    }
}

/// The timers of an entity command
/// ([`CommandContext::timers`](crate::CommandContext::timers)): changes are
/// committed with the command's effect, and dropped if it fails.
#[derive(Debug)]
pub struct EntityTimers<'a> {
    pub(crate) ops: &'a Mutex<Vec<ScheduleOp>>,
}

impl EntityTimers<'_> {
    fn push(&self, op: ScheduleOp) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }

    /// Start the timer `name` when the command's effect is committed: `call`
    /// is made once `delay` has passed, retried up to `max_retries` times if
    /// it fails. Replaces a timer of the same name.
    pub fn start_single<R>(
        &self,
        name: &str,
        delay: Duration,
        call: DeferredCall<R>,
        max_retries: u32,
    ) {
        self.push(ScheduleOp::Put(super::timer_entry(
            name,
            delay,
            call.erase(),
            max_retries,
        )));
    }

    /// Cancel the timer `name` when the command's effect is committed.
    pub fn cancel(&self, name: &str) {
        self.push(ScheduleOp::Cancel(name.to_owned()));
    }
}

/// The schedule changes an entity command records, shared by the clones of
/// its context.
pub(crate) type Recorded = Arc<Mutex<Vec<ScheduleOp>>>;
