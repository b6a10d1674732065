//! Several processes of one service on one PostgreSQL database: any process
//! serves any call, commands to one entity apply once each and in order, a
//! read through one process sees a write acknowledged by another, and when a
//! process is SIGKILLed the others keep every acknowledged write and take
//! over its views.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::uri::PathAndQuery;
use plinth_tests::fixture::{CounterState, Increment};
use plinth_tests::postgres::fresh_database;
use plinth_tests::process::ServiceProcess;
use serde_json::json;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");
const VIEW_FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-view-fixture");

/// Start `count` processes of `binary` on the database `url`.
async fn start_all(
    binary: &str,
    url: &str,
    count: usize,
) -> Vec<(ServiceProcess, tempfile::TempDir)> {
    let mut processes = Vec::new();
    for _ in 0..count {
        processes.push(start_one(binary, url).await);
    }
    processes
}

async fn start_one(binary: &str, url: &str) -> (ServiceProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // The fixture's action publishes: its processes share one topic log file.
    let topics = std::env::temp_dir().join(format!("plinth-scale-out-{}.db", std::process::id()));
    let process = ServiceProcess::start_with(
        Path::new(binary),
        dir.path(),
        &[
            ("PLINTH_STORAGE", url),
            ("PLINTH_TOPICS", topics.to_str().unwrap()),
        ],
    )
    .await;
    (process, dir)
}

fn channel(process: &ServiceProcess) -> Channel {
    tonic::transport::Endpoint::from_shared(process.url())
        .unwrap()
        .connect_lazy()
}

/// Call `path` with `by`; retried while the answer is "try again"
/// (`ABORTED` after repeated conflicts, `UNAVAILABLE`), as a client would.
async fn increment(channel: &Channel, path: &'static str, id: &str, by: i64) -> i64 {
    for _ in 0..50 {
        let mut client = tonic::client::Grpc::new(channel.clone());
        client.ready().await.unwrap();
        let request = tonic::Request::new(Increment {
            id: id.to_string(),
            by,
        });
        let reply = client
            .unary(
                request,
                PathAndQuery::from_static(path),
                ProstCodec::<Increment, CounterState>::default(),
            )
            .await;
        match reply {
            Ok(reply) => return reply.into_inner().value,
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Aborted | tonic::Code::Unavailable
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(status) => panic!("{path} {id}: {status}"),
        }
    }
    panic!("{path} {id}: still refused after 50 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_apply_every_command_once() {
    let Some(url) = fresh_database("three_processes_apply_every_command_once").await else {
        return;
    };
    let processes = start_all(FIXTURE, &url, 3).await;
    let channels: Vec<Channel> = processes.iter().map(|(p, _)| channel(p)).collect();

    // 1,000 concurrent increments of one counter, spread over the three.
    for path in ["/test.Counter/Increment", "/test.EsCounter/Increment"] {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..30 {
            let channel = channels[worker % 3].clone();
            let per_worker = if worker < 10 { 34 } else { 33 };
            tasks.spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..per_worker {
                    seen.push(increment(&channel, path, "hot", 1).await);
                }
                seen
            });
        }
        let mut replies = Vec::new();
        while let Some(seen) = tasks.join_next().await {
            replies.extend(seen.unwrap());
        }
        assert_eq!(replies.len(), 1000);
        let distinct: BTreeSet<i64> = replies.iter().copied().collect();
        assert_eq!(
            distinct,
            (1..=1000).collect::<BTreeSet<i64>>(),
            "{path}: each increment applied once, each on the state of the one before"
        );
        for channel in &channels {
            let get = path.replace("Increment", "Get").leak();
            assert_eq!(increment(channel, get, "hot", 0).await, 1000, "{path}");
        }
    }

    // 100 ids in parallel, each written through every process in turn.
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..100 {
        let channels = channels.clone();
        tasks.spawn(async move {
            let id = format!("id{id}");
            for round in 0..6 {
                increment(&channels[round % 3], "/test.Counter/Increment", &id, 1).await;
            }
            id
        });
    }
    while let Some(id) = tasks.join_next().await {
        let id = id.unwrap();
        for channel in &channels {
            assert_eq!(
                increment(channel, "/test.Counter/Get", &id, 0).await,
                6,
                "{id}"
            );
        }
    }

    // A read through another process sees the acknowledged write at once.
    for round in 0..30 {
        let writer = &channels[round % 3];
        let reader = &channels[(round + 1) % 3];
        let written = increment(writer, "/test.Counter/Increment", "fresh", 1).await;
        assert_eq!(written, round as i64 + 1);
        assert_eq!(
            increment(reader, "/test.Counter/Get", "fresh", 0).await,
            written
        );
    }
}

