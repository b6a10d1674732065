//! View lag, observable: `GET /_plinth/views` answers JSON with every
//! projection's progress, and `GET /_plinth/metrics` the same figures in the
//! Prometheus text format (`plinth_view_lag_records`,
//! `plinth_view_oldest_undelivered_ms`, `plinth_view_delivered_total`,
//! `plinth_view_failures_total`), labelled by projection, followed by the
//! entity executor's counters ([`ExecutorStats`]).

use std::fmt::Write;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::get;

use super::ViewEngine;
use crate::executor::stats::ExecutorStats;
use crate::feed::ConsumerStatus;

/// The path of the JSON status.
pub const STATUS_PATH: &str = "/_plinth/views";
/// The path of the metrics.
pub const METRICS_PATH: &str = "/_plinth/metrics";

fn statuses(engines: &[Arc<ViewEngine>]) -> Vec<(&'static str, ConsumerStatus)> {
    engines
        .iter()
        .flat_map(|e| {
            e.projections()
                .into_iter()
                .map(move |p| (e.info.service, p.status()))
        })
        .collect()
}

/// The JSON status of every projection.
pub(crate) fn status_json(engines: &[Arc<ViewEngine>]) -> serde_json::Value {
    let projections: Vec<serde_json::Value> = statuses(engines)
        .into_iter()
        .map(|(view, s)| {
            serde_json::json!({
                "view": view,
                "projection": s.name,
                "running": s.running,
                "lag_records": s.lag_records,
                "oldest_undelivered_ms": s.oldest_undelivered_ms,
                "delivered_offset": s.delivered_offset,
                "stored_offset": s.stored_offset,
                "head_offset": s.head_offset,
                "delivered": s.delivered,
                "duplicates": s.duplicates,
                "failures": s.failures,
                "retrying_entities": s.retrying_entities,
            })
        })
        .collect();
    serde_json::json!({ "projections": projections })
}

/// A metric family: name, type, help and how to read it from a status.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ConsumerStatus) -> u64,
);

/// The metrics of every projection, in the Prometheus text format.
pub(crate) fn metrics_text(engines: &[Arc<ViewEngine>]) -> String {
    let all = statuses(engines);
    let mut out = String::new();
    let families: [Family; 4] = [
        (
            "plinth_view_lag_records",
            "gauge",
            "Change-feed records not yet applied to the view.",
            |s| s.lag_records,
        ),
        (
            "plinth_view_oldest_undelivered_ms",
            "gauge",
            "Age of the oldest record not yet applied, in milliseconds.",
            |s| s.oldest_undelivered_ms,
        ),
        (
            "plinth_view_delivered_total",
            "counter",
            "Records applied since the start.",
            |s| s.delivered,
        ),
        (
            "plinth_view_failures_total",
            "counter",
            "Failed projection attempts since the start.",
            |s| s.failures,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (_, status) in &all {
            let label = status.name.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "{name}{{projection=\"{label}\"}} {}", value(status));
        }
    }
    out
}

/// The routes of the status endpoint and the metrics.
pub(crate) fn router(engines: Vec<Arc<ViewEngine>>, entities: Arc<ExecutorStats>) -> axum::Router {
    let engines = Arc::new(engines);
    let for_metrics = engines.clone();
    axum::Router::new()
        .route(
            STATUS_PATH,
            get(move || {
                let engines = engines.clone();
                async move { axum::Json(status_json(&engines)) }
            }),
        )
        .route(
            METRICS_PATH,
            get(move || {
                let engines = for_metrics.clone();
                let entities = entities.clone();
                async move {
                    let mut text = metrics_text(&engines);
                    entities.metrics_text(&mut text);
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        text,
                    )
                        .into_response()
                }
            }),
        )
}
