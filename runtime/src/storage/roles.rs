//! The storage roles: what each part of the runtime needs from a backend,
//! one trait each, so a part depends only on the role it uses and a backend
//! (or a test double) implements the roles it can serve.
//!
//! - [`EntityStore`]: value entity state, event journals and snapshots, every
//!   write fenced by the entity's expected sequence number.
//! - [`FeedSource`]: the change feed, read in offset order.
//! - [`OffsetStore`]: consumers' stored offsets and the leases that let one
//!   process at a time run a consumer.
//! - [`ScheduleStore`](super::ScheduleStore): the outbox and timers.
//! - [`ViewStore`](super::ViewStore): view tables.
//! - [`Storage`]: all of them together, as one backend opened from one URL.

use std::time::Duration;

use futures::future::BoxFuture;

use super::schedule::ScheduleStore;
use super::view::ViewStore;
use super::{EventAppend, FeedRecord, Replay, StateWrite, StorageResult, StoredState};

/// A write that is queued: resolves to its outcome (as
/// [`EntityStore::write_state`] or [`EntityStore::append_events`] would
/// return it) once the write is durable or has failed.
pub type QueuedWrite = BoxFuture<'static, StorageResult<u64>>;

/// Entity state, journals and snapshots. Writes return only once durable.
///
/// A backend that commits queued writes in order may also let a caller queue
/// a write and wait for it later ([`EntityStore::queue_state`],
/// [`EntityStore::queue_append`]): writes queued one after another are applied
/// in that order, in the same transaction or later ones, and their outcomes
/// are decided in that order. So a caller may queue a write fenced by the
/// sequence number an earlier queued write will produce; if the earlier one
/// fails, the fence makes the later one fail too. The default queues
/// nothing: it writes, and waits until the write is durable.
pub trait EntityStore: Send + Sync + 'static {
    /// The stored state of a value entity, if it was ever written.
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>>;

    /// Write a value entity's state (or delete it) and its feed record, fenced by
    /// `expected_seq`. Returns the new sequence number, `expected_seq + 1`.
    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<u64>>;

    /// The latest snapshot and the later events of an event-sourced entity.
    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>>;

    /// Append events (and their feed records, and an optional snapshot), fenced by
    /// `expected_seq`. Returns the sequence number of the last event,
    /// `expected_seq` plus the number of events.
    fn append_events(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<u64>>;

    /// Queue [`EntityStore::write_state`]: resolves once the write is queued
    /// behind every write queued before, with its outcome to wait for.
    fn queue_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        Box::pin(async move {
            let outcome = self.write_state(write).await;
            Ok(Box::pin(std::future::ready(outcome)) as QueuedWrite)
        })
    }

    /// Queue [`EntityStore::append_events`], as [`EntityStore::queue_state`].
    fn queue_append(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        Box::pin(async move {
            let outcome = self.append_events(append).await;
            Ok(Box::pin(std::future::ready(outcome)) as QueuedWrite)
        })
    }
}

/// A change feed: records in offset order. A reader never skips a committed
/// record: a record becomes readable only when every record with a lower
/// offset is readable too.
pub trait FeedSource: Send + Sync + 'static {
    /// Feed records with `offset > after`, for the given type_ids (all when
    /// empty), at most `limit`, in offset order.
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>>;

    /// A commit notification: a receiver holding the last readable feed
    /// offset, updated after commits that added feed records, so consumers
    /// wake up right away instead of polling. Its sender closes when the
    /// source stops. `None` (the default) when the source cannot notify:
    /// consumers then poll [`FeedSource::read_feed`].
    fn feed_watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// Consumers' offsets, and leases: a named lease is held by one holder at a
/// time until it expires or is released, so among several processes one at a
/// time runs a consumer.
pub trait OffsetStore: Send + Sync + 'static {
    /// The stored offset of a consumer (0 when it never stored one).
    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>>;

    /// Store a consumer's offset durably. An offset never moves back: storing
    /// one lower than the stored one keeps the stored one.
    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>>;

    /// Take or renew the lease `name` for `holder`, to expire `ttl` from now.
    /// `true` when `holder` holds it now; `false` when another holder's lease
    /// has not expired (nothing changes then).
    fn claim_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>>;

    /// Give up the lease `name` if `holder` holds it, so another holder may
    /// take it at once.
    fn release_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, StorageResult<()>>;

    /// How many leases whose names start with `prefix` are held and not
    /// expired (the live members of a service, for example).
    fn count_leases<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StorageResult<u64>>;
}

/// A whole storage backend: every role, opened from one URL
/// (see [`open`](super::open)).
pub trait Storage: EntityStore + FeedSource + OffsetStore + ScheduleStore {
    /// The backend's view tables; `None` when it cannot hold them, and then a
    /// service with views does not start.
    fn views(&self) -> Option<&dyn ViewStore> {
        None
    }

    /// Whether several processes may serve one service over this storage.
    /// When they may, a process cannot trust the entity state it cached:
    /// it validates it against storage before it serves a command or a read.
    fn shared(&self) -> bool {
        false
    }

    /// Finish queued writes and release the backend's resources. Later
    /// operations fail with [`StorageError::Closed`](super::StorageError::Closed).
    /// Closing twice is fine.
    fn close(&self) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async { Ok(()) })
    }

    /// A short description for the log (a path, or a URL without its password).
    fn describe(&self) -> String;

    /// The backend's own metrics, appended in the Prometheus text format
    /// (`GET /_plinth/metrics`); none by default.
    fn metrics_text(&self, out: &mut String) {
        let _ = out;
    }
}
