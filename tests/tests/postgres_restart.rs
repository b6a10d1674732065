//! PostgreSQL restarting under load (`pg_ctl restart`): during the outage
//! callers get `UNAVAILABLE`, never a wrong answer or a hang past their
//! deadline, and the service serves again once the database is back, without
//! a restart of its own. Its own test binary: it restarts the shared test
//! server, so nothing else may run against it meanwhile.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::uri::PathAndQuery;
use plinth_tests::fixture::{CounterState, Increment};
use plinth_tests::postgres::fresh_database;
use plinth_tests::process::ServiceProcess;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

async fn call(channel: &Channel, path: &'static str, by: i64) -> Result<i64, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(Increment {
        id: "c".to_string(),
        by,
    });
    request.set_timeout(Duration::from_secs(15));
    client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await
        .map(|reply| reply.into_inner().value)
}

fn restart_postgres() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres.sh");
    let status = std::process::Command::new("bash")
        .arg(script)
        .arg("restart")
        .status()
        .expect("postgres.sh runs");
    assert!(status.success(), "pg_ctl restart failed: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_is_an_outage_not_an_error() {
    let Some(url) = fresh_database("a_postgres_restart_under_load_is_an_outage_not_an_error").await
    else {
        return;
    };
    if std::env::var_os("PLINTH_TEST_PGDATA").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "PLINTH_TEST_PGDATA must name the test server under CI"
        );
        eprintln!("skipped: the test server was not started by .ci/postgres.sh");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topics = dir.path().join("topics.db");
    let topics = topics.to_str().unwrap();
    let process = ServiceProcess::start_with(
        Path::new(FIXTURE),
        dir.path(),
        &[("PLINTH_STORAGE", &url), ("PLINTH_TOPICS", topics)],
    )
    .await;
    let channel = tonic::transport::Endpoint::from_shared(process.url())
        .unwrap()
        .connect_lazy();
    let acknowledged = Arc::new(AtomicI64::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (channel, acknowledged, unavailable, stop) = (
            channel.clone(),
            acknowledged.clone(),
            unavailable.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match call(&channel, "/test.Counter/Increment", 1).await {
                    Ok(value) => {
                        assert!(
                            value > last,
                            "a reply went back in time: {value} after {last}"
                        );
                        last = value;
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status) => {
                        assert_eq!(
                            status.code(),
                            tonic::Code::Unavailable,
                            "during the outage: {status}"
                        );
                        unavailable.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                assert!(
                    started.elapsed() < Duration::from_secs(16),
                    "a call hung past its deadline"
                );
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = acknowledged.load(Ordering::Relaxed);
    assert!(before > 0, "the load ran");
    tokio::task::spawn_blocking(restart_postgres).await.unwrap();
    // Served again without restarting the service.
    let deadline = Instant::now() + Duration::from_secs(30);
    let resumed = acknowledged.load(Ordering::Relaxed);
    while acknowledged.load(Ordering::Relaxed) < resumed + 50 {
        assert!(Instant::now() < deadline, "the service did not recover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let total = acknowledged.load(Ordering::Relaxed);
    let stored = call(&channel, "/test.Counter/Get", 0).await.unwrap();
    assert!(
        stored >= total,
        "every acknowledged increment is stored: {stored} < {total}"
    );
    eprintln!(
        "acknowledged {total}, stored {stored}, refused as unavailable {}",
        unavailable.load(Ordering::Relaxed)
    );
}
