//! `GET /_plinth/scheduled`: the stored calls (outbox entries and timers)
//! with their attempts and last errors, and this process's delivery counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Scheduler;

/// The path of the status.
pub const STATUS_PATH: &str = "/_plinth/scheduled";

/// The most calls listed.
const LIST_LIMIT: usize = 1000;

/// The status route.
pub(crate) fn router(scheduler: Arc<Scheduler>) -> axum::Router {
    axum::Router::new().route(
        STATUS_PATH,
        get(move || {
            let scheduler = scheduler.clone();
            async move { status(&scheduler).await }
        }),
    )
}

async fn status(scheduler: &Scheduler) -> Response {
    let calls = match scheduler.store.list_scheduled(LIST_LIMIT).await {
        Ok(calls) => calls,
        Err(error) => {
            let body = serde_json::json!({ "error": error.to_string() });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
    };
    let calls: Vec<serde_json::Value> = calls
        .into_iter()
        .map(|call| {
            serde_json::json!({
                "kind": match (&call.name, call.path.starts_with(crate::workflow::DRIVE_PATH)) {
                    (Some(_), true) => "workflow_timeout",
                    (None, true) => "workflow_step",
                    (Some(_), false) => "timer",
                    (None, false) => "side_effect",
                },
                "timer": call.name,
                "lane": call.lane,
                "method": call.path,
                "due_in_ms": call.due_in_ms,
                "attempts": call.attempts,
                "max_retries": call.max_retries,
                "last_error": call.last_error,
            })
        })
        .collect();
    let counters = &scheduler.counters;
    Json(serde_json::json!({
        "calls": calls,
        "delivered": counters.delivered.load(Ordering::Relaxed),
        "retried": counters.retried.load(Ordering::Relaxed),
        "dropped": counters.dropped.load(Ordering::Relaxed),
    }))
    .into_response()
}
