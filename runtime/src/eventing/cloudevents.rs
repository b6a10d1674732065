//! CloudEvents attributes (binary content mode: one `ce-*` entry each) on
//! delivered and published messages, and the content types of payloads.

use std::time::UNIX_EPOCH;

use crate::clock::Clock;
use crate::context::Metadata;
use crate::storage::{FeedKind, FeedRecord};

/// `ce-specversion`: the CloudEvents version.
pub const SPEC_VERSION: &str = "ce-specversion";
/// `ce-id`: unique per event and source (a redelivery keeps it).
pub const ID: &str = "ce-id";
/// `ce-type`: the fully qualified protobuf message name of the payload.
pub const TYPE: &str = "ce-type";
/// `ce-source`: what produced the event.
pub const SOURCE: &str = "ce-source";
/// `ce-subject`: the entity the event is about; ordering is per subject.
pub const SUBJECT: &str = "ce-subject";
/// `ce-time`: when the event was published (RFC 3339, UTC).
pub const TIME: &str = "ce-time";
/// `content-type`: the payload's encoding.
pub const CONTENT_TYPE: &str = "content-type";
/// Protobuf payloads (the default).
pub const PROTOBUF: &str = "application/protobuf";
/// Canonical proto3 JSON payloads.
pub const JSON: &str = "application/json";
/// The message name of a delete's (empty) payload.
pub const DELETE_TYPE: &str = "google.protobuf.Empty";

/// The attributes of a change-feed record delivered to a subscription:
/// `ce-id` is `<type_id>/<entity_id>/<seq>`, the same on every redelivery.
pub fn of_record(record: &FeedRecord) -> Metadata {
    let ce_type = match record.kind {
        FeedKind::Delete => DELETE_TYPE,
        FeedKind::State | FeedKind::Event => record.type_name.as_str(),
    };
    let mut metadata = Metadata::new()
        .with(SPEC_VERSION, "1.0")
        .with(
            ID,
            format!("{}/{}/{}", record.type_id, record.entity_id, record.seq),
        )
        .with(TYPE, ce_type)
        .with(SOURCE, format!("/entities/{}", record.type_id))
        .with(SUBJECT, record.entity_id.as_str())
        .with(CONTENT_TYPE, PROTOBUF)
        .with("plinth-seq", record.seq.to_string());
    if let Some(trace) = &record.trace {
        crate::trace::restore(trace, &mut metadata);
    }
    metadata
}

/// Now by `clock` as RFC 3339 in UTC with microseconds
/// (`2026-12-01T15:04:05.123456Z`).
pub fn now_rfc3339(clock: &dyn Clock) -> String {
    let since = clock.now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_micros())
}

/// Seconds and microseconds since the Unix epoch as RFC 3339 in UTC.
fn rfc3339(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(rfc3339(1_796_137_445, 0), "2026-12-01T15:04:05.000000Z");
        assert!(now_rfc3339(&crate::clock::SystemClock).ends_with('Z'));
    }

    #[test]
    fn records_carry_their_identity() {
        let record = FeedRecord {
            offset: 9,
            type_id: "counters".into(),
            entity_id: "c1".into(),
            seq: 3,
            kind: FeedKind::State,
            type_name: "counter.CounterState".into(),
            payload: Bytes::new(),
            trace: None,
        };
        let metadata = of_record(&record);
        assert_eq!(metadata.get("traceparent"), None);
        assert_eq!(metadata.get(ID), Some("counters/c1/3"));
        assert_eq!(metadata.get(TYPE), Some("counter.CounterState"));
        assert_eq!(metadata.get(SUBJECT), Some("c1"));
        let deleted = of_record(&FeedRecord {
            kind: FeedKind::Delete,
            type_name: String::new(),
            ..record.clone()
        });
        assert_eq!(deleted.get(TYPE), Some(DELETE_TYPE));
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let traced = of_record(&FeedRecord {
            trace: Some(format!("{parent}\nvendor=1")),
            ..record
        });
        assert_eq!(traced.get("traceparent"), Some(parent));
        assert_eq!(traced.get("tracestate"), Some("vendor=1"));
    }
}
