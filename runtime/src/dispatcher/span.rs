//! The dispatcher's span of one handler call (see `docs/tracing.md`): made
//! per call from static names, so it allocates nothing.

use super::Route;
use crate::context::Metadata;

/// The span of one handler call: a child of the current span (the call's
/// front-door span, or the handler that called through its context), or,
/// for a call from no span (a delivered message, a scheduled call), of the
/// trace context in its metadata when spans are exported.
pub(super) fn handler_span(route: Option<&Route>, metadata: &Metadata) -> tracing::Span {
    let Some(route) = route else {
        return tracing::Span::none();
    };
    let method = &route.info.methods[route.method];
    // Only an exported span can take a remote parent: skip the lookup otherwise.
    let orphan = crate::telemetry::exporting() && tracing::Span::current().is_none();
    let span = tracing::info_span!(
        "plinth.handler",
        otel.name = method.path.trim_start_matches('/'),
        component = route.info.name,
        method = method.name,
    );
    if orphan {
        crate::telemetry::follow_remote_parent(&span, metadata);
    }
    span
}
