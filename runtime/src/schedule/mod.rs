//! Durable calls: the outbox of side effects, and timers.
//!
//! # Guarantees
//!
//! - **A side effect is never lost.** An entity command's side effects are
//!   stored with the command's state change or events, in the same
//!   transaction (a command that changes nothing stores them on its own
//!   before it replies), so once the caller has its reply, the calls are
//!   durable. They are delivered right after the commit by the process that
//!   wrote them, and after a crash by the next process to start (SQLite) or
//!   by any process once the writer's claim lapses (30 s, PostgreSQL).
//! - **A forward after a write is never lost either.** A command that
//!   writes and then forwards stores the forward with its write; the
//!   dispatcher makes the call for its caller and removes it once answered
//!   (a callee that could not answer gets it again from the scheduler); after
//!   a crash the next run makes it, its reply going nowhere. A command that
//!   writes nothing does not store its forward: if that is lost, nothing
//!   happened.
//! - **At least once.** A call is removed only once its callee answered. A
//!   callee that could not answer (unavailable, overloaded, timed out) is
//!   called again with backoff (0.5 s doubling to 30 s) until it answers; an
//!   error answer counts as delivered and is logged. A crash between the
//!   callee's answer and the removal delivers the call again: callees
//!   should be idempotent.
//! - **Per-entity order.** One entity's side effects share a lane; a
//!   process delivers a lane's calls one at a time, in commit order, and a
//!   later call waits while an earlier one is retried. With several
//!   processes, calls left by a crashed process are delivered after its
//!   claim lapses and may then come after later calls of the same entity.
//! - **Timers** (named, unique per service: starting one replaces the one of
//!   the same name, cancelling removes it) fire at least once at or after
//!   their due time, also across restarts. A failing call is retried with
//!   backoff (3 s doubling to 30 s) up to the timer's `max_retries`, then
//!   dropped with an error line naming the timer; it is removed on success.
//! - **One process at a time** delivers a call: taking a due call claims it
//!   in storage for [`HOLD`] (an attempt is cut off after [`ATTEMPT_TIMEOUT`],
//!   well inside it), and retries extend the claim.
//! - **Due by the service's clock** ([`Clock`]): with SQLite, due times are
//!   kept by the service's clock, and when a manual clock is moved the
//!   schedule is read again at once and what came due goes out; PostgreSQL
//!   keeps them by the database server's clock. Retry backoff and an
//!   attempt's timeout are real waiting.
//!
//! Calls run as [`Caller::Runtime`](crate::context::Caller::Runtime),
//! through the dispatcher like any other call.
//!
//! - [`retry`]: the retry policy.
//! - [`deliver`]: lanes and delivery attempts.
//! - [`timers`]: the timer API of contexts.
//! - [`status`]: `GET /_plinth/scheduled`.

mod deliver;
pub(crate) mod retry;
pub(crate) mod status;
pub mod timers;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::dispatch::Dispatch;
use crate::effect::DeferredCall;
use crate::status::Status;
use crate::storage::{Claim, DueCall, ScheduleOp, ScheduleStore, ScheduledCall};

/// How long a claim on a call holds: it is due again then, for any process.
pub(crate) const HOLD: Duration = Duration::from_secs(30);
/// The longest one delivery attempt may take.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the schedule is read when nothing local is due sooner (timers
/// other processes start, calls other processes left).
const POLL: Duration = Duration::from_secs(1);
/// The most calls claimed at once.
const CLAIM_LIMIT: usize = 512;
/// Calls due this soon are claimed early and wait here for their time, so
/// that the time a claim takes is not added to their delay.
const AHEAD: Duration = Duration::from_millis(200);

