//! HTTP/JSON routes of the reference service.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::backend::Backend;
use super::store::CustomerRow;

/// Body of `POST|PUT /customers/{id}`; absent fields are empty, as in proto3 JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UpsertBody {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Payload.
    pub payload: String,
}

/// Body of `POST /customers/{id}/events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventBody {
    /// Event kind.
    pub kind: String,
    /// Payload.
    pub payload: String,
}

/// The routes, over `store` (SQLite or PostgreSQL).
pub fn router(store: Backend) -> axum::Router {
    axum::Router::new()
        .route(
            "/customers/{id}",
            get(get_customer).post(upsert).put(upsert),
        )
        .route("/customers/{id}/events", post(record_event))
        .route("/health", get(|| async { "ok" }))
        .with_state(store)
}

fn failure(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn upsert(
    State(store): State<Backend>,
    Path(id): Path<String>,
    Json(body): Json<UpsertBody>,
) -> Response {
    let row = CustomerRow {
        id,
        name: body.name,
        email: body.email,
        payload: body.payload,
    };
    match store.upsert(row).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_customer(State(store): State<Backend>, Path(id): Path<String>) -> Response {
    match store.get(id.clone()).await {
        Ok(Some(row)) => Json(row).into_response(),
        Ok(None) => failure(StatusCode::NOT_FOUND, format!("customer `{id}` not found")),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn record_event(
    State(store): State<Backend>,
    Path(id): Path<String>,
    Json(body): Json<EventBody>,
) -> Response {
    match store.record_event(id, body.kind, body.payload).await {
        Ok(seq) => Json(json!({ "seq": seq })).into_response(),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
