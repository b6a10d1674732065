//! Durable storage behind role traits (see [`roles`](self::EntityStore)):
//! entity state, event journals and snapshots; the change feed; consumer
//! offsets and leases; the schedule (outbox and timers); view tables. Each backend lives in one folder
//! (`sqlite/`, `postgres/`) and is opened from one URL by [`open`]: the
//! embedded SQLite file is the default, PostgreSQL is how several processes
//! serve one service.
//!
//! Every write is fenced by the entity's expected sequence number: a write whose
//! expectation does not hold fails with [`StorageError::Conflict`] and changes
//! nothing, so two writers can never interleave silently.

use bytes::Bytes;

mod open;
mod postgres;
mod roles;
mod schedule;
mod sqlite;
pub mod view;

pub use open::{StorageTarget, open};
pub(crate) use open::{open_with_clock, redact};
pub use postgres::{PostgresOptions, PostgresStorage};
pub use roles::{EntityStore, FeedSource, OffsetStore, QueuedWrite, Storage};
pub use schedule::{Claim, DueCall, ScheduleOp, ScheduleStore, ScheduledCall};
pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStorage, WriteStats};
pub use view::{RowChange, ViewBatch, ViewStore, ViewWrite};

/// The result type of storage operations.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The entity's sequence number was not the expected one: another writer got
    /// there first. Nothing was written; reload and retry.
    #[error("conflict on {type_id}/{entity_id}: expected sequence {expected}, found {actual}")]
    Conflict {
        /// The entity's type_id.
        type_id: String,
        /// The entity id.
        entity_id: String,
        /// The sequence number the writer expected.
        expected: u64,
        /// The sequence number stored.
        actual: u64,
    },
    /// The backend is unreachable for now (a lost connection, a database
    /// restarting, no free connection in time). Whether a write in flight
    /// landed is unknown; retrying later may succeed.
    #[error("storage unavailable, retry: {0}")]
    Transient(String),
    /// The data directory or database is in use by another process that
    /// may not share it (an SQLite file is served by one process only).
    #[error("storage in use: {0}")]
    InUse(String),
    /// The backend failed (I/O, corruption, a statement refused).
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The storage was closed.
    #[error("storage is closed")]
    Closed,
}

/// A value entity's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// The number of changes written so far (1 after the first write).
    pub seq: u64,
    /// The encoded state; `None` when the last change was a delete.
    pub payload: Option<Bytes>,
    /// What the runtime keeps about the entity beside its state (a
    /// workflow's position), as the last write left it.
    pub meta: Option<Bytes>,
}

/// A change to a value entity's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    /// The entity's type_id.
    pub type_id: String,
    /// The entity id.
    pub entity_id: String,
    /// The sequence number the writer saw (0 for an entity never written).
    pub expected_seq: u64,
    /// The new encoded state, or `None` to delete.
    pub payload: Option<Bytes>,
    /// What the runtime keeps about the entity beside its state (a
    /// workflow's position): stored with the state, replacing what was
    /// there, and not recorded on the change feed.
    pub meta: Option<Bytes>,
    /// The fully qualified message name of the state, recorded on the change
    /// feed (ignored for deletes, whose feed records carry an empty name).
    pub type_name: String,
    /// Schedule changes (the command's side effects, timers) committed with
    /// the write, in the same transaction: none of them if it fails.
    pub schedule: Vec<ScheduleOp>,
    /// The trace context of the call that made the change (`traceparent`,
    /// then a newline and `tracestate` when there is one), recorded on each
    /// of its change-feed records so that their consumers continue the trace.
    pub trace: Option<String>,
}

/// One journal event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its sequence number within the entity (1, 2, ...; no gaps).
    pub seq: u64,
    /// The fully qualified message name of the payload.
    pub type_name: String,
    /// The encoded event.
    pub payload: Bytes,
}

/// What rebuilding an event-sourced entity needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// The latest snapshot: the sequence number it includes and the encoded state.
    pub snapshot: Option<(u64, Bytes)>,
    /// The events after the snapshot, in order.
    pub events: Vec<StoredEvent>,
    /// Whether the entity was deleted.
    pub deleted: bool,
}

/// Events to append to a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAppend {
    /// The entity's type_id.
    pub type_id: String,
    /// The entity id.
    pub entity_id: String,
    /// The sequence number of the last event the writer saw (0 for none).
    pub expected_seq: u64,
    /// The events as `(type_name, payload)`; they get `expected_seq + 1 ..`.
    pub events: Vec<(String, Bytes)>,
    /// A snapshot of the state after the events, to store with them.
    pub snapshot: Option<Bytes>,
    /// Mark the entity deleted after the events. Deletion is final: the journal's
    /// [`Replay::deleted`] stays set; deleting records no feed record.
    pub delete: bool,
    /// Schedule changes committed with the events, in the same transaction.
    pub schedule: Vec<ScheduleOp>,
    /// The trace context of the call that made the change (`traceparent`,
    /// then a newline and `tracestate` when there is one), recorded on each
    /// of its change-feed records so that their consumers continue the trace.
    pub trace: Option<String>,
}

/// The kind of a change-feed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// A value entity's new state.
    State,
    /// A value entity was deleted.
    Delete,
    /// An event-sourced entity's event.
    Event,
}

/// One record of the change feed: every state change and every event, in
/// commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    /// Position in the feed (increasing, assigned at commit).
    pub offset: u64,
    /// The entity's type_id.
    pub type_id: String,
    /// The entity id.
    pub entity_id: String,
    /// The entity's sequence number of this change.
    pub seq: u64,
    /// What changed.
    pub kind: FeedKind,
    /// The message name of the payload (state or event type; empty for deletes).
    pub type_name: String,
    /// The encoded state or event (empty for deletes).
    pub payload: Bytes,
    /// The trace context of the call that made the change, as written
    /// ([`StateWrite::trace`]).
    pub trace: Option<String>,
}

/// The span of one committed batch of writes on a backend's writer: a
/// child of the first write's command span (so a lone write is in its
/// caller's trace), following from the others' (links when exported), with
/// the batch size.
pub(crate) fn batch_span(system: &'static str, callers: &[tracing::Span]) -> tracing::Span {
    let parent = callers.first().and_then(tracing::Span::id);
    let span = tracing::info_span!(
        parent: parent,
        "plinth.storage.commit",
        db.system = system,
        batch.size = callers.len(),
    );
    if !span.is_disabled() {
        for caller in callers.iter().skip(1) {
            span.follows_from(caller);
        }
    }
    span
}
