//! The schedule role (outbox entries and timers): the same rules on every
//! backend.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use plinth::storage::{Claim, ScheduleOp, ScheduledCall};

use super::{Backend, append, state};

/// A call to store: a timer when `name` is given, else an outbox entry.
fn call(key: &str, name: Option<&str>, lane: &str, delay_ms: u64) -> ScheduledCall {
    ScheduledCall {
        key: key.to_owned(),
        name: name.map(str::to_owned),
        lane: lane.to_owned(),
        path: "/test.Counter/Increment".to_owned(),
        payload: Bytes::from(format!("payload of {key}")),
        delay: Duration::from_millis(delay_ms),
        max_retries: name.map(|_| 2),
        trace: None,
    }
}

/// A claim of what is due now (a due time is rounded up to the next
/// millisecond when stored, so "now" reaches a little ahead).
fn claim(orphans: bool) -> Claim {
    Claim {
        limit: 100,
        hold: Duration::from_secs(30),
        ahead: Duration::from_millis(50),
        orphans,
    }
}

fn keys(calls: &[plinth::storage::DueCall]) -> Vec<&str> {
    calls.iter().map(|c| c.key.as_str()).collect()
}

pub async fn due_calls_are_claimed_once_in_stored_order(b: &Backend) {
    let s = &b.storage;
    let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\nvendor=1";
    let mut a1 = call("a1", None, "entity:a", 0);
    a1.trace = Some(trace.to_owned());
    let mut later = call("later", Some("t-later"), "timer:t-later", 60_000);
    later.trace = Some(trace.to_owned());
    s.schedule(vec![
        ScheduleOp::Put(a1),
        ScheduleOp::Put(call("b1", None, "entity:b", 0)),
        ScheduleOp::Put(call("a2", None, "entity:a", 0)),
        ScheduleOp::Put(later),
    ])
    .await
    .unwrap();
    let due = s.claim_due(claim(false)).await.unwrap();
    assert_eq!(keys(&due), ["a1", "b1", "a2"], "due calls, in stored order");
    assert_eq!(due[0].payload, Bytes::from("payload of a1"));
    assert_eq!(due[0].path, "/test.Counter/Increment");
    // Each call keeps the trace context it was stored with.
    assert_eq!(due[0].trace.as_deref(), Some(trace));
    assert_eq!(
        (due[1].trace.as_deref(), due[2].trace.as_deref()),
        (None, None)
    );
    // Claimed: not due again until the hold lapses.
    assert!(s.claim_due(claim(false)).await.unwrap().is_empty());
    let next = s.next_due().await.unwrap().expect("calls are stored");
    assert!(
        next > Duration::from_secs(25),
        "the earliest is a claim: {next:?}"
    );
    s.complete(vec!["a1".into(), "b1".into(), "a2".into()])
        .await
        .unwrap();
    let left = s.list_scheduled(10).await.unwrap();
    assert_eq!(keys(&left), ["later"]);
    assert_eq!(left[0].name.as_deref(), Some("t-later"));
    assert_eq!(left[0].max_retries, Some(2));
    assert_eq!(left[0].trace.as_deref(), Some(trace));
    assert!(left[0].due_in_ms > 55_000 && left[0].due_in_ms <= 60_000);
}

pub async fn calls_due_soon_are_claimed_ahead_with_their_wait(b: &Backend) {
    let s = &b.storage;
    let started = std::time::Instant::now();
    s.schedule(vec![
        ScheduleOp::Put(call("soon", Some("soon"), "timer:soon", 2_000)),
        ScheduleOp::Put(call("late", Some("late"), "timer:late", 60_000)),
    ])
    .await
    .unwrap();
    let ahead = Claim {
        ahead: Duration::from_secs(5),
        ..claim(false)
    };
    let taken = s.claim_due(ahead).await.unwrap();
    assert_eq!(keys(&taken), ["soon"]);
    let wait = taken[0].due_in_ms;
    // The wait is what is left of the 2 s: no more, and no less than what
    // has passed here since scheduling (with a little slack for clock reads).
    let passed = started.elapsed().as_millis() as i64;
    assert!(
        wait <= 2_001 && wait + passed + 50 >= 2_000,
        "waits until it is due: {wait} ms after {passed} ms"
    );
    assert!(s.claim_due(ahead).await.unwrap().is_empty(), "claimed once");
}

pub async fn orphans_are_claimed_before_they_are_due(b: &Backend) {
    let s = &b.storage;
    s.schedule(vec![
        ScheduleOp::Put(call("side", None, "entity:a", 30_000)),
        ScheduleOp::Put(call("timer", Some("t"), "timer:t", 30_000)),
    ])
    .await
    .unwrap();
    assert!(s.claim_due(claim(false)).await.unwrap().is_empty());
    // A backend served by one process may take over outbox entries at once;
    // timers wait for their due time everywhere.
    let taken = s.claim_due(claim(true)).await.unwrap();
    if s.shared() {
        assert!(taken.is_empty(), "a shared backend keeps others' claims");
    } else {
        assert_eq!(keys(&taken), ["side"]);
    }
}

