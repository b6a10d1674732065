//! Transfers (the `transfer` example) survive crashes: 100 transfers while
//! the service is killed with SIGKILL at random moments, five times; after a
//! restart every transfer the service acknowledged reaches an end, none needs
//! manual intervention, and the money in the wallets is what it was. On
//! PostgreSQL, two processes share the transfers while one of them is
//! killed and restarted.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plinth_tests::process::ServiceProcess;
use serde_json::{Value, json};

const TRANSFER: &str = env!("CARGO_BIN_EXE_plinth-transfer");
const WALLETS: usize = 8;
const BALANCE: i64 = 500;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

async fn create_wallets(base: &str) {
    let client = client();
    for w in 0..WALLETS {
        let url = format!("{base}/wallet/w{w}/create/{BALANCE}");
        let reply = client.post(url).send().await.expect("answered");
        assert!(reply.status().is_success(), "{}", reply.status());
    }
}

/// Start `count` transfers named `{prefix}-{i}`, one every 10 ms (so that
/// a kill finds some of them half done); the ids the service acknowledged
/// go to `acknowledged`. Every fifth goes to a wallet that does not exist
/// (it is compensated).
fn fire(base: &str, prefix: &str, count: usize, acknowledged: &Arc<Mutex<BTreeSet<String>>>) {
    for i in 0..count {
        let pause = Duration::from_millis(10 * i as u64);
        let from = fastrand::usize(..WALLETS);
        let to = if i % 5 == 4 {
            "ghost".to_owned()
        } else {
            format!("w{}", (from + 1 + fastrand::usize(..WALLETS - 1)) % WALLETS)
        };
        let body = json!({"from": format!("w{from}"), "to": to, "amount": fastrand::i32(1..=300)});
        let (id, url) = (format!("{prefix}-{i}"), base.to_owned());
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let reply = client()
                .put(format!("{url}/transfer/{id}"))
                .json(&body)
                .send()
                .await;
            if reply.is_ok_and(|reply| reply.status().is_success()) {
                acknowledged.lock().unwrap().insert(id);
            }
        });
    }
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let reply = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("answered");
    (
        reply.status().as_u16(),
        reply.json().await.unwrap_or(Value::Null),
    )
}

/// Wait until every transfer in `ids` ended (unacknowledged ones may also
/// never have started); then check them and the total balance.
async fn check(base: &str, ids: &[String], acknowledged: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    for id in ids {
        loop {
            let (code, position) = get(base, &format!("/_plinth/workflows/transfer/{id}")).await;
            if code == 404 && !acknowledged.contains(id) {
                break;
            }
            if position["status"] == "ended" {
                let (_, state) = get(base, &format!("/transfer/{id}")).await;
                let status = state["status"].as_str().unwrap_or_default().to_owned();
                assert!(
                    ["COMPLETED", "WITHDRAW_FAILED", "COMPENSATION_COMPLETED"]
                        .contains(&status.as_str()),
                    "transfer {id} ended as {state}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "transfer {id} never ended: {position}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut total = 0;
    for w in 0..WALLETS {
        let (code, wallet) = get(base, &format!("/wallet/w{w}")).await;
        assert_eq!(code, 200, "{wallet}");
        total += wallet["balance"].as_i64().unwrap_or(0);
    }
    assert_eq!(total, BALANCE * WALLETS as i64, "money was created or lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_survive_five_kills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("service.log");
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut ids = Vec::new();
    for round in 0..5 {
        let process =
            ServiceProcess::start_logging(Path::new(TRANSFER), dir.path(), &[], &log).await;
        let base = process.url();
        if round == 0 {
            create_wallets(&base).await;
        }
        let prefix = format!("r{round}");
        fire(&base, &prefix, 20, &acknowledged);
        ids.extend((0..20).map(|i| format!("{prefix}-{i}")));
        tokio::time::sleep(Duration::from_millis(fastrand::u64(30..190))).await;
        process.kill();
    }
    let process = ServiceProcess::start_logging(Path::new(TRANSFER), dir.path(), &[], &log).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "no transfer was acknowledged before a kill"
    );
    check(&process.url(), &ids, &acknowledged).await;
    // The kills interrupted workflows between steps: later runs resumed them.
    let log = std::fs::read_to_string(&log).expect("the log");
    let resumed = log
        .lines()
        .filter(|line| line.contains("delivering calls left by the previous run"))
        .count();
    assert!(resumed > 0, "no kill interrupted a workflow:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_share_transfers_through_a_kill() {
    let Some(url) = plinth_tests::postgres::fresh_database(
        "two_processes_on_postgres_share_transfers_through_a_kill",
    )
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
    let a = ServiceProcess::start_with(Path::new(TRANSFER), dir_a.path(), &env).await;
    let b = ServiceProcess::start_with(Path::new(TRANSFER), dir_b.path(), &env).await;
    create_wallets(&a.url()).await;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    fire(&a.url(), "a", 25, &acknowledged);
    fire(&b.url(), "b", 25, &acknowledged);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(20..250))).await;
    a.kill();
    // The survivor takes over what the killed process held once its claims
    // lapse; a restarted process joins in.
    let a = ServiceProcess::start_with(Path::new(TRANSFER), dir_a.path(), &env).await;
    let ids: Vec<String> = (0..25)
        .flat_map(|i| [format!("a-{i}"), format!("b-{i}")])
        .collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    check(&b.url(), &ids, &acknowledged).await;
    drop(a);
}
