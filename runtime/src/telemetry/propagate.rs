//! W3C trace context in and out of the exported spans: the incoming
//! `traceparent` of a call (headers, gRPC metadata) or of a delivered
//! message (its metadata) becomes the parent of the span serving it, and
//! the current span is what goes out. Everything here does nothing unless
//! spans are exported.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::context::Metadata;
use crate::trace::{TRACEPARENT, TRACESTATE, is_valid_traceparent};

/// Make the caller's context in `headers` the parent of `span` (the
/// front-door span of the call), when spans are exported and the
/// `traceparent` is valid.
pub(crate) fn set_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    if !super::exporting() {
        return;
    }
    let Some(parent) = headers
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_valid_traceparent(value))
    else {
        return;
    };
    let state = headers
        .get(TRACESTATE)
        .and_then(|value| value.to_str().ok());
    adopt(span, parent, state);
}

/// Make the context of `metadata` the parent of `span` (the handler span
/// of a call that came from no span of this process: a delivered message,
/// a scheduled call), when spans are exported and its `traceparent` is
/// valid.
pub(crate) fn follow_remote_parent(span: &tracing::Span, metadata: &Metadata) {
    if !super::exporting() {
        return;
    }
    let Some(parent) = metadata
        .get(TRACEPARENT)
        .filter(|value| is_valid_traceparent(value))
    else {
        return;
    };
    adopt(span, parent, metadata.get(TRACESTATE));
}

/// The `traceparent` (and `tracestate`) naming the current span, when
/// spans are exported and there is one.
pub(crate) fn outgoing_context() -> Option<(String, Option<String>)> {
    if !super::exporting() {
        return None;
    }
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.parent.map(|parent| (parent, carrier.state))
}

/// Give the exported span of `span` this name (its route is known only
/// once the call is being served, after the span began).
pub(crate) fn rename(span: &tracing::Span, name: String) {
    if super::exporting() {
        span.context().span().update_name(name);
    }
}

fn adopt(span: &tracing::Span, parent: &str, state: Option<&str>) {
    let carrier = Carrier {
        parent: Some(parent.to_owned()),
        state: state.map(str::to_owned),
    };
    let context = TraceContextPropagator::new().extract(&carrier);
    // Fails only for a span that is already closed or not exported.
    let _ = span.set_parent(context);
}

/// The two trace-context fields, as the propagator reads and writes them.
#[derive(Default)]
struct Carrier {
    parent: Option<String>,
    state: Option<String>,
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.parent.as_deref(),
            TRACESTATE => self.state.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.parent = Some(value),
            TRACESTATE if !value.is_empty() => self.state = Some(value),
            _ => {}
        }
    }
}