pub async fn a_timer_of_the_same_name_replaces_the_older(b: &Backend) {
    let s = &b.storage;
    let mut old = call("old", Some("t"), "timer:t", 0);
    old.trace = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned());
    s.schedule(vec![ScheduleOp::Put(old)]).await.unwrap();
    s.schedule(vec![ScheduleOp::Put(call("new", Some("t"), "timer:t", 0))])
        .await
        .unwrap();
    let due = s.claim_due(claim(false)).await.unwrap();
    assert_eq!(keys(&due), ["new"]);
    assert_eq!(
        due[0].trace, None,
        "the new timer's (lack of) trace context"
    );
    // The old call's retry finds it gone, and changes nothing.
    assert!(
        !s.retry_later("old", 1, "boom", Duration::ZERO)
            .await
            .unwrap()
    );
    // Several changes to one name in one batch: the last counts.
    s.schedule(vec![
        ScheduleOp::Put(call("x1", Some("x"), "timer:x", 0)),
        ScheduleOp::Cancel("x".into()),
        ScheduleOp::Put(call("x2", Some("x"), "timer:x", 0)),
        ScheduleOp::Put(call("y1", Some("y"), "timer:y", 0)),
        ScheduleOp::Cancel("y".into()),
    ])
    .await
    .unwrap();
    let listed = s.list_scheduled(10).await.unwrap();
    let names: HashSet<(&str, Option<&str>)> = listed
        .iter()
        .map(|c| (c.key.as_str(), c.name.as_deref()))
        .collect();
    assert_eq!(
        names,
        HashSet::from([("new", Some("t")), ("x2", Some("x"))])
    );
}

pub async fn cancel_removes_a_timer(b: &Backend) {
    let s = &b.storage;
    s.schedule(vec![ScheduleOp::Put(call("k", Some("t"), "timer:t", 0))])
        .await
        .unwrap();
    s.schedule(vec![ScheduleOp::Cancel("t".into())])
        .await
        .unwrap();
    assert!(s.claim_due(claim(false)).await.unwrap().is_empty());
    assert_eq!(s.next_due().await.unwrap(), None);
    // Cancelling what is not there is no error.
    s.schedule(vec![ScheduleOp::Cancel("never".into())])
        .await
        .unwrap();
}

pub async fn a_retry_records_attempts_and_postpones(b: &Backend) {
    let s = &b.storage;
    s.schedule(vec![ScheduleOp::Put(call("k", Some("t"), "timer:t", 0))])
        .await
        .unwrap();
    assert_eq!(s.claim_due(claim(false)).await.unwrap().len(), 1);
    assert!(
        s.retry_later("k", 1, "UNAVAILABLE: down", Duration::ZERO)
            .await
            .unwrap()
    );
    let again = s.claim_due(claim(false)).await.unwrap();
    assert_eq!(keys(&again), ["k"]);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("UNAVAILABLE: down"));
    assert!(
        s.retry_later("k", 2, "again", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(s.claim_due(claim(false)).await.unwrap().is_empty());
}

pub async fn schedule_changes_commit_with_entity_writes_only(b: &Backend) {
    let s = &b.storage;
    let mut write = state("counter", "a", 0, Some("one"));
    write.schedule = vec![
        ScheduleOp::Put(call("with-write", None, "entity:a", 0)),
        ScheduleOp::Put(call("timer", Some("t"), "timer:t", 0)),
    ];
    s.write_state(write).await.unwrap();
    // A write whose fence fails stores none of its schedule changes.
    let mut stale = state("counter", "a", 0, Some("stale"));
    stale.schedule = vec![
        ScheduleOp::Put(call("lost", None, "entity:a", 0)),
        ScheduleOp::Cancel("t".into()),
    ];
    assert!(s.write_state(stale).await.is_err());
    let mut second = state("counter", "a", 1, Some("two"));
    second.schedule = vec![ScheduleOp::Put(call("second", None, "entity:a", 0))];
    s.write_state(second).await.unwrap();
    let mut events = append("j", 0, &["e1"]);
    events.schedule = vec![ScheduleOp::Put(call("with-events", None, "entity:j", 0))];
    s.append_events(events).await.unwrap();
    let mut stale_events = append("j", 0, &["e1 again"]);
    stale_events.schedule = vec![ScheduleOp::Put(call("lost-events", None, "entity:j", 0))];
    assert!(s.append_events(stale_events).await.is_err());

    let due = s.claim_due(claim(false)).await.unwrap();
    assert_eq!(keys(&due), ["with-write", "timer", "second", "with-events"]);
}

pub async fn writes_with_and_without_schedules_batch_together(b: &Backend) {
    let s = b.storage.clone();
    let writes = (0..40).map(|i| {
        let s = s.clone();
        async move {
            let mut write = state("counter", &format!("e{i}"), 0, Some("v"));
            if i % 2 == 0 {
                write.schedule = vec![ScheduleOp::Put(call(
                    &format!("k{i}"),
                    None,
                    &format!("entity:e{i}"),
                    0,
                ))];
            }
            s.write_state(write).await
        }
    });
    for result in futures::future::join_all(writes).await {
        assert_eq!(result.unwrap(), 1);
    }
    let due = s.claim_due(claim(false)).await.unwrap();
    let mut got: Vec<&str> = keys(&due);
    got.sort_unstable();
    let mut want: Vec<String> = (0..40).step_by(2).map(|i| format!("k{i}")).collect();
    want.sort_unstable();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}
