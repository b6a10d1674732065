//! What the view tests share: bounded waiting for a view to show something,
//! and the runtime's view status endpoint.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// Poll `probe` until it returns `Some`, for at most 20 seconds; panics with
/// `what` after that (a hang, not a slow run).
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..1000 {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting for {what}");
}

/// The service's view status (`GET /_plinth/views`) at `base`.
pub async fn view_status(http: &reqwest::Client, base: &str) -> Value {
    let reply = http
        .get(format!("{base}/_plinth/views"))
        .send()
        .await
        .expect("the status endpoint answers");
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.expect("the status is JSON")
}

/// Wait (bounded, 30 s) until every projection at `base` has delivered up to
/// the feed head.
pub async fn caught_up(http: &reqwest::Client, base: &str) {
    for _ in 0..1500 {
        let status = view_status(http, base).await;
        let projections = status["projections"].as_array().expect("projections");
        if !projections.is_empty()
            && projections
                .iter()
                .all(|p| p["lag_records"] == 0 && p["delivered_offset"] == p["head_offset"])
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the views did not catch up");
}
