//! Action subscriptions to a value entity, in one process over real sockets:
//! every change reaches the subscribed action in per-entity order and its
//! result is published with CloudEvents attributes; a failing handler holds
//! back only its own entity and is retried until it succeeds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use counter::Counter;
use counter::counter::{
    CounterChanged, CounterEntityComponent, CounterEventsAction, CounterEventsActionComponent,
    CounterState,
};
use plinth::eventing::{SqliteTopics, Topics};
use plinth::{ActionContext, Caller, Config, RunningService, Status};
use plinth_tests::eventing::{eventually, read_all};
use prost::Message;

/// One delivery: the subject, the value, the `ce-id`.
type Seen = (String, i64, String);

/// A subscribed action that records what it is given, and fails on demand.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `(subject, value)`: fail that delivery this many times at least...
    fail_times: Arc<Mutex<HashMap<(String, i64), u32>>>,
    /// ...and for as long as this is set.
    hold: Arc<AtomicBool>,
    failures: Arc<AtomicU32>,
    /// Deliveries whose context did not say the runtime was calling.
    not_from_runtime: Arc<AtomicU32>,
}

impl Recorder {
    fn seen_of(&self, subject: &str) -> Vec<i64> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(s, _, _)| s == subject)
            .map(|(_, value, _)| *value)
            .collect()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl CounterEventsAction for Recorder {
    async fn on_changed(
        &self,
        message: CounterState,
        ctx: ActionContext,
    ) -> Result<CounterChanged, Status> {
        let subject = ctx.event_subject().unwrap_or_default().to_owned();
        if ctx.caller() != Caller::Runtime || ctx.jwt_claims().is_some() {
            self.not_from_runtime.fetch_add(1, Ordering::SeqCst);
        }
        {
            let mut fail = self.fail_times.lock().unwrap();
            if let Some(left) = fail.get_mut(&(subject.clone(), message.value))
                && (*left > 0 || self.hold.load(Ordering::SeqCst))
            {
                *left = left.saturating_sub(1);
                self.failures.fetch_add(1, Ordering::SeqCst);
                return Err(Status::unavailable("injected failure"));
            }
        }
        let id = ctx.metadata().get("ce-id").unwrap_or_default().to_owned();
        self.seen
            .lock()
            .unwrap()
            .push((subject.clone(), message.value, id));
        Ok(CounterChanged {
            counter_id: subject,
            value: message.value,
        })
    }
}

async fn start(dir: &Path, recorder: Recorder, topics: Arc<dyn Topics>) -> RunningService {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(recorder))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.join("plinth.db")),
        )
        .topics(topics)
        .start()
        .await
        .expect("the counter service starts")
}

