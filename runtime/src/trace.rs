//! W3C trace context (`traceparent`, `tracestate`): a call's context is
//! carried on to what the call causes — calls a handler makes through its
//! context (they carry the call's metadata), and messages it publishes
//! (their attributes), so subscribers of the topic see it in their
//! metadata — and changes it makes to entities (stored with each change-feed
//! record and scheduled call, [`stored`]), so the subscriptions that consume
//! the change, and the calls made later, see it in their metadata
//! ([`restore`]). A malformed `traceparent` is not carried (nor its
//! `tracestate`), as the W3C recommendation says. With spans exported over
//! OTLP, what a handler publishes names the current span as its parent
//! (`crate::telemetry`).

use crate::context::Metadata;

/// The header naming the caller's trace and span.
pub(crate) const TRACEPARENT: &str = "traceparent";
/// The vendor-specific trace state that goes with it.
pub(crate) const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` carried (the W3C limit is 512 characters).
const MAX_TRACESTATE: usize = 512;

/// Whether `value` is a well-formed `traceparent`:
/// `version-traceid-parentid-flags` in lower-case hex, ids not all zero,
/// version `ff` invalid (later versions may append fields).
pub(crate) fn is_valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |part: &str| part.bytes().any(|b| b != b'0');
    match parts.as_slice() {
        [version, trace, parent, flags, rest @ ..] => {
            hex(version, 2)
                && *version != "ff"
                && (rest.is_empty() || *version != "00")
                && hex(trace, 32)
                && nonzero(trace)
                && hex(parent, 16)
                && nonzero(parent)
                && hex(flags, 2)
        }
        _ => false,
    }
}

/// Copy the trace context of `from` onto `to`, when it is well formed.
/// With spans exported, the context put on `to` names the current span
/// instead (its trace is the caller's, when the call came with one).
pub(crate) fn carry(from: &Metadata, to: &mut Metadata) {
    if let Some((parent, state)) = crate::telemetry::outgoing_context() {
        to.insert(TRACEPARENT, parent);
        if let Some(state) = state.filter(|s| s.len() <= MAX_TRACESTATE) {
            to.insert(TRACESTATE, state);
        }
        return;
    }
    let Some(parent) = from.get(TRACEPARENT).filter(|p| is_valid_traceparent(p)) else {
        return;
    };
    to.insert(TRACEPARENT, parent);
    if let Some(state) = from.get(TRACESTATE).filter(|s| s.len() <= MAX_TRACESTATE) {
        to.insert(TRACESTATE, state);
    }
}

/// The trace context of `metadata` as it is stored with a change:
/// `traceparent`, then a newline and `tracestate` when there is one; `None`
/// when there is no well-formed `traceparent`. With spans exported, the
/// current span's context instead (as [`carry`]).
pub(crate) fn stored(metadata: &Metadata) -> Option<String> {
    if let Some((parent, state)) = crate::telemetry::outgoing_context() {
        return Some(
            match state.filter(|s| s.len() <= MAX_TRACESTATE && !s.contains('\n')) {
                Some(state) => format!("{parent}\n{state}"),
                None => parent,
            },
        );
    }
    let parent = metadata
        .get(TRACEPARENT)
        .filter(|p| is_valid_traceparent(p))?;
    Some(
        match metadata
            .get(TRACESTATE)
            .filter(|s| s.len() <= MAX_TRACESTATE && !s.contains('\n'))
        {
            Some(state) => format!("{parent}\n{state}"),
            None => parent.to_owned(),
        },
    )
}

/// Put a stored trace context ([`stored`]) back into `metadata`.
pub(crate) fn restore(stored: &str, metadata: &mut Metadata) {
    let (parent, state) = match stored.split_once('\n') {
        Some((parent, state)) => (parent, Some(state)),
        None => (stored, None),
    };
    if !is_valid_traceparent(parent) {
        return;
    }
    metadata.insert(TRACEPARENT, parent);
    if let Some(state) = state {
        metadata.insert(TRACESTATE, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn only_well_formed_trace_parents_are_valid() {
        assert!(is_valid_traceparent(GOOD));
        assert!(is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_valid_context_is_carried_and_a_malformed_one_is_not() {
        let from = Metadata::new()
            .with("traceparent", GOOD)
            .with("tracestate", "vendor=1");
        let mut to = Metadata::new();
        carry(&from, &mut to);
        assert_eq!(to.get("traceparent"), Some(GOOD));
        assert_eq!(to.get("tracestate"), Some("vendor=1"));

        let bad = Metadata::new()
            .with("traceparent", "nonsense")
            .with("tracestate", "vendor=1");
        let mut to = Metadata::new();
        carry(&bad, &mut to);
        assert!(to.get("traceparent").is_none() && to.get("tracestate").is_none());
    }

    #[test]
    fn a_stored_context_comes_back_as_it_was() {
        let with_state = Metadata::new()
            .with("traceparent", GOOD)
            .with("tracestate", "vendor=1,other=2");
        let stored = stored(&with_state).expect("well formed");
        let mut back = Metadata::new();
        restore(&stored, &mut back);
        assert_eq!(back.get("traceparent"), Some(GOOD));
        assert_eq!(back.get("tracestate"), Some("vendor=1,other=2"));

        let alone = super::stored(&Metadata::new().with("traceparent", GOOD));
        assert_eq!(alone.as_deref(), Some(GOOD));
        assert_eq!(
            super::stored(&Metadata::new().with("traceparent", "bad")),
            None
        );
        let mut untouched = Metadata::new();
        restore("bad\nvendor=1", &mut untouched);
        assert!(untouched.get("traceparent").is_none() && untouched.get("tracestate").is_none());
    }
}
