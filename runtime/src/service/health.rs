//! Health for probes: `GET /_plinth/health/live` answers 200 while the
//! process serves; `GET /_plinth/health/ready` (and `/_plinth/health`)
//! answers 200 when the storage and the topic backend answer within
//! [`CHECK_TIMEOUT`], else 503, with each check's result as JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::eventing::Topics;
use crate::storage::Storage;

/// How long each check may take.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes over `storage` and `topics`.
pub(crate) fn router(storage: Arc<dyn Storage>, topics: Option<Arc<dyn Topics>>) -> axum::Router {
    let ready = move || {
        let (storage, topics) = (storage.clone(), topics.clone());
        async move { readiness(storage.as_ref(), topics.as_deref()).await }
    };
    axum::Router::new()
        .route(
            "/_plinth/health/live",
            get(|| async { Json(serde_json::json!({ "status": "live" })) }),
        )
        .route("/_plinth/health/ready", get(ready.clone()))
        .route("/_plinth/health", get(ready))
}

/// One check's outcome as JSON, and whether it passed.
async fn check<E: std::fmt::Display>(
    what: impl Future<Output = Result<(), E>>,
) -> (bool, serde_json::Value) {
    match tokio::time::timeout(CHECK_TIMEOUT, what).await {
        Ok(Ok(())) => (true, serde_json::json!({ "ok": true })),
        Ok(Err(error)) => (
            false,
            serde_json::json!({ "ok": false, "error": error.to_string() }),
        ),
        Err(_) => (
            false,
            serde_json::json!({ "ok": false, "error": format!("no answer within {CHECK_TIMEOUT:?}") }),
        ),
    }
}

async fn readiness(storage: &dyn Storage, topics: Option<&dyn Topics>) -> Response {
    // Reading an offset is a round trip to the storage that changes nothing.
    let (storage_ok, storage_json) =
        check(async { storage.load_offset("plinth.health").await.map(drop) }).await;
    let mut checks = serde_json::json!({ "storage": storage_json });
    let mut ready = storage_ok;
    if let Some(topics) = topics {
        let (topics_ok, topics_json) = check(topics.check()).await;
        checks["topics"] = topics_json;
        ready &= topics_ok;
    }
    let (code, status) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        code,
        Json(serde_json::json!({ "status": status, "checks": checks })),
    )
        .into_response()
}
