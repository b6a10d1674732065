//! Tracing spans and their export over OTLP.
//!
//! The runtime always makes its spans (front door, dispatcher, executor,
//! storage; see `docs/tracing.md`); with no subscriber interested they cost
//! a level check each. When an OTLP endpoint is configured
//! (`PLINTH_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` or `otlp_endpoint:`),
//! starting the service installs, once per process, a tracing subscriber
//! that logs as without export (filtered by `PLINTH_LOG`) and also sends
//! the spans (those `PLINTH_LOG` lets through, never fewer than INFO)
//! through a batch span processor on the tokio runtime to the
//! collector over OTLP/gRPC. Without an endpoint no exporter, provider or
//! bridge layer exists.
//!
//! Guarantees:
//! - a call whose `traceparent` is valid joins the caller's trace: its
//!   front-door span is a child of the caller's span;
//! - a delivered message or scheduled call whose metadata carries a
//!   `traceparent` starts its handler span as a child of that context;
//! - with export on, what the runtime sends on (published messages) names
//!   the current span as its parent; with it off the caller's
//!   `traceparent` is carried unchanged (`crate::trace`);
//! - a graceful shutdown flushes the spans still queued; export failures
//!   are logged, never fail a call.

mod propagate;

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Config;

pub(crate) use propagate::{follow_remote_parent, outgoing_context, rename, set_remote_parent};

/// The tracer provider, once export is installed in this process.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (an OTLP endpoint is configured and the
/// exporting subscriber is the process's).
pub(crate) fn exporting() -> bool {
    PROVIDER.get().is_some()
}

/// Install logging (and, with an endpoint configured, export) for a
/// service started by `Service::run`: a subscriber with `config.log` as
/// its filter, unless one is installed.
pub(crate) fn install_for_run(config: &Config) {
    install_export(config);
    if !exporting() {
        // No endpoint, or the exporter could not be set up: log all the same.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter(&config.log))
            .with_ansi(ansi())
            .try_init();
    }
}

/// Install export for a started service when an endpoint is configured
/// and export is not installed yet. A process whose tracing subscriber was
/// installed before (by its own code) keeps it, and nothing is exported:
/// that is logged as a warning.
pub(crate) fn install_export(config: &Config) {
    let Some(endpoint) = &config.otlp_endpoint else {
        return;
    };
    if exporting() {
        return;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            tracing::warn!(%error, %endpoint, "cannot set up the OTLP span exporter; spans are not exported");
            return;
        }
    };
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(service_name(config))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("plinth"));
    let installed = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi())
                .with_filter(filter(&config.log)),
        )
        .with(layer.with_filter(export_filter(&config.log)))
        .try_init();
    match installed {
        Ok(()) => {
            if PROVIDER.set(provider).is_ok() {
                tracing::info!(%endpoint, "exporting spans over OTLP");
            }
        }
        Err(_) => {
            tracing::warn!(
                %endpoint,
                "an OTLP endpoint is configured, but a tracing subscriber was installed before the service started; spans are not exported"
            );
            let _ = provider.shutdown();
        }
    }
}

/// Send the spans still queued (a service stopping; the provider stays for
/// other services of the process).
pub(crate) async fn flush() {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    // The processor's flush blocks until its task on this runtime answers.
    let provider = provider.clone();
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    if let Ok(Err(error)) = flushed {
        tracing::warn!(%error, "flushing spans to the OTLP endpoint failed");
    }
}

/// Flush and stop the exporter (the process is ending).
pub(crate) async fn shutdown() {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    let provider = provider.clone();
    let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(error)) = stopped {
        tracing::warn!(%error, "stopping the OTLP span exporter failed");
    }
}

/// The `service.name` of exported spans: `OTEL_SERVICE_NAME` (or
/// `service_name:`), else the name of the running program.
fn service_name(config: &Config) -> String {
    config
        .service_name
        .clone()
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "plinth".to_owned())
}

fn filter(log: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_new(log).unwrap_or_else(|_| "info".into())
}

/// What is exported: the spans `PLINTH_LOG` lets through, and never fewer
/// than the INFO ones (a quiet log still exports the runtime's spans).
fn export_filter(log: &str) -> tracing_subscriber::EnvFilter {
    let from_log = filter(log);
    match from_log.max_level_hint() {
        Some(level) if level < tracing::level_filters::LevelFilter::INFO => filter("info"),
        _ => from_log,
    }
}

fn ansi() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
}