/// Counters for the status page.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// The scheduler of one process: delivers the outbox and fires timers.
pub(crate) struct Scheduler {
    store: Arc<dyn ScheduleStore>,
    /// Whether other processes share the storage (their claims are live).
    shared: bool,
    /// The service's clock: a move makes the loop claim again.
    clock: Arc<dyn Clock>,
    dispatch: OnceLock<Weak<dyn Dispatch>>,
    /// Calls waiting in each active lane (a lane is active while its worker runs).
    lanes: Mutex<HashMap<String, VecDeque<Queued>>>,
    /// Keys queued or in flight here, so that a claim does not take them twice.
    known: Mutex<HashSet<String>>,
    wake: Notify,
    /// The loop and the lanes' workers, aborted at shutdown.
    tasks: Mutex<JoinSet<()>>,
    /// Set at shutdown: nothing new is started (what is stored stays stored).
    stopped: AtomicBool,
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("shared", &self.shared)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// A call waiting in its lane, and when it may go: at `at`, or once the
/// service's clock has reached `due` (when it is moved by hand).
#[derive(Debug)]
struct Queued {
    call: DueCall,
    at: tokio::time::Instant,
    due: SystemTime,
}

/// The lane of an entity's side effects.
pub(crate) fn entity_lane(type_id: &str, entity_id: &str) -> String {
    format!("entity:{type_id}/{entity_id}")
}

/// The lane of a timer.
fn timer_lane(name: &str) -> String {
    format!("timer:{name}")
}

/// An outbox entry for `call` in `lane`, claimed by its writer.
pub(crate) fn outbox_entry(lane: &str, call: &DeferredCall<bytes::Bytes>) -> ScheduledCall {
    ScheduledCall {
        key: uuid::Uuid::new_v4().to_string(),
        name: None,
        lane: lane.to_owned(),
        path: call.path().to_owned(),
        payload: call.payload().clone(),
        delay: HOLD,
        max_retries: None,
        trace: None,
    }
}

/// A timer's row.
pub(crate) fn timer_entry(
    name: &str,
    delay: Duration,
    call: DeferredCall<bytes::Bytes>,
    max_retries: u32,
) -> ScheduledCall {
    ScheduledCall {
        key: uuid::Uuid::new_v4().to_string(),
        name: Some(name.to_owned()),
        lane: timer_lane(name),
        path: call.path().to_owned(),
        payload: call.payload().clone(),
        delay,
        max_retries: Some(max_retries),
        trace: None,
    }
}

/// A stored entry as the call to deliver now.
pub(crate) fn pending(entry: &ScheduledCall) -> DueCall {
    DueCall {
        key: entry.key.clone(),
        name: entry.name.clone(),
        lane: entry.lane.clone(),
        path: entry.path.clone(),
        payload: entry.payload.clone(),
        attempts: 0,
        max_retries: entry.max_retries,
        last_error: None,
        due_in_ms: 0,
        trace: entry.trace.clone(),
    }
}

impl Scheduler {
    /// A scheduler over `store`; `shared` when other processes serve it too.
    /// A move of `clock` makes it read the schedule again.
    pub(crate) fn new(
        store: Arc<dyn ScheduleStore>,
        shared: bool,
        clock: Arc<dyn Clock>,
    ) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            store,
            shared,
            clock,
            dispatch: OnceLock::new(),
            lanes: Mutex::new(HashMap::new()),
            known: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            tasks: Mutex::new(JoinSet::new()),
            stopped: AtomicBool::new(false),
            counters: Counters::default(),
        })
    }

    /// Where calls go (held weakly: the dispatcher holds the scheduler).
    pub(crate) fn set_dispatch(&self, dispatch: Weak<dyn Dispatch>) {
        let _ = self.dispatch.set(dispatch);
    }

    /// Take over the calls a previous process left (with SQLite, every
    /// stored side effect: no other process can be delivering them) and
    /// queue them, before new commands add theirs, then start the loop
    /// that fires due calls.
    pub(crate) async fn start(self: &Arc<Self>) {
        if !self.shared {
            loop {
                match self.claim(true).await {
                    Ok(0) => break,
                    Ok(taken) => {
                        tracing::info!(calls = taken, "delivering calls left by the previous run");
                        if taken < CLAIM_LIMIT {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the schedule; retrying in the background");
                        break;
                    }
                }
            }
        }
        let this = self.clone();
        self.spawn(async move { this.run().await });
    }

    /// Claim what is due (with `orphans`, also the outbox entries of a
    /// previous run) and queue it; how many calls were taken.
    async fn claim(self: &Arc<Self>, orphans: bool) -> crate::storage::StorageResult<usize> {
        let claim = Claim {
            limit: CLAIM_LIMIT,
            hold: HOLD,
            ahead: AHEAD,
            orphans,
        };
        let calls = self.store.claim_due(claim).await?;
        let taken = calls.len();
        self.enqueue_claimed(calls);
        Ok(taken)
    }

    /// Stop delivering: what was not delivered stays stored for the next run.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abort_all();
    }

    /// Run `work` as one of the scheduler's tasks (finished ones are reaped
    /// on the way).
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(work);
    }

    /// The loop that claims due calls and wakes up for the next one (or
    /// when the clock is moved).
    async fn run(self: Arc<Self>) {
        loop {
            // Taken before the claim, so that a move during it is not missed.
            let moved = self.clock.moved();
            match self.claim(false).await {
                Ok(CLAIM_LIMIT) => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot claim due calls"),
            }
            let wait = match self.store.next_due().await {
                Ok(Some(due)) => due.saturating_sub(AHEAD).min(POLL),
                Ok(None) | Err(_) => POLL,
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                () = moved => {}
            }
        }
    }

    /// Deliver these calls (already stored and claimed) now, each after the
    /// calls queued before it in its lane.
    pub(crate) fn enqueue(self: &Arc<Self>, calls: Vec<DueCall>) {
        if calls.is_empty() {
            // Most commands have no side effects: no locks for them.
            return;
        }
        let (at, due) = (tokio::time::Instant::now(), self.clock.now());
        self.queue(calls.into_iter().map(|call| Queued { call, at, due }));
    }

    /// Queue claimed calls, each to go at its due time: `due_in_ms` from
    /// now, when the claim returned (so never early; at most the look-ahead).
    fn enqueue_claimed(self: &Arc<Self>, calls: Vec<DueCall>) {
        let (asked, now) = (tokio::time::Instant::now(), self.clock.now());
        self.queue(calls.into_iter().map(|call| {
            let early = u64::try_from(call.due_in_ms).unwrap_or(0);
            let early = Duration::from_millis(early).min(AHEAD);
            Queued {
                call,
                at: asked + early,
                due: now + early,
            }
        }));
    }

    fn queue(self: &Arc<Self>, calls: impl Iterator<Item = Queued>) {
        if self.stopped.load(Ordering::SeqCst) {
            // Stored and claimed: the next run delivers them.
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        for queued in calls {
            if !known.insert(queued.call.key.clone()) {
                continue;
            }
            match lanes.get_mut(&queued.call.lane) {
                Some(queue) => queue.push_back(queued),
                None => {
                    let lane = queued.call.lane.clone();
                    lanes.insert(lane.clone(), VecDeque::from([queued]));
                    let this = self.clone();
                    self.spawn(async move { this.drain(lane).await });
                }
            }
        }
    }

    /// The next call of `lane`, or `None` (and the lane is retired) when it is empty.
    fn next_in(&self, lane: &str) -> Option<Queued> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let queue = lanes.get_mut(lane)?;
        let next = queue.pop_front();
        if next.is_none() {
            lanes.remove(lane);
        }
        next
    }

    fn forget(&self, key: &str) {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// A stored forward is being made by its caller: no claim takes it.
    pub(crate) fn hold(&self, key: &str) {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned());
    }

    /// A stored forward's call came back with `failure` (none: a reply). An
    /// answer is a delivery and the row goes; a callee that could not answer
    /// gets the call again from the scheduler.
    pub(crate) fn forwarded(self: &Arc<Self>, call: DueCall, failure: Option<&Status>) {
        self.forget(&call.key);
        let undelivered = failure.is_some_and(|status| {
            matches!(
                retry::next(retry::Kind::Outbox, 1, status),
                retry::Next::RetryAfter(_)
            )
        });
        if undelivered {
            self.enqueue(vec![call]);
            return;
        }
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        let this = self.clone();
        self.spawn(async move { this.remove(&call).await });
    }

    /// Store a timer (replacing the one of the same name) and make sure the
    /// loop sees it in time.
    pub(crate) async fn start_timer(
        &self,
        name: &str,
        delay: Duration,
        call: DeferredCall<bytes::Bytes>,
        max_retries: u32,
    ) -> Result<(), Status> {
        let entry = timer_entry(name, delay, call, max_retries);
        self.apply(vec![ScheduleOp::Put(entry)]).await
    }

    /// Remove the timer `name`, if there is one.
    pub(crate) async fn cancel_timer(&self, name: &str) -> Result<(), Status> {
        self.apply(vec![ScheduleOp::Cancel(name.to_owned())]).await
    }

    /// Store schedule changes on their own, then wake the loop.
    pub(crate) async fn apply(&self, ops: Vec<ScheduleOp>) -> Result<(), Status> {
        self.store.schedule(ops).await.map_err(|error| {
            tracing::error!(%error, "cannot store the schedule");
            Status::unavailable("storage failed; try again")
        })?;
        self.poke();
        Ok(())
    }

    /// Timers changed here: recompute when the next one is due.
    pub(crate) fn poke(&self) {
        self.wake.notify_one();
    }
}
