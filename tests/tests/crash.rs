//! Crash safety of a real service process: under concurrent write load it is
//! killed with SIGKILL; after a restart every acknowledged write is there and
//! every event journal is gapless. The load spreads over a few entities, or
//! all goes to one hot entity, whose commits are pipelined.

use plinth::storage::EntityStore;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::uri::PathAndQuery;
use plinth::storage::{SqliteOptions, SqliteStorage};
use plinth_tests::fixture::{CounterState, Increment};
use plinth_tests::process::ServiceProcess;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

async fn increment(channel: &Channel, path: &'static str, id: &str) -> Result<i64, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let request = tonic::Request::new(Increment {
        id: id.to_string(),
        by: 1,
    });
    let reply = client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await?;
    Ok(reply.into_inner().value)
}

/// Per entity, every value a reply acknowledged.
type Acknowledged = Arc<Mutex<HashMap<String, Vec<i64>>>>;

/// The highest acknowledged value per entity.
fn highest(acknowledged: &Acknowledged) -> HashMap<String, i64> {
    let acknowledged = acknowledged.lock().unwrap();
    acknowledged
        .iter()
        .map(|(id, values)| (id.clone(), values.iter().copied().max().unwrap_or(0)))
        .collect()
}

/// `writers` clients incrementing `ids` entities through `path` in a loop,
/// until the process goes away.
async fn load(
    process: &ServiceProcess,
    path: &'static str,
    (writers, ids): (usize, usize),
    acknowledged: Acknowledged,
) {
    let channel = tonic::transport::Endpoint::from_shared(process.url())
        .unwrap()
        .connect_lazy();
    for writer in 0..writers {
        let channel = channel.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            let id = format!("w{}", writer % ids);
            while let Ok(value) = increment(&channel, path, &id).await {
                let mut acknowledged = acknowledged.lock().unwrap();
                acknowledged.entry(id.clone()).or_default().push(value);
            }
        });
    }
}

async fn read(process: &ServiceProcess, path: &'static str, id: &str) -> i64 {
    let channel = tonic::transport::Endpoint::from_shared(process.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let request = tonic::Request::new(Increment {
        id: id.to_string(),
        by: 0,
    });
    client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await
        .unwrap()
        .into_inner()
        .value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start(Path::new(FIXTURE), dir.path()).await;
    let values: Acknowledged = Arc::default();
    let events: Acknowledged = Arc::default();
    load(&process, "/test.Counter/Increment", (16, 8), values.clone()).await;
    load(
        &process,
        "/test.EsCounter/Increment",
        (16, 8),
        events.clone(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    process.kill();
    // Writers see the connection drop and stop; take the acknowledged figures.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let values = highest(&values);
    let events = highest(&events);
    assert!(
        values.values().sum::<i64>() > 50,
        "the load ran: {values:?}"
    );
    assert!(
        events.values().sum::<i64>() > 50,
        "the load ran: {events:?}"
    );

    let process = ServiceProcess::start(Path::new(FIXTURE), dir.path()).await;
    for (id, acknowledged) in &values {
        let value = read(&process, "/test.Counter/Get", id).await;
        assert!(
            value >= *acknowledged,
            "{id}: stored {value}, acknowledged {acknowledged}"
        );
    }
    for (id, acknowledged) in &events {
        let value = read(&process, "/test.EsCounter/Get", id).await;
        assert!(
            value >= *acknowledged,
            "{id}: replayed {value}, acknowledged {acknowledged}"
        );
    }
    process.kill();
    assert_gapless(dir.path(), events.keys()).await;
}

/// Every event journal of `ids` in the data directory `dir` is gapless.
async fn assert_gapless(dir: &Path, ids: impl Iterator<Item = &String>) {
    let storage = SqliteStorage::open(dir.join("plinth.db"), SqliteOptions::default()).unwrap();
    for id in ids {
        let replay = storage.load_journal("es-counters", id).await.unwrap();
        let first = replay.snapshot.as_ref().map_or(0, |(seq, _)| *seq);
        for (i, event) in replay.events.iter().enumerate() {
            assert_eq!(event.seq, first + 1 + i as u64, "{id}: journal gap");
        }
    }
}

/// One hot entity per component, 64 writers each, killed three times: no
/// reply value is ever acknowledged twice (a lost acknowledged write would
/// let a later increment reach its value again), and after each restart the
/// entity holds at least every acknowledged increment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_entity_loses_no_acknowledged_write_to_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let values: Acknowledged = Arc::default();
    let events: Acknowledged = Arc::default();
    for round in 0..=3 {
        let process = ServiceProcess::start(Path::new(FIXTURE), dir.path()).await;
        for (path, acknowledged) in [
            ("/test.Counter/Get", &values),
            ("/test.EsCounter/Get", &events),
        ] {
            for (id, highest) in highest(acknowledged) {
                let stored = read(&process, path, &id).await;
                assert!(
                    stored >= highest,
                    "round {round}, {path} {id}: stored {stored}, acknowledged {highest}"
                );
            }
        }
        if round == 3 {
            process.kill();
            break;
        }
        load(&process, "/test.Counter/Increment", (64, 1), values.clone()).await;
        load(
            &process,
            "/test.EsCounter/Increment",
            (64, 1),
            events.clone(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        process.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for acknowledged in [&values, &events] {
        let acknowledged = acknowledged.lock().unwrap();
        let hot = acknowledged.get("w0").expect("the load ran");
        assert!(hot.len() > 100, "the load ran: {} replies", hot.len());
        let mut distinct = hot.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), hot.len(), "a value was acknowledged twice");
    }
    assert_gapless(dir.path(), [String::from("w0")].iter()).await;
}
