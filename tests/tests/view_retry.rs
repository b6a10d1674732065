//! A failing view handler is retried with backoff and never skipped: while
//! one cart's updates fail, other carts keep flowing into the view; once the
//! handler recovers, the failing cart's row holds every event exactly once,
//! and the status endpoint counted the failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use plinth::{Config, RowUpdate, Status, UpdateContext};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;
use shopping_cart::shopping::cart::domain::{CheckedOut, ItemAdded, ItemRemoved};
use shopping_cart::shopping::cart::view::{CartSummary, CartSummaryView, CartSummaryViewComponent};
use shopping_cart::{CartSummaries, ShoppingCart};

/// Fails the first `failures` updates of cart `bad`, then behaves.
struct Flaky {
    failures: usize,
    failed: Arc<AtomicUsize>,
}

impl Flaky {
    fn check(&self, ctx: &UpdateContext) -> Result<(), Status> {
        if ctx.subject() == "bad" && self.failed.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(Status::unavailable("the summary service is down"));
        }
        Ok(())
    }
}

impl CartSummaryView for Flaky {
    fn on_item_added(
        &self,
        row: Option<&CartSummary>,
        input: ItemAdded,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        self.check(ctx)?;
        CartSummaries.on_item_added(row, input, ctx)
    }

    fn on_item_removed(
        &self,
        row: Option<&CartSummary>,
        input: ItemRemoved,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        self.check(ctx)?;
        CartSummaries.on_item_removed(row, input, ctx)
    }

    fn on_checked_out(
        &self,
        row: Option<&CartSummary>,
        input: CheckedOut,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        self.check(ctx)?;
        CartSummaries.on_checked_out(row, input, ctx)
    }
}

async fn summary(http: &reqwest::Client, base: &str, cart: &str) -> Option<Value> {
    let reply = http
        .get(format!("{base}/carts/{cart}/summary"))
        .send()
        .await
        .ok()?;
    (reply.status() == StatusCode::OK).then_some(())?;
    reply.json().await.ok()
}

#[tokio::test]
async fn view_retries_a_failing_handler_without_skipping_or_blocking_others() {
    let dir = tempfile::tempdir().unwrap();
    let failed = Arc::new(AtomicUsize::new(0));
    let service = plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .with(CartSummaryViewComponent::new(Flaky {
            failures: 5,
            failed: failed.clone(),
        }))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.path().join("plinth.db")),
        )
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    for (cart, quantity) in [("bad", 2), ("good", 1), ("bad", 3), ("good", 4)] {
        let reply = http
            .post(format!("{base}/carts/{cart}/items"))
            .json(&json!({"productId": "p1", "name": "p1", "quantity": quantity}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }

    // Bounded waits: 20 s each.
    let mut good = None;
    for _ in 0..1000 {
        good = summary(&http, &base, "good")
            .await
            .filter(|s| s["totalQuantity"] == 5);
        if good.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        good.is_some(),
        "the good cart flows while the bad one fails"
    );
    let mut bad = None;
    for _ in 0..1000 {
        bad = summary(&http, &base, "bad")
            .await
            .filter(|s| s["totalQuantity"] == 5);
        if bad.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bad = bad.expect("the failing cart is retried until it succeeds");
    assert_eq!(bad["lines"], json!([{"productId": "p1", "quantity": 5}]));
    assert!(
        failed.load(Ordering::SeqCst) > 5,
        "the handler failed, then ran again"
    );

    let status = plinth_tests::views::view_status(&http, &base).await;
    let failures = status["projections"][0]["failures"].as_u64().unwrap();
    assert!(failures >= 5, "{status}");
    service.shutdown().await;
}
