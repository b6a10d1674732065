//! Workflows over a real socket, on SQLite and on PostgreSQL: steps that
//! succeed, fail and are retried, fail beyond their retries and go to their
//! recovery step, time out, pause until a command resumes them, and a
//! workflow that runs too long going to its failover step. The workflow's
//! state changes are on the change feed, and a subscribed action sees them.
//! A definition that cannot run keeps the service from starting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth::storage::{SqliteOptions, SqliteStorage, Storage};
use plinth::{Config, RunningService, Service};
use plinth_tests::flow::{
    self, BrokenJobs, JobWatcherActionComponent, JobWorkflowComponent, Jobs, Watcher,
};
use serde_json::{Value, json};

struct Running {
    service: Option<RunningService>,
    storage: Arc<dyn Storage>,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The fixture on SQLite, or on a fresh PostgreSQL database (`None` when
/// no test server is configured outside CI).
async fn start(postgres: bool) -> Option<Running> {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = if postgres {
        let url = plinth_tests::postgres::fresh_database("workflows").await?;
        Arc::new(
            plinth::storage::PostgresStorage::connect(&url, Default::default())
                .await
                .expect("connects"),
        )
    } else {
        Arc::new(
            SqliteStorage::open(dir.path().join("plinth.db"), SqliteOptions::default())
                .expect("opens"),
        )
    };
    let config = Config::default().with_addr("127.0.0.1:0".parse().expect("addr"));
    let service = Service::new()
        .with(JobWorkflowComponent::new(Jobs))
        .with(JobWatcherActionComponent::new(Watcher))
        .storage(storage.clone())
        .config(config)
        .start()
        .await
        .expect("starts");
    Some(Running {
        base: format!("http://{}", service.local_addr()),
        service: Some(service),
        storage,
        client: reqwest::Client::new(),
        _dir: dir,
    })
}

impl Running {
    async fn call(&self, method: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/flow.JobService/{method}", self.base);
        let reply = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("answered");
        (reply.status().as_u16(), reply.json().await.expect("json"))
    }

    async fn start_job(&self, body: Value) {
        let (status, reply) = self.call("Start", body).await;
        assert_eq!(status, 200, "{reply}");
    }

    async fn position(&self, id: &str) -> Value {
        let url = format!("{}/_plinth/workflows/jobs/{id}", self.base);
        let reply = self.client.get(url).send().await.expect("answered");
        reply.json().await.expect("json")
    }

    /// The job's log once its workflow status is `status` (within 15 s).
    async fn settles(&self, id: &str, status: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let position = self.position(id).await;
            if position["status"] == status {
                let (_, job) = self.call("Get", json!({"jobId": id})).await;
                return serde_json::from_value(job["log"].clone()).expect("a log");
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never got {status}: {position}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown().await;
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let running = super::start(false).await.expect("sqlite");
                    super::$name(&running).await;
                    running.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(running) = super::start(true).await else { return };
                    super::$name(&running).await;
                    running.stop().await;
                }
            )*
        }
    };
}

on_both_backends!(
    steps_run_in_order_and_their_states_are_on_the_feed,
    a_failing_step_is_retried,
    a_step_failing_beyond_its_retries_goes_to_its_recovery_step,
    a_step_that_times_out_goes_to_its_failover_step,
    a_paused_workflow_resumes_on_a_command,
    a_workflow_that_runs_too_long_goes_to_its_failover_step,
);

fn unique(name: &str) -> String {
    format!("{name}-{}", fastrand::u64(..))
}

async fn steps_run_in_order_and_their_states_are_on_the_feed(running: &Running) {
    let id = unique("plain");
    running.start_job(json!({"jobId": id})).await;
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "work", "finish"]);
    let position = running.position(&id).await;
    assert_eq!(position["step"], "finish", "{position}");
    // Starting it again is refused.
    let (status, _) = running.call("Start", json!({"jobId": id})).await;
    assert_eq!(status, 409);

    // Every move wrote the state, in order, to the change feed.
    let feed = running
        .storage
        .read_feed(0, &["jobs".to_owned()], 100)
        .await
        .expect("reads the feed");
    let logs: Vec<Vec<String>> = feed
        .iter()
        .filter(|record| record.entity_id == id)
        .map(|record| {
            <flow::JobState as prost::Message>::decode(record.payload.clone())
                .expect("a JobState")
                .log
        })
        .collect();
    let expected = [
        vec!["start"],
        vec!["start", "work"],
        vec!["start", "work", "finish"],
    ];
    assert_eq!(logs, expected);
    // A subscriber follows the workflow like a value entity.
    let deadline = Instant::now() + Duration::from_secs(15);
    while flow::seen(&id) != expected {
        assert!(
            Instant::now() < deadline,
            "the watcher saw {:?}",
            flow::seen(&id)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_failing_step_is_retried(running: &Running) {
    let id = unique("flaky");
    running
        .start_job(json!({"jobId": id, "failTimes": 2}))
        .await;
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "work", "finish"]);
    assert_eq!(flow::attempts(&id), 3);
}

async fn a_step_failing_beyond_its_retries_goes_to_its_recovery_step(running: &Running) {
    let id = unique("broken");
    running
        .start_job(json!({"jobId": id, "failTimes": 10}))
        .await;
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "recover"]);
    // One attempt and two retries.
    assert_eq!(flow::attempts(&id), 3);
}

async fn a_step_that_times_out_goes_to_its_failover_step(running: &Running) {
    let id = unique("slow");
    running
        .start_job(json!({"jobId": id, "sleepMs": 1000}))
        .await;
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "recover"]);
    assert_eq!(flow::attempts(&id), 3);
}

async fn a_paused_workflow_resumes_on_a_command(running: &Running) {
    let id = unique("paused");
    running
        .start_job(json!({"jobId": id, "pauseAfter": true}))
        .await;
    let log = running.settles(&id, "paused").await;
    assert_eq!(log, ["start", "work"]);
    let (status, _) = running.call("Resume", json!({"jobId": id})).await;
    assert_eq!(status, 200);
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "work", "resume", "finish"]);
    // An ended workflow answers, but does not move again.
    let (status, reply) = running.call("Resume", json!({"jobId": id})).await;
    assert_eq!(status, 400, "{reply}");
    let position = running.position(&id).await;
    assert_eq!(position["timed_out"], false, "{position}");
}

async fn a_workflow_that_runs_too_long_goes_to_its_failover_step(running: &Running) {
    let id = unique("forgotten");
    running
        .start_job(json!({"jobId": id, "pauseAfter": true}))
        .await;
    running.settles(&id, "paused").await;
    let started = Instant::now();
    let log = running.settles(&id, "ended").await;
    assert_eq!(log, ["start", "work", "timed-out"]);
    assert!(started.elapsed() < flow::JOB_TIMEOUT + Duration::from_secs(5));
    let position = running.position(&id).await;
    assert_eq!(position["timed_out"], true, "{position}");
}

#[tokio::test]
async fn a_definition_that_cannot_run_keeps_the_service_from_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let Err(error) = Service::new()
        .with(JobWorkflowComponent::new(BrokenJobs))
        .config(config)
        .start()
        .await
    else {
        panic!("a service with a broken workflow definition started");
    };
    let message = error.to_string();
    assert!(
        message.contains("\"nowhere\"") && message.contains("default step recovery"),
        "{message}"
    );
}
