//! Direct event streams: an action whose results form a stream other
//! services read from this one (`direct_stream`, Kalix's
//! `eventing.out.direct`). The consuming side is an ordinary subscription
//! source (`Source::Direct`).

use prost_reflect::ServiceDescriptor;

use super::Ctx;
use super::span::Loc;
use super::types::ComponentKind;
use crate::error::ErrorKind;

/// A direct event stream is an action's, and its id a plain name.
pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    service: &ServiceDescriptor,
    kind: &ComponentKind,
    stream: &str,
    at: &Loc,
) {
    if !matches!(kind, ComponentKind::Action) {
        ctx.error(
            ErrorKind::InvalidOption,
            &at.clone().at("direct"),
            "not an action",
            format!("service `{}` offers direct stream `{stream}`, but only an action's results can form one", service.name()),
            "declare the stream on an action whose methods subscribe to the entity and return the messages to publish",
        );
    }
    let valid = !stream.is_empty()
        && stream.len() <= 150
        && stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        ctx.error(
            ErrorKind::InvalidOption,
            &at.clone().at("direct"),
            "invalid stream id",
            format!("direct stream id `{stream}` of service `{}` must be 1 to 150 letters, digits, `-`, `_` or `.`", service.name()),
            "name the stream like `customer_events`",
        );
    }
}

/// The topic a direct event stream's messages are kept in by the producing
/// service (the runtime serves it to other services under the stream's id):
/// the producing methods publish there.
pub(crate) fn topic(stream: &str) -> String {
    format!("plinth-direct.{stream}")
}
