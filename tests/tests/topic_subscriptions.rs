//! Topic round trips, the same suite over the embedded log and over NATS
//! JetStream: the counter service publishes (method results, and explicit
//! publishes with a `${ENV}` topic) and a second service subscribed to the
//! topic receives every message with its CloudEvents attributes in its
//! context; JSON payloads are decoded too.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use counter::Counter;
use counter::counter::{
    CounterChanged, CounterEntityComponent, CounterEventsAction, CounterEventsActionComponent,
    CounterState,
};
use counter_totals::totals::{self as totals, CounterEventsConsumerAction};
use plinth::eventing::{NatsTopics, SqliteTopics, TopicMessage, Topics};
use plinth::{ActionContext, Config, Metadata, RunningService, Status};
use plinth_tests::eventing::{NatsServer, eventually, read_all};

/// The counter's action, also publishing each change explicitly to
/// `audit-${CARGO_PKG_NAME}` (cargo sets the variable for tests).
struct Auditing;

impl CounterEventsAction for Auditing {
    async fn on_changed(
        &self,
        message: CounterState,
        ctx: ActionContext,
    ) -> Result<CounterChanged, Status> {
        let changed = CounterChanged {
            counter_id: ctx.event_subject().unwrap_or_default().to_owned(),
            value: message.value,
        };
        ctx.publish(
            "audit-${CARGO_PKG_NAME}",
            "counter.CounterChanged",
            &changed,
        )
        .await?;
        Ok(changed)
    }
}

/// A consumer of `counter-events` keeping each message and its metadata.
#[derive(Clone, Default)]
struct Keeper {
    got: Arc<Mutex<Vec<(totals::CounterChanged, Metadata)>>>,
}

impl CounterEventsConsumerAction for Keeper {
    async fn on_counter_changed(
        &self,
        message: totals::CounterChanged,
        ctx: ActionContext,
    ) -> Result<(), Status> {
        self.got
            .lock()
            .unwrap()
            .push((message, ctx.metadata().clone()));
        Ok(())
    }
}

fn config(db: &Path) -> Config {
    Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(db)
}

async fn producer(dir: &Path, topics: Arc<dyn Topics>) -> RunningService {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(Auditing))
        .config(config(&dir.join("producer.db")))
        .topics(topics)
        .start()
        .await
        .expect("the producer starts")
}

async fn consumer(dir: &Path, topics: Arc<dyn Topics>, keeper: Keeper) -> RunningService {
    plinth::Service::new()
        .with(totals::CounterEventsConsumerActionComponent::new(keeper))
        .config(config(&dir.join("consumer.db")))
        .topics(topics)
        .start()
        .await
        .expect("the consumer starts")
}

async fn round_trip(dir: &Path, producing: Arc<dyn Topics>, consuming: Arc<dyn Topics>) {
    let keeper = Keeper::default();
    let producer = producer(dir, producing.clone()).await;
    let consumer = consumer(dir, consuming.clone(), keeper.clone()).await;
    let http = reqwest::Client::new();
    for (counter, times) in [("r1", 3), ("r2", 2)] {
        for _ in 0..times {
            let reply = http
                .post(format!(
                    "http://{}/counters/{counter}/increase",
                    producer.local_addr()
                ))
                .json(&serde_json::json!({ "amount": 2 }))
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_success());
        }
    }
    // A JSON message from another producer.
    let json = TopicMessage {
        metadata: Metadata::new()
            .with("ce-id", "external-1")
            .with("ce-type", "totals.CounterChanged")
            .with("ce-source", "/elsewhere")
            .with("ce-subject", "j1")
            .with("content-type", "application/json"),
        payload: Bytes::from_static(br#"{"counterId": "j1", "value": "7"}"#),
    };
    producing.publish("counter-events", json).await.unwrap();

    eventually("every message consumed", || async {
        keeper.got.lock().unwrap().len() >= 6
    })
    .await;
    let got = keeper.got.lock().unwrap().clone();
    assert_eq!(got.len(), 6);
    let values = |id: &str| -> Vec<i64> {
        got.iter()
            .filter(|(m, _)| m.counter_id == id)
            .map(|(m, _)| m.value)
            .collect()
    };
    assert_eq!(values("r1"), [2, 4, 6]);
    assert_eq!(values("r2"), [2, 4]);
    assert_eq!(values("j1"), [7]);
    let (first, metadata) = got.iter().find(|(m, _)| m.counter_id == "r1").unwrap();
    assert_eq!(first.value, 2);
    assert_eq!(metadata.get("ce-id"), Some("counters/r1/1"));
    assert_eq!(metadata.get("ce-type"), Some("counter.CounterChanged"));
    assert_eq!(metadata.get("ce-source"), Some("counter.CounterEvents"));
    assert_eq!(metadata.get("ce-subject"), Some("r1"));
    assert_eq!(metadata.get("ce-specversion"), Some("1.0"));
    assert!(metadata.get("ce-time").is_some_and(|t| t.len() >= 20));
    assert_eq!(metadata.get("content-type"), Some("application/protobuf"));
    assert_eq!(metadata.get("plinth-topic"), Some("counter-events"));
    let (_, external) = got.iter().find(|(m, _)| m.counter_id == "j1").unwrap();
    assert_eq!(external.get("ce-source"), Some("/elsewhere"));

    // The explicit publishes went to the expanded topic, with their own ids.
    let audit = read_all(&*consuming, "audit-plinth-tests").await;
    assert_eq!(audit.len(), 5);
    for stored in &audit {
        let metadata = &stored.message.metadata;
        assert_eq!(metadata.get("ce-source"), Some("counter.CounterEvents"));
        assert!(
            metadata
                .get("ce-subject")
                .is_some_and(|s| s.starts_with('r'))
        );
        assert!(!metadata.get("ce-id").unwrap().starts_with("counters/"));
    }
    producer.shutdown().await;
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_round_trip_over_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topics.db");
    // Two handles on one file: like two processes sharing the log.
    let producing: Arc<dyn Topics> = Arc::new(SqliteTopics::open(&path).unwrap());
    let consuming: Arc<dyn Topics> = Arc::new(SqliteTopics::open(&path).unwrap());
    round_trip(dir.path(), producing, consuming).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_round_trip_over_nats_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(&dir.path().join("nats")).await else {
        return;
    };
    let producing: Arc<dyn Topics> = Arc::new(NatsTopics::connect(&nats.url()).await.unwrap());
    let consuming: Arc<dyn Topics> = Arc::new(NatsTopics::connect(&nats.url()).await.unwrap());
    round_trip(dir.path(), producing, consuming).await;
}
