//! The schedule role: calls the runtime owes and will make later — the
//! outbox of side effects committed with entity writes, and named timers.
//!
//! A scheduled call is a row with a due time. Whoever delivers it first
//! claims it (moves its due time past the delivery's deadline), so among
//! several processes one at a time delivers it; a process that died while
//! holding a claim leaves the row to be claimed again once the claim lapses.
//! A delivered call's row is removed by its key. Due times are kept by the
//! backend's clock (the database server's for PostgreSQL), so processes with
//! skewed clocks agree.

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::StorageResult;

/// A call to store: an outbox entry (no name) or a timer (a name, unique
/// within the service: storing a timer replaces the one of the same name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCall {
    /// The row's key, chosen by the runtime (a UUID).
    pub key: String,
    /// The timer name; `None` for an outbox entry.
    pub name: Option<String>,
    /// Calls of one lane are delivered in the order they were stored (an
    /// entity's side effects share the entity's lane).
    pub lane: String,
    /// The method path (`/package.Service/Method`).
    pub path: String,
    /// The encoded request.
    pub payload: Bytes,
    /// How long from now until the call is due (for an outbox entry that
    /// its writer delivers at once, the writer's claim).
    pub delay: Duration,
    /// How many failed attempts are retried; `None`: until delivered.
    pub max_retries: Option<u32>,
    /// The trace context of the call that scheduled it (as
    /// [`StateWrite::trace`](crate::storage::StateWrite::trace)), carried onto
    /// the call when it is made.
    pub trace: Option<String>,
}

/// A change to the schedule made with an entity's write (in its
/// transaction) or on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleOp {
    /// Store a call (replacing the timer of the same name).
    Put(ScheduledCall),
    /// Remove the timer of this name, if there is one.
    Cancel(String),
}

/// A stored call, as a claim or a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCall {
    /// Its key.
    pub key: String,
    /// The timer name; `None` for an outbox entry.
    pub name: Option<String>,
    /// Its lane.
    pub lane: String,
    /// The method path.
    pub path: String,
    /// The encoded request.
    pub payload: Bytes,
    /// Failed attempts so far.
    pub attempts: u32,
    /// How many failed attempts are retried; `None`: until delivered.
    pub max_retries: Option<u32>,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Milliseconds until it is due (negative: overdue) when it was read;
    /// for a claimed call, until it was due before the claim moved it.
    pub due_in_ms: i64,
    /// The trace context of the call that scheduled it (as
    /// [`StateWrite::trace`](crate::storage::StateWrite::trace)), carried onto
    /// the call when it is made.
    pub trace: Option<String>,
}

/// What to claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The most calls to claim, earliest stored first.
    pub limit: usize,
    /// How long the claim holds: the claimed calls become due again then.
    pub hold: Duration,
    /// Also claim calls due within this long from now (their
    /// [`DueCall::due_in_ms`] says how long to wait before delivering them).
    pub ahead: Duration,
    /// Also claim outbox entries not yet due (their writer's claim is void:
    /// a process that alone serves its storage, at start).
    pub orphans: bool,
}

/// The outbox and timers (see the module doc).
pub trait ScheduleStore: Send + Sync + 'static {
    /// Apply schedule changes durably, in order, in one transaction.
    fn schedule(&self, ops: Vec<ScheduleOp>) -> BoxFuture<'_, StorageResult<()>>;

    /// Claim calls that are due (see [`Claim`]), ordered by lane and then by
    /// the order they were stored in.
    fn claim_due(&self, claim: Claim) -> BoxFuture<'_, StorageResult<Vec<DueCall>>>;

    /// Record a failed attempt at the call `key`: its attempt count and
    /// error, and when it is due again. `false` (and nothing changes) when it
    /// is gone: delivered, cancelled or replaced meanwhile.
    fn retry_later<'a>(
        &'a self,
        key: &'a str,
        attempts: u32,
        error: &'a str,
        delay: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>>;

    /// Remove delivered (or given up) calls by key.
    fn complete(&self, keys: Vec<String>) -> BoxFuture<'_, StorageResult<()>>;

    /// How long until the earliest stored call is due (zero if one is
    /// overdue); `None` when nothing is stored.
    fn next_due(&self) -> BoxFuture<'_, StorageResult<Option<Duration>>>;

    /// Up to `limit` stored calls, earliest due first, for the status page.
    fn list_scheduled(&self, limit: usize) -> BoxFuture<'_, StorageResult<Vec<DueCall>>>;
}
