//! Consumer lag, observable: `GET /_plinth/views` answers JSON with every
//! view projection's progress, `GET /_plinth/subscriptions` every
//! subscription's, and `GET /_plinth/metrics` the same figures in the
//! Prometheus text format (`plinth_view_lag_records`,
//! `plinth_view_oldest_undelivered_ms`, `plinth_view_delivered_total`,
//! `plinth_view_failures_total` labelled by projection, and the same
//! `plinth_subscription_*` families labelled by consumer), followed by the
//! entity executor's counters ([`ExecutorStats`]).

use std::fmt::Write;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::get;

use super::ViewEngine;
use crate::dispatcher::metrics::MethodMetrics;
use crate::executor::stats::ExecutorStats;
use crate::feed::{ConsumerStatus, StatusSource};

/// The path of the JSON status.
pub const STATUS_PATH: &str = "/_plinth/views";
/// The path of the metrics.
pub const METRICS_PATH: &str = "/_plinth/metrics";
/// The path of the subscriptions' status.
pub const SUBSCRIPTIONS_PATH: &str = "/_plinth/subscriptions";

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

/// One consumer's progress as JSON.
fn consumer_json(s: &ConsumerStatus) -> serde_json::Value {
    serde_json::json!({
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
}

/// The JSON status of every projection.
pub(crate) fn status_json(engines: &[Arc<ViewEngine>]) -> serde_json::Value {
    let projections: Vec<serde_json::Value> = statuses(engines)
        .into_iter()
        .map(|(view, s)| {
            let mut json = consumer_json(&s);
            json["view"] = view.into();
            json["projection"] = s.name.clone().into();
            json
        })
        .collect();
    serde_json::json!({ "projections": projections })
}

/// The JSON status of every subscription consumer.
fn subscriptions_json(subscriptions: &[StatusSource]) -> serde_json::Value {
    let consumers: Vec<serde_json::Value> = subscriptions
        .iter()
        .map(|source| {
            let s = source.status();
            let mut json = consumer_json(&s);
            json["consumer"] = s.name.clone().into();
            json
        })
        .collect();
    serde_json::json!({ "subscriptions": consumers })
}

/// A metric family: name suffix, type, help and how to read it from a status.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ConsumerStatus) -> u64,
);

/// The families every consumer kind reports.
const FAMILIES: [Family; 4] = [
    (
        "lag_records",
        "gauge",
        "Change-feed records not yet handled.",
        |s| s.lag_records,
    ),
    (
        "oldest_undelivered_ms",
        "gauge",
        "Age of the oldest record not yet handled, in milliseconds.",
        |s| s.oldest_undelivered_ms,
    ),
    (
        "delivered_total",
        "counter",
        "Records handled since the start.",
        |s| s.delivered,
    ),
    (
        "failures_total",
        "counter",
        "Failed attempts since the start.",
        |s| s.failures,
    ),
];

/// The metrics of `statuses` as families `plinth_<kind>_*`, labelled `label`.
fn consumer_metrics(out: &mut String, kind: &str, label: &str, statuses: &[ConsumerStatus]) {
    for (suffix, family, help, value) in FAMILIES {
        let name = format!("plinth_{kind}_{suffix}");
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {family}");
        for status in statuses {
            let name_label = status.name.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "{name}{{{label}=\"{name_label}\"}} {}", value(status));
        }
    }
}

/// The metrics of every projection and subscription, in the Prometheus text format.
pub(crate) fn metrics_text(engines: &[Arc<ViewEngine>], subscriptions: &[StatusSource]) -> String {
    let mut out = String::new();
    let views: Vec<ConsumerStatus> = statuses(engines).into_iter().map(|(_, s)| s).collect();
    consumer_metrics(&mut out, "view", "projection", &views);
    let subscriptions: Vec<ConsumerStatus> =
        subscriptions.iter().map(StatusSource::status).collect();
    consumer_metrics(&mut out, "subscription", "consumer", &subscriptions);
    out
}

/// The routes of the status endpoints and the metrics.
pub(crate) fn router(
    engines: Vec<Arc<ViewEngine>>,
    subscriptions: Vec<StatusSource>,
    entities: Arc<ExecutorStats>,
    methods: Arc<MethodMetrics>,
    storage: Arc<dyn crate::storage::Storage>,
) -> axum::Router {
    let engines = Arc::new(engines);
    let subscriptions = Arc::new(subscriptions);
    let (for_metrics, subscriptions_for_metrics) = (engines.clone(), subscriptions.clone());
    axum::Router::new()
        .route(
            STATUS_PATH,
            get(move || {
                let engines = engines.clone();
                async move { axum::Json(status_json(&engines)) }
            }),
        )
        .route(
            SUBSCRIPTIONS_PATH,
            get(move || {
                let subscriptions = subscriptions.clone();
                async move { axum::Json(subscriptions_json(&subscriptions)) }
            }),
        )
        .route(
            METRICS_PATH,
            get(move || {
                let engines = for_metrics.clone();
                let subscriptions = subscriptions_for_metrics.clone();
                let entities = entities.clone();
                let methods = methods.clone();
                let storage = storage.clone();
                async move {
                    let mut text = metrics_text(&engines, &subscriptions);
                    entities.metrics_text(&mut text);
                    methods.metrics_text(&mut text);
                    storage.metrics_text(&mut text);
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        text,
                    )
                        .into_response()
                }
            }),
        )
}
