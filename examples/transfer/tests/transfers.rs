//! The transfer service over a real socket, through its HTTP/JSON routes:
//! the README's scenario, a transfer the source cannot pay, a refused
//! deposit that is compensated, and large transfers that wait for
//! acceptance (accepted, or cancelled by their timer).

use std::sync::Arc;
use std::time::Duration;

use plinth::testkit::{TestService, eventually};
use plinth::{ManualClock, Service};
use serde_json::{Value, json};
use transfer::com::example::transfer::api::TransferWorkflowComponent;
use transfer::com::example::wallet::api::WalletEntityComponent;
use transfer::{Transfers, Wallets};

fn transfers(transfers: Transfers) -> Service {
    Service::new()
        .with(WalletEntityComponent::new(Wallets))
        .with(TransferWorkflowComponent::new(transfers))
}

struct Running {
    service: TestService,
}

async fn start(config: Transfers) -> Running {
    let service = TestService::start(transfers(config)).await.expect("starts");
    Running { service }
}

impl Running {
    async fn wallet(&self, id: &str, balance: i32) {
        let path = format!("/wallet/{id}/create/{balance}");
        assert_eq!(self.service.http("POST", &path, None).await.0, 200);
    }

    async fn balance(&self, id: &str) -> i64 {
        let (status, wallet) = self
            .service
            .http("GET", &format!("/wallet/{id}"), None)
            .await;
        assert_eq!(status, 200, "{wallet}");
        wallet["balance"].as_i64().unwrap_or(0)
    }

    async fn transfer(&self, id: &str, from: &str, to: &str, amount: i32) -> (u16, Value) {
        let body = json!({"from": from, "to": to, "amount": amount});
        self.service
            .http("PUT", &format!("/transfer/{id}"), Some(body))
            .await
    }

    async fn transfer_state(&self, id: &str) -> Value {
        self.service
            .http("GET", &format!("/transfer/{id}"), None)
            .await
            .1
    }

    /// The transfer's state once its status is `status` (within 10 s).
    async fn reaches(&self, id: &str, status: &str) -> Value {
        eventually(Duration::from_secs(10), || async {
            let state = self.transfer_state(id).await;
            if state["status"] == status {
                Ok(state)
            } else {
                Err(format!("transfer {id} is not {status}: {state}"))
            }
        })
        .await
    }

    async fn position(&self, id: &str) -> Value {
        let path = format!("/_plinth/workflows/transfer/{id}");
        self.service.http("GET", &path, None).await.1
    }

    async fn post(&self, path: &str) -> u16 {
        self.service.http("POST", path, None).await.0
    }
}

#[tokio::test]
async fn a_transfer_moves_the_money_once() {
    let service = start(Transfers::default()).await;
    service.wallet("a", 100).await;
    service.wallet("b", 100).await;
    assert_eq!(service.transfer("t1", "a", "b", 10).await.0, 200);
    let state = service.reaches("t1", "COMPLETED").await;
    assert_eq!(state["amount"], 10);
    assert_eq!(
        (service.balance("a").await, service.balance("b").await),
        (90, 110)
    );
    let position = service.position("t1").await;
    assert_eq!(position["status"], "ended", "{position}");
    // Starting it again is refused and moves nothing.
    let (status, error) = service.transfer("t1", "a", "b", 10).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(
        (service.balance("a").await, service.balance("b").await),
        (90, 110)
    );
}

#[tokio::test]
async fn a_transfer_the_source_cannot_pay_fails_and_moves_nothing() {
    let service = start(Transfers::default()).await;
    service.wallet("a", 100).await;
    service.wallet("b", 100).await;
    assert_eq!(service.transfer("t1", "a", "b", 500).await.0, 200);
    service.reaches("t1", "WITHDRAW_FAILED").await;
    assert_eq!(
        (service.balance("a").await, service.balance("b").await),
        (100, 100)
    );
    // Bad input is refused before anything starts.
    let (status, error) = service.transfer("t2", "a", "a", 5).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        service.position("t2").await["error"],
        "workflow transfer/t2 was never started"
    );
}

#[tokio::test]
async fn a_refused_deposit_is_compensated() {
    let service = start(Transfers::default()).await;
    service.wallet("a", 100).await;
    assert_eq!(service.transfer("t1", "a", "nowhere", 30).await.0, 200);
    service.reaches("t1", "COMPENSATION_COMPLETED").await;
    assert_eq!(service.balance("a").await, 100);
    let (_, wallet) = service.service.http("GET", "/wallet/a", None).await;
    assert_eq!(wallet["operations"], json!(["t1-withdraw", "t1-refund"]));
}

#[tokio::test]
async fn a_large_transfer_waits_for_acceptance() {
    let service = start(Transfers::default()).await;
    service.wallet("a", 5000).await;
    service.wallet("b", 0).await;
    assert_eq!(service.transfer("big", "a", "b", 2000).await.0, 200);
    service.reaches("big", "WAITING_FOR_ACCEPTANCE").await;
    assert_eq!(service.position("big").await["status"], "paused");
    assert_eq!(service.balance("a").await, 5000);
    // Its timer is scheduled.
    let (_, scheduled) = service
        .service
        .http("GET", "/_plinth/scheduled", None)
        .await;
    let timers: Vec<&Value> = scheduled["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|call| call["timer"] == "transfer-acceptance-big")
        .collect();
    assert_eq!(timers.len(), 1, "{scheduled}");

    let url = "/transfer/big/accept";
    assert_eq!(service.post(url).await, 200);
    service.reaches("big", "COMPLETED").await;
    assert_eq!(
        (service.balance("a").await, service.balance("b").await),
        (3000, 2000)
    );
    // Accepting twice is refused.
    assert_eq!(service.post(url).await, 400);
}

#[tokio::test]
async fn a_large_transfer_nobody_accepts_is_cancelled_by_its_timer() {
    // The hour-long acceptance timer runs on a clock the test moves.
    let clock = ManualClock::new();
    let service = TestService::builder(transfers(Transfers::default()))
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("starts");
    let service = Running { service };
    service.wallet("a", 5000).await;
    service.wallet("b", 0).await;
    assert_eq!(service.transfer("big", "a", "b", 2000).await.0, 200);
    service.reaches("big", "WAITING_FOR_ACCEPTANCE").await;
    clock.advance(Duration::from_secs(3599));
    let (_, scheduled) = service
        .service
        .http("GET", "/_plinth/scheduled", None)
        .await;
    let pending = scheduled["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .any(|call| call["timer"] == "transfer-acceptance-big");
    assert!(
        pending,
        "a second before it is due, the timer waits: {scheduled}"
    );
    clock.advance(Duration::from_secs(1));
    service
        .reaches("big", "TRANSFER_ACCEPTANCE_TIMED_OUT")
        .await;
    assert_eq!(service.position("big").await["status"], "ended");
    assert_eq!(
        (service.balance("a").await, service.balance("b").await),
        (5000, 0)
    );
    assert_eq!(service.post("/transfer/big/accept").await, 400);
}

#[tokio::test]
async fn clients_cannot_cancel_a_transfer_through_its_timer_method() {
    let service = start(Transfers::default()).await;
    service.wallet("a", 5000).await;
    service.wallet("b", 0).await;
    service.transfer("big", "a", "b", 2000).await;
    let (status, _) = service
        .service
        .http(
            "POST",
            "/com.example.transfer.api.TransferWorkflowService/AcceptanceTimeout",
            Some(json!({"transferId": "big"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        service.transfer_state("big").await["status"],
        "WAITING_FOR_ACCEPTANCE"
    );
}