/// Increase `counter` by one, `times` times, one after another, over HTTP.
async fn increase(base: &str, counter: &str, times: usize) {
    let http = reqwest::Client::new();
    for _ in 0..times {
        let reply = http
            .post(format!("{base}/counters/{counter}/increase"))
            .json(&serde_json::json!({ "amount": 1 }))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_every_change_reaches_the_action_in_order_and_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let topics: Arc<dyn Topics> =
        Arc::new(SqliteTopics::open(dir.path().join("topics.db")).unwrap());
    let recorder = Recorder::default();
    let service = start(dir.path(), recorder.clone(), topics.clone()).await;
    let base = format!("http://{}", service.local_addr());

    const COUNTERS: usize = 4;
    const CHANGES: usize = 25;
    let writers: Vec<_> = (0..COUNTERS)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move { increase(&base, &format!("c{i}"), CHANGES).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    eventually("every change delivered", || async {
        recorder.count() >= COUNTERS * CHANGES
    })
    .await;
    let expected: Vec<i64> = (1..=CHANGES as i64).collect();
    for i in 0..COUNTERS {
        assert_eq!(recorder.seen_of(&format!("c{i}")), expected, "counter c{i}");
    }
    // The handler saw each change's identity: type, entity, sequence.
    let seen = recorder.seen.lock().unwrap().clone();
    assert!(seen.contains(&("c0".into(), 3, "counters/c0/3".into())));
    // ...and that the runtime delivered it, with no token claims.
    assert_eq!(recorder.not_from_runtime.load(Ordering::SeqCst), 0);

    eventually("every result published", || async {
        read_all(&*topics, "counter-events").await.len() >= COUNTERS * CHANGES
    })
    .await;
    let messages = read_all(&*topics, "counter-events").await;
    assert_eq!(messages.len(), COUNTERS * CHANGES);
    let mut per_counter: HashMap<String, Vec<i64>> = HashMap::new();
    for (index, stored) in messages.iter().enumerate() {
        assert_eq!(stored.position, index as u64 + 1);
        let metadata = &stored.message.metadata;
        let changed = CounterChanged::decode(stored.message.payload.clone()).unwrap();
        assert_eq!(metadata.get("ce-specversion"), Some("1.0"));
        assert_eq!(metadata.get("ce-type"), Some("counter.CounterChanged"));
        assert_eq!(metadata.get("ce-source"), Some("counter.CounterEvents"));
        assert_eq!(
            metadata.get("ce-subject"),
            Some(changed.counter_id.as_str())
        );
        let id = format!("counters/{}/{}", changed.counter_id, changed.value);
        assert_eq!(metadata.get("ce-id"), Some(id.as_str()));
        assert_eq!(metadata.get("content-type"), Some("application/protobuf"));
        assert!(metadata.get("ce-time").is_some_and(|t| t.ends_with('Z')));
        per_counter
            .entry(changed.counter_id)
            .or_default()
            .push(changed.value);
    }
    for i in 0..COUNTERS {
        assert_eq!(per_counter[&format!("c{i}")], expected, "published c{i}");
    }
    let status = &service.subscriptions()[0];
    assert_eq!(
        status.name,
        "eventing:counter.CounterEvents:value_entity:counters"
    );
    assert_eq!(status.delivered, (COUNTERS * CHANGES) as u64);
    assert_eq!(status.failures, 0);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_a_failing_handler_holds_back_only_its_entity() {
    let dir = tempfile::tempdir().unwrap();
    let topics: Arc<dyn Topics> =
        Arc::new(SqliteTopics::open(dir.path().join("topics.db")).unwrap());
    let recorder = Recorder::default();
    recorder
        .fail_times
        .lock()
        .unwrap()
        .insert(("stuck".into(), 1), 3);
    recorder.hold.store(true, Ordering::SeqCst);
    let service = start(dir.path(), recorder.clone(), topics.clone()).await;
    let base = format!("http://{}", service.local_addr());

    increase(&base, "stuck", 5).await;
    increase(&base, "free-a", 10).await;
    increase(&base, "free-b", 10).await;
    // The other counters flow while the stuck one fails again and again.
    eventually("the free counters delivered", || async {
        recorder.seen_of("free-a").len() == 10 && recorder.seen_of("free-b").len() == 10
    })
    .await;
    eventually("three failures", || async {
        recorder.failures.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert!(
        recorder.seen_of("stuck").is_empty(),
        "nothing of the stuck counter skipped ahead"
    );
    // Between attempts the entity waits out its backoff.
    eventually("the stuck counter waits to retry", || async {
        service.subscriptions()[0].retrying_entities == 1
    })
    .await;

    recorder.hold.store(false, Ordering::SeqCst);
    eventually("the stuck counter delivered", || async {
        recorder.seen_of("stuck").len() == 5
    })
    .await;
    assert_eq!(recorder.seen_of("stuck"), vec![1, 2, 3, 4, 5]);
    assert_eq!(recorder.seen_of("free-a"), (1..=10).collect::<Vec<_>>());
    let status = &service.subscriptions()[0];
    assert!(status.failures >= 3, "{status:?}");
    assert_eq!(
        u64::from(recorder.failures.load(Ordering::SeqCst)),
        status.failures
    );
    // The failed delivery published nothing; the retried one published once.
    let published = read_all(&*topics, "counter-events").await;
    let stuck_first = published
        .iter()
        .filter(|m| m.message.metadata.get("ce-id") == Some("counters/stuck/1"))
        .count();
    assert_eq!(stuck_first, 1);
    service.shutdown().await;
}
