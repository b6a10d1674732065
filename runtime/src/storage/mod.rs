//! Durable storage behind one trait: entity state, event journals, snapshots,
//! the change feed, and consumer offsets. The SQLite backend is the embedded
//! default; a PostgreSQL backend implements the same trait.
//!
//! Every write is fenced by the entity's expected sequence number: a write whose
//! expectation does not hold fails with [`StorageError::Conflict`] and changes
//! nothing, so two writers can never interleave silently.

use bytes::Bytes;
use futures::future::BoxFuture;

mod sqlite;
pub mod view;

pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStorage, WriteStats};
pub use view::{ViewBatch, ViewStore, ViewWrite};

/// The result type of storage operations.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
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
    /// The backend failed (I/O, corruption, lost connection).
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
    /// The fully qualified message name of the state, recorded on the change
    /// feed (ignored for deletes, whose feed records carry an empty name).
    pub type_name: String,
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
}

/// A storage backend. Writes return only once durable.
pub trait Storage: Send + Sync + 'static {
    /// The stored state of a value entity, if it was ever written.
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>>;

    /// Write a value entity's state (or delete it) and its feed record, fenced by
    /// `expected_seq`. Returns the new sequence number.
    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<u64>>;

    /// The latest snapshot and the later events of an event-sourced entity.
    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>>;

    /// Append events (and their feed records, and an optional snapshot), fenced by
    /// `expected_seq`. Returns the sequence number of the last event.
    fn append_events(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<u64>>;

    /// Feed records with `offset > after`, for the given type_ids (all when
    /// empty), at most `limit`, in offset order.
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>>;

    /// The stored offset of a consumer (0 when it never stored one).
    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>>;

    /// Store a consumer's offset durably.
    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>>;

    /// A commit notification: a receiver holding the last committed feed
    /// offset, updated after every commit that added feed records, so
    /// consumers wake up right away instead of polling. Its sender closes
    /// when the storage stops. `None` (the default) when the backend cannot
    /// notify: consumers then poll [`Storage::read_feed`].
    fn feed_watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// The backend's support for view tables; `None` (the default) when it
    /// cannot hold them, and then a service with views does not start.
    fn views(&self) -> Option<&dyn ViewStore> {
        None
    }
}