/// Add items to carts through `url` until the process goes away.
fn cart_load(url: String, writers: usize, acknowledged: Arc<AtomicUsize>) {
    let http = reqwest::Client::new();
    for writer in 0..writers {
        let (http, url, acknowledged) = (http.clone(), url.clone(), acknowledged.clone());
        tokio::spawn(async move {
            for i in 0..100_000 {
                let cart = format!("cart{}", (writer + i) % 8);
                let reply = http
                    .post(format!("{url}/carts/{cart}/items"))
                    .json(&json!({"productId": format!("p{}", i % 5), "name": "x", "quantity": 1}))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match reply {
                    Ok(reply) if reply.status().is_success() => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
        });
    }
}

/// The total quantity of each cart (`path` empty) or of its summary in the
/// view (`/summary`), read through `url`.
async fn totals(http: &reqwest::Client, url: &str, path: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for cart in 0..8 {
        let reply = http
            .get(format!("{url}/carts/cart{cart}{path}"))
            .send()
            .await
            .unwrap();
        if reply.status() == reqwest::StatusCode::NOT_FOUND {
            out.push(0);
            continue;
        }
        assert!(reply.status().is_success(), "{}", reply.status());
        let body: serde_json::Value = reply.json().await.unwrap();
        let total = match body["items"].as_array() {
            // The cart itself: its items' quantities.
            Some(items) => items
                .iter()
                .map(|i| i["quantity"].as_i64().unwrap_or(0))
                .sum(),
            // Its summary in the view.
            None => body["totalQuantity"].as_i64().unwrap_or(0),
        };
        out.push(total);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_three_under_load_loses_nothing() {
    let Some(url) = fresh_database("sigkill_one_of_three_under_load_loses_nothing").await else {
        return;
    };
    let mut processes = start_all(VIEW_FIXTURE, &url, 3).await;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    for round in 0..10 {
        // Load through the process about to die, and through the others.
        let before = acknowledged.load(Ordering::Relaxed);
        for (process, _) in &processes {
            cart_load(process.url(), 4, acknowledged.clone());
        }
        for _ in 0..2000 {
            if acknowledged.load(Ordering::Relaxed) >= before + 150 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (victim, _dir) = processes.remove(round % processes.len());
        victim.kill();
        processes.push(start_one(VIEW_FIXTURE, &url).await);
    }
    // The load ends with the processes; stop all but one cleanly, so the
    // survivor holds every lease and finishes the view.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut survivor, _dir) = processes.pop().unwrap();
    for (mut process, _) in processes.drain(..) {
        assert!(process.terminate(Duration::from_secs(30)).await.is_some());
    }
    let written = acknowledged.load(Ordering::Relaxed);
    assert!(written >= 1500, "the load ran: {written} writes");

    let http = reqwest::Client::new();
    plinth_tests::views::caught_up(&http, &survivor.url()).await;
    // Every acknowledged add is in the entity state, and the view (a
    // summary that adds quantities, so a record applied twice or skipped
    // would show) equals it.
    let carts = totals(&http, &survivor.url(), "").await;
    let summaries = totals(&http, &survivor.url(), "/summary").await;
    let stored: i64 = carts.iter().sum();
    assert!(
        stored as usize >= written,
        "every acknowledged add is stored: {stored} < {written}"
    );
    assert_eq!(summaries, carts, "the view equals its source");
    assert!(survivor.terminate(Duration::from_secs(30)).await.is_some());
}

#[tokio::test]
async fn a_local_topic_log_is_refused_on_a_shared_storage() {
    let Some(url) = fresh_database("a_local_topic_log_is_refused_on_a_shared_storage").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventing-counter"))
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env_remove("PLINTH_TOPICS")
        .env("PLINTH_DATA_DIR", dir.path())
        .env("PLINTH_ADDR", "127.0.0.1:0")
        .env("PLINTH_STORAGE", &url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a per-process topic log must not start"
    );
    assert!(
        stderr.contains("local topic log is per process") && stderr.contains("PLINTH_TOPICS"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("plinth:plinth@"),
        "no password in errors: {stderr}"
    );
}
