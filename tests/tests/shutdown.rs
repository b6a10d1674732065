//! Graceful shutdown of a real service process: SIGTERM stops new work, lets
//! the calls in flight finish with their replies, keeps what was written, and
//! exits cleanly.

use std::time::{Duration, Instant};

use plinth_tests::process::ServiceProcess;
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

#[tokio::test]
async fn sigterm_drains_in_flight_calls_and_exits_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let mut process = ServiceProcess::start(FIXTURE.as_ref(), data.path()).await;
    let base = process.url();
    let client = reqwest::Client::new();

    let reply = client
        .post(format!("{base}/test.Counter/Increment"))
        .json(&json!({"id": "kept", "by": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);

    // Calls still running when the signal arrives.
    let slow: Vec<_> = (0..4)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/test.Echo/Slow"))
                    .json(&json!({"text": format!("slow-{i}"), "count": 800}))
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    let status = process
        .terminate(Duration::from_secs(20))
        .await
        .expect("the service exits after SIGTERM");
    assert!(status.success(), "a graceful stop exits with 0: {status}");

    for (i, call) in slow.into_iter().enumerate() {
        let reply = call
            .await
            .unwrap()
            .expect("an in-flight call gets its reply");
        assert_eq!(reply.status(), 200, "slow call {i}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["text"], format!("slow-{i}"), "{body}");
    }
    assert!(
        signalled.elapsed() >= Duration::from_millis(400),
        "the process waited for the calls in flight"
    );
    assert!(
        tokio::net::TcpStream::connect(process.addr())
            .await
            .is_err(),
        "nothing listens after the stop"
    );

    // What was acknowledged before the stop is there after a restart.
    drop(process);
    let process = ServiceProcess::start(FIXTURE.as_ref(), data.path()).await;
    let reply = client
        .post(format!("{}/test.Counter/Get", process.url()))
        .json(&json!({"id": "kept"}))
        .send()
        .await
        .unwrap();
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["value"], "5", "{body}");
}
