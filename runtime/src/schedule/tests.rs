//! The scheduler's delivery rules, over a real SQLite schedule and a
//! dispatcher double that records what reaches it; timers by a manual clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{POLL, Scheduler, entity_lane, outbox_entry, pending};
use crate::clock::{self, ManualClock};
use crate::component::adapter::ActionReply;
use crate::component::info::ComponentInfo;
use crate::context::{Caller, Metadata};
use crate::dispatch::Dispatch;
use crate::effect::DeferredCall;
use crate::status::Status;
use crate::storage::{ScheduleOp, ScheduleStore, SqliteOptions, SqliteStorage};

/// Records `(path, payload)` of every call, and fails calls whose payload is
/// listed in `unavailable` that many times first; with `refuse`, answers
/// every call with `INVALID_ARGUMENT`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, String, Caller)>>,
    /// The `traceparent` of every call.
    traces: Mutex<Vec<Option<String>>>,
    unavailable: Mutex<Vec<(String, u32)>>,
    refuse: bool,
}

impl Recorder {
    fn seen(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .map(|(_, payload, _)| payload.clone())
            .collect()
    }
}

impl Dispatch for Recorder {
    fn components(&self) -> &[&'static ComponentInfo] {
        &[]
    }

    fn dispatch(
        &self,
        path: &str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let text = String::from_utf8(payload.to_vec()).unwrap();
        self.calls
            .lock()
            .unwrap()
            .push((path.to_owned(), text.clone(), metadata.caller()));
        self.traces
            .lock()
            .unwrap()
            .push(metadata.get("traceparent").map(str::to_owned));
        let mut unavailable = self.unavailable.lock().unwrap();
        let failing = unavailable
            .iter_mut()
            .find(|(payload, left)| *payload == text && *left > 0);
        let result = match failing {
            Some((_, left)) => {
                *left -= 1;
                Err(Status::unavailable("not now"))
            }
            None if self.refuse => Err(Status::invalid_argument("no")),
            None => Ok(ActionReply::Unary(Bytes::new())),
        };
        futures::future::ready(result).boxed()
    }
}

fn call(payload: &str) -> DeferredCall<Bytes> {
    DeferredCall::new("/test.Target/Take", Bytes::from(payload.to_owned()))
}

