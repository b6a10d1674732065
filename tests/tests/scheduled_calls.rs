//! The outbox and timers over a real service process: a side effect
//! committed before a SIGKILL is delivered after the restart, timers fire
//! across restarts, once when replaced, never when cancelled, and a failing
//! timer is dropped after its retries with a log line naming it. On
//! PostgreSQL, two processes fire each timer once.

use std::path::Path;
use std::time::Duration;

use plinth_tests::fixture::{CounterState, EchoReply, EchoRequest, Increment};
use plinth_tests::grpc::{connect, unary};
use plinth_tests::process::ServiceProcess;
use plinth_tests::views::eventually;
use serde_json::Value;
use tonic::transport::Channel;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

async fn start(dir: &Path) -> ServiceProcess {
    ServiceProcess::start(Path::new(FIXTURE), dir).await
}

async fn counter(channel: &Channel, id: &str) -> i64 {
    let get = Increment {
        id: id.to_string(),
        by: 0,
    };
    let state: CounterState = unary(channel, "/test.Counter/Get", get).await.unwrap();
    state.value
}

async fn echo(channel: &Channel, path: &'static str, text: &str, count: u32) {
    let request = EchoRequest {
        text: text.to_string(),
        count,
    };
    let _: EchoReply = unary(channel, path, request).await.unwrap();
}

