//! `GET /_plinth/workflows/{type_id}/{id}`: where one workflow is.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::runner::WorkflowDriver;

/// The workflows of a service, by type_id.
pub(crate) type Workflows = Arc<HashMap<&'static str, Arc<dyn WorkflowDriver>>>;

/// The route, serving the workflows of `workflows`.
pub(crate) fn router(workflows: Workflows) -> axum::Router {
    axum::Router::new().route(
        "/_plinth/workflows/{type_id}/{*id}",
        get(move |Path((type_id, id)): Path<(String, String)>| {
            let workflows = workflows.clone();
            async move { status(&workflows, &type_id, &id).await }
        }),
    )
}

async fn status(workflows: &Workflows, type_id: &str, id: &str) -> Response {
    let Some(driver) = workflows.get(type_id) else {
        let body = serde_json::json!({ "error": format!("no workflow has type_id {type_id:?}") });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    match driver.position(id).await {
        Ok(Some(position)) => Json(serde_json::json!({
            "type_id": type_id,
            "id": id,
            "status": position.status.as_str(),
            "step": position.step,
            "attempts": position.attempts,
            "timed_out": position.timed_out,
        }))
        .into_response(),
        Ok(None) => {
            let body = serde_json::json!({ "error": format!("workflow {type_id}/{id} was never started") });
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
        Err(status) => {
            let body = serde_json::json!({ "error": status.message() });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