async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_is_delivered_in_order_and_waits_for_a_retried_call() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStorage::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap());
    let recorder = Arc::new(Recorder::default());
    recorder.unavailable.lock().unwrap().push(("a1".into(), 2));
    let dispatch: Arc<dyn Dispatch> = recorder.clone();
    let scheduler = Scheduler::new(store.clone(), false, clock::system());
    scheduler.set_dispatch(Arc::downgrade(&dispatch));

    let lane_a = entity_lane("counters", "a");
    let lane_b = entity_lane("counters", "b");
    let entries = [
        outbox_entry(&lane_a, &call("a1")),
        outbox_entry(&lane_a, &call("a2")),
        outbox_entry(&lane_b, &call("b1")),
        outbox_entry(&lane_a, &call("a3")),
    ];
    let ops = entries.iter().cloned().map(ScheduleOp::Put).collect();
    store.schedule(ops).await.unwrap();
    scheduler.enqueue(entries.iter().map(pending).collect());

    until("every call", || recorder.seen().len() == 6).await;
    let seen = recorder.seen();
    let lane_a_order: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|p| p.starts_with('a'))
        .collect();
    assert_eq!(lane_a_order, ["a1", "a1", "a1", "a2", "a3"]);
    // The other entity's call did not wait for lane a's retries.
    let b = seen.iter().position(|p| p == "b1").unwrap();
    assert!(b < 3, "b1 was delivered after lane a's retries: {seen:?}");
    let all_as_runtime = recorder
        .calls
        .lock()
        .unwrap()
        .iter()
        .all(|(_, _, caller)| *caller == Caller::Runtime);
    assert!(all_as_runtime, "scheduled calls run as the runtime");
    until("the outbox to empty", || {
        futures::executor::block_on(store.list_scheduled(10))
            .unwrap()
            .is_empty()
    })
    .await;
    assert_eq!(
        scheduler
            .counters
            .retried
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    scheduler.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_start_the_calls_a_previous_run_left_are_delivered_first() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStorage::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap());
    let lane = entity_lane("counters", "a");
    // Stored and claimed by a run that died: not due for 30 s.
    let left = outbox_entry(&lane, &call("left"));
    store.schedule(vec![ScheduleOp::Put(left)]).await.unwrap();

    let recorder = Arc::new(Recorder::default());
    let dispatch: Arc<dyn Dispatch> = recorder.clone();
    let scheduler = Scheduler::new(store.clone(), false, clock::system());
    scheduler.set_dispatch(Arc::downgrade(&dispatch));
    scheduler.start().await;
    let new = outbox_entry(&lane, &call("new"));
    store
        .schedule(vec![ScheduleOp::Put(new.clone())])
        .await
        .unwrap();
    scheduler.enqueue(vec![pending(&new)]);
    until("both calls", || recorder.seen().len() == 2).await;
    assert_eq!(recorder.seen(), ["left", "new"]);
    scheduler.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_answer_is_a_delivery_and_is_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStorage::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap());
    let recorder = Arc::new(Recorder {
        refuse: true,
        ..Recorder::default()
    });
    let dispatch: Arc<dyn Dispatch> = recorder.clone();
    let scheduler = Scheduler::new(store.clone(), false, clock::system());
    scheduler.set_dispatch(Arc::downgrade(&dispatch));
    let entry = outbox_entry(&entity_lane("counters", "a"), &call("refused"));
    store
        .schedule(vec![ScheduleOp::Put(entry.clone())])
        .await
        .unwrap();
    scheduler.enqueue(vec![pending(&entry)]);
    until("the call to be removed", || {
        futures::executor::block_on(store.list_scheduled(10))
            .unwrap()
            .is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(recorder.seen(), ["refused"]);
    assert_eq!(
        scheduler
            .counters
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    scheduler.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_hour_timer_fires_when_the_clock_is_moved_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let options = SqliteOptions {
        clock: Arc::new(clock.clone()),
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStorage::open(dir.path().join("s.db"), options).unwrap());
    let recorder = Arc::new(Recorder::default());
    let dispatch: Arc<dyn Dispatch> = recorder.clone();
    let scheduler = Scheduler::new(store.clone(), false, Arc::new(clock.clone()));
    scheduler.set_dispatch(Arc::downgrade(&dispatch));
    scheduler.start().await;
    scheduler
        .start_timer("reminder", Duration::from_secs(3600), call("ring"), 3)
        .await
        .unwrap();

    // Real time passes, and the clock moves, but not yet an hour.
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.advance(Duration::from_secs(3599));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(recorder.seen().is_empty(), "fired before its hour");
    let stored = store.list_scheduled(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        (900..=1001).contains(&stored[0].due_in_ms),
        "due in a second by the clock: {stored:?}"
    );

    // The loop looks again and then waits ~800 ms for the timer's second;
    // the move wakes it at once.
    scheduler.poke();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let moved = Instant::now();
    clock.advance(Duration::from_secs(1));
    until("the timer", || recorder.seen() == ["ring"]).await;
    let took = moved.elapsed();
    assert!(
        took < POLL / 2,
        "the move did not wake the scheduler: {took:?}"
    );
    until("the timer to be removed", || {
        futures::executor::block_on(store.list_scheduled(10))
            .unwrap()
            .is_empty()
    })
    .await;
    scheduler.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_call_carries_the_trace_context_it_was_stored_with() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStorage::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap());
    let recorder = Arc::new(Recorder::default());
    let dispatch: Arc<dyn Dispatch> = recorder.clone();
    let scheduler = Scheduler::new(store.clone(), false, clock::system());
    scheduler.set_dispatch(Arc::downgrade(&dispatch));
    scheduler.start().await;

    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let lane = entity_lane("counters", "a");
    let mut traced = outbox_entry(&lane, &call("traced"));
    traced.trace = Some(format!("{parent}\nvendor=1"));
    traced.delay = Duration::ZERO;
    let mut plain = outbox_entry(&lane, &call("plain"));
    plain.delay = Duration::ZERO;
    // Stored, then claimed from storage by the loop (not handed over).
    store
        .schedule(vec![ScheduleOp::Put(traced), ScheduleOp::Put(plain)])
        .await
        .unwrap();
    scheduler.poke();
    until("both calls", || recorder.seen().len() == 2).await;
    let traces = recorder.traces.lock().unwrap().clone();
    assert_eq!(traces, [Some(parent.to_owned()), None]);
}