/// `GET /_plinth/scheduled`.
async fn scheduled(base: &str) -> Value {
    reqwest::get(format!("{base}/_plinth/scheduled"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn calls(status: &Value) -> &Vec<Value> {
    status["calls"].as_array().expect("a list of calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_effect_committed_before_a_kill_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    // The side effect sleeps 5 s before it increments `audit-a`.
    let increment = Increment {
        id: "a".into(),
        by: 5,
    };
    let state: CounterState = unary(&channel, "/test.Counter/IncrementWithSlowAudit", increment)
        .await
        .unwrap();
    assert_eq!(state.value, 5);
    let pending = scheduled(&process.url()).await;
    let pending = calls(&pending);
    assert_eq!(
        pending.len(),
        1,
        "the side effect waits in the outbox: {pending:?}"
    );
    assert_eq!(pending[0]["kind"], "side_effect");
    assert_eq!(pending[0]["method"], "/test.Echo/SlowRelay");
    assert_eq!(pending[0]["lane"], "entity:counters/a");
    // Killed while the side effect is under way.
    process.kill();

    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    assert_eq!(counter(&channel, "a").await, 5);
    eventually("the side effect after the restart", || {
        let channel = channel.clone();
        async move { (counter(&channel, "audit-a").await == 1).then_some(()) }
    })
    .await;
    let status = eventually("the outbox to empty", || {
        let url = process.url();
        async move {
            let status = scheduled(&url).await;
            calls(&status).is_empty().then_some(status)
        }
    })
    .await;
    assert_eq!(status["delivered"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_after_a_write_is_made_once_and_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    let quick = Increment {
        id: "q".into(),
        by: 0,
    };
    let reply: EchoReply = unary(&channel, "/test.Counter/IncrementThenForward", quick)
        .await
        .unwrap();
    assert_eq!(reply.text, "1", "the forwarded call's reply");
    eventually("the forward's row to go", || {
        let url = process.url();
        async move { calls(&scheduled(&url).await).is_empty().then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter(&channel, "forwarded-q").await, 1, "made once");

    // A forward that takes 5 s, cut off by a SIGKILL after the write.
    let slow = Increment {
        id: "s".into(),
        by: 5,
    };
    let call = tokio::spawn({
        let channel = channel.clone();
        async move { unary::<_, EchoReply>(&channel, "/test.Counter/IncrementThenForward", slow).await }
    });
    eventually("the stored forward", || {
        let url = process.url();
        async move {
            let status = scheduled(&url).await;
            calls(&status)
                .iter()
                .any(|call| call["method"] == "/test.Echo/SlowRelay")
                .then_some(())
        }
    })
    .await;
    process.kill();
    assert!(call.await.unwrap().is_err(), "the caller lost its reply");
    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    assert_eq!(
        counter(&channel, "s").await,
        5,
        "the write was acknowledged to storage"
    );
    eventually("the forward after the restart", || {
        let channel = channel.clone();
        async move { (counter(&channel, "forwarded-s").await == 1).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_due_during_a_restart_fires_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    echo(&channel, "/test.Echo/Remind", "restart", 1_000).await;
    let listed = scheduled(&process.url()).await;
    assert_eq!(calls(&listed).len(), 1);
    assert_eq!(calls(&listed)[0]["timer"], "restart");
    process.kill();
    // Due while nothing runs.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    eventually("the timer after the restart", || {
        let channel = channel.clone();
        async move { (counter(&channel, "restart").await == 1).then_some(()) }
    })
    .await;
    eventually("the fired timer to be removed", || {
        let url = process.url();
        async move { calls(&scheduled(&url).await).is_empty().then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_timers_never_fire_and_replaced_ones_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path()).await;
    let channel = connect(&process.url()).await;
    echo(&channel, "/test.Echo/Remind", "cancelled", 300).await;
    echo(&channel, "/test.Echo/CancelReminder", "cancelled", 0).await;
    echo(&channel, "/test.Echo/Remind", "replaced", 300).await;
    echo(&channel, "/test.Echo/Remind", "replaced", 600).await;
    // From an entity command that changes nothing: committed on its own.
    let later = Increment {
        id: "entity".into(),
        by: 7,
    };
    let _: CounterState = unary(&channel, "/test.Counter/RemindLater", later)
        .await
        .unwrap();
    eventually("the replaced timer and the entity's timer", || {
        let channel = channel.clone();
        async move {
            let fired =
                counter(&channel, "replaced").await == 1 && counter(&channel, "entity").await == 7;
            fired.then_some(())
        }
    })
    .await;
    // Well past every due time: nothing fired twice, the cancelled one never.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(counter(&channel, "replaced").await, 1);
    assert_eq!(counter(&channel, "entity").await, 7);
    assert_eq!(counter(&channel, "cancelled").await, 0);
    assert!(calls(&scheduled(&process.url()).await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_failing_beyond_its_retries_is_dropped_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let process = ServiceProcess::start_logging(Path::new(FIXTURE), dir.path(), &[], &log).await;
    let channel = connect(&process.url()).await;
    // Its call is refused every time; `max_retries: 2` allows three attempts
    // (backoff 3 s, then 6 s).
    echo(&channel, "/test.Echo/Remind", "failing", 0).await;
    let retried = eventually("a recorded retry", || {
        let url = process.url();
        async move {
            let status = scheduled(&url).await;
            let call = calls(&status).first().cloned()?;
            (call["attempts"] == 1).then_some(call)
        }
    })
    .await;
    assert_eq!(retried["timer"], "failing");
    assert_eq!(retried["max_retries"], 2);
    let error = retried["last_error"].as_str().unwrap();
    assert!(error.contains("by must not be negative"), "{error}");

    let mut dropped = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = scheduled(&process.url()).await;
        if calls(&status).is_empty() {
            assert_eq!(status["dropped"], 1);
            assert_eq!(status["retried"], 2);
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the timer was not dropped within 15 s");
    assert_eq!(counter(&channel, "failing").await, 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("timer failed too often; dropped"))
        .unwrap_or_else(|| panic!("no log line for the dropped timer in:\n{text}"));
    assert!(
        line.contains("failing") && line.contains("attempts=3"),
        "{line}"
    );
    assert!(line.contains("ERROR"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_fire_each_timer_once() {
    let Some(url) =
        plinth_tests::postgres::fresh_database("two_processes_on_postgres_fire_each_timer_once")
            .await
    else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let topics = dir_a.path().join("topics.db");
    let env = [
        ("PLINTH_STORAGE", url.as_str()),
        ("PLINTH_TOPICS", topics.to_str().unwrap()),
    ];
    let a = ServiceProcess::start_with(Path::new(FIXTURE), dir_a.path(), &env).await;
    let b = ServiceProcess::start_with(Path::new(FIXTURE), dir_b.path(), &env).await;
    let (channel_a, channel_b) = (connect(&a.url()).await, connect(&b.url()).await);
    for i in 0..40u32 {
        let channel = if i % 2 == 0 { &channel_a } else { &channel_b };
        echo(
            channel,
            "/test.Echo/Remind",
            &format!("pg-{i}"),
            200 + 20 * i,
        )
        .await;
    }
    eventually("every timer", || {
        let channel = channel_a.clone();
        async move {
            for i in 0..40 {
                if counter(&channel, &format!("pg-{i}")).await < 1 {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..40 {
        assert_eq!(
            counter(&channel_b, &format!("pg-{i}")).await,
            1,
            "timer pg-{i}"
        );
    }
    assert!(calls(&scheduled(&a.url()).await).is_empty());
    drop((a, b));
}
