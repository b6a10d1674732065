//! Crash safety of a real service process: under concurrent write load it is
//! killed with SIGKILL; after a restart every acknowledged write is there and
//! every event journal is gapless.

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

/// Per entity, the highest value a reply acknowledged.
type Acknowledged = Arc<Mutex<HashMap<String, i64>>>;

async fn load(
    process: &ServiceProcess,
    path: &'static str,
    writers: usize,
    acknowledged: Acknowledged,
) {
    let channel = tonic::transport::Endpoint::from_shared(process.url())
        .unwrap()
        .connect_lazy();
    for writer in 0..writers {
        let channel = channel.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            let id = format!("w{}", writer % 8);
            while let Ok(value) = increment(&channel, path, &id).await {
                let mut acknowledged = acknowledged.lock().unwrap();
                let entry = acknowledged.entry(id.clone()).or_default();
                *entry = (*entry).max(value);
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
    load(&process, "/test.Counter/Increment", 16, values.clone()).await;
    load(&process, "/test.EsCounter/Increment", 16, events.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    process.kill();
    // Writers see the connection drop and stop; take the acknowledged figures.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let values = values.lock().unwrap().clone();
    let events = events.lock().unwrap().clone();
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

    let storage =
        SqliteStorage::open(dir.path().join("plinth.db"), SqliteOptions::default()).unwrap();
    for id in events.keys() {
        let replay = storage.load_journal("es-counters", id).await.unwrap();
        let first = replay.snapshot.as_ref().map_or(0, |(seq, _)| *seq);
        for (i, event) in replay.events.iter().enumerate() {
            assert_eq!(event.seq, first + 1 + i as u64, "{id}: journal gap");
        }
    }
}
