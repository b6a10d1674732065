//! The access log of a real service process: with `plinth::access` at
//! DEBUG every call through either front door is one line with its method,
//! path, status, latency and request id (the client's `x-request-id`, or a
//! new one, handed back on the response); at the default level there is none.

use std::path::Path;
use std::time::{Duration, Instant};

use plinth_tests::fixture::{CounterState, Increment};
use plinth_tests::process::ServiceProcess;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

/// The log's lines naming `plinth::access`, once `count` are there (5 s at most).
fn access_lines(log: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|line| line.contains("plinth::access"))
            .map(str::to_owned)
            .collect();
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Both scenarios run one after the other: each starts a service process,
/// and two at once could be handed the same free port.
#[tokio::test]
async fn the_access_log_is_off_by_default_and_one_line_per_call_when_on() {
    the_default_level_logs_no_calls().await;
    each_call_is_one_line_with_its_request_id().await;
}

async fn each_call_is_one_line_with_its_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let env = [("PLINTH_LOG", "info,plinth::access=debug")];
    let process = ServiceProcess::start_logging(Path::new(FIXTURE), dir.path(), &env, &log).await;
    let client = reqwest::Client::new();
    let reply = client
        .post(format!("{}/test.Counter/Increment", process.url()))
        .header("x-request-id", "req-42")
        .json(&serde_json::json!({"id": "a", "by": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["x-request-id"], "req-42");
    // No id, or one that is not a short token: a new one comes back.
    let missing = client
        .get(format!("{}/no/such/route", process.url()))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let generated = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 36, "{generated}");

    let channel = plinth_tests::grpc::connect(&process.url()).await;
    let refused: Result<CounterState, _> = plinth_tests::grpc::unary(
        &channel,
        "/test.Counter/Increment",
        Increment {
            id: "a".into(),
            by: -1,
        },
    )
    .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::InvalidArgument);

    let lines = access_lines(&log, 3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let http = &lines[0];
    for part in [
        "method=POST",
        "path=/test.Counter/Increment",
        "status=200",
        "request_id=req-42",
        "latency_us=",
    ] {
        assert!(http.contains(part), "{part} missing in {http}");
    }
    assert!(
        lines[1].contains("status=404") && lines[1].contains(&generated),
        "{}",
        lines[1]
    );
    let grpc = &lines[2];
    for part in [
        "protocol=grpc",
        "path=/test.Counter/Increment",
        "grpc_status=3",
    ] {
        assert!(grpc.contains(part), "{part} missing in {grpc}");
    }
}

async fn the_default_level_logs_no_calls() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let process = ServiceProcess::start_logging(Path::new(FIXTURE), dir.path(), &[], &log).await;
    let reply = reqwest::Client::new()
        .post(format!("{}/test.Counter/Increment", process.url()))
        .json(&serde_json::json!({"id": "a", "by": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().contains_key("x-request-id"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(access_lines(&log, 0).is_empty());
}
