//! The change-feed consumer engine shared by view projections and action
//! subscriptions.
//!
//! A consumer reads the storage's change feed after its stored offset and
//! hands every record to a [`FeedHandler`]:
//!
//! - at least once: the offset stored is the low watermark (every record at
//!   or below it was handled), stored every few hundred milliseconds or
//!   records and on shutdown, so a crash re-delivers only records not known
//!   done;
//! - in per-entity order: an entity's records run one job at a time, in
//!   sequence order; different entities run concurrently (bounded);
//! - never skipping: a failing record is retried with exponential backoff
//!   while later records of its entity wait and other entities keep flowing;
//! - deduplicated by `(entity, seq)`: records at or below the sequence number
//!   already applied (in memory for the run, or as
//!   [`FeedHandler::applied_seq`] reports) are dropped;
//! - woken by the storage's commit notification ([`FeedSource::feed_watch`]),
//!   with a slow poll as fallback;
//! - observable: [`ConsumerHandle::status`] reports offsets, lag and the age of
//!   the oldest undelivered record;
//! - one process at a time, when several share a storage: with
//!   [`ConsumerConfig::lease`] the consumer runs only while it holds its lease
//!   (`lease`), resuming from the stored offset each time it takes it, so a
//!   dead process's consumer is taken over and offsets never move back;
//! - split, when several processes share a storage: with
//!   [`ConsumerConfig::slice`] a consumer handles only the entities of its
//!   slice, so a consumer group runs as slices spread over the live
//!   processes, each process holding its fair share (`share`).
//!
//! Modules: [`handler`] (the trait), [`config`] (settings and backoff),
//! `progress` (cursor and watermark), `sched` (per-entity queues and
//! retries), `job` (one handler call), `consumer` (the task), `lease`
//! (running under a lease), `share` (membership and fair shares), `group`
//! (a consumer's slices), [`status`].
//!
//! [`FeedSource::feed_watch`]: crate::storage::FeedSource::feed_watch

pub mod config;
mod consumer;
mod group;
pub mod handler;
mod job;
mod lease;
mod progress;
mod sched;
mod share;
pub mod status;

pub use config::{Backoff, ConsumerConfig, LeaseConfig, Slice};
pub use consumer::{ConsumerHandle, start};
pub use group::{Sharing, start_group};
pub use handler::{Delivery, FeedHandler, HandlerError};
pub use share::{Membership, Share};
pub use status::{ConsumerStatus, StatusSource};

use crate::storage::StorageError;

/// The result type of the feed engine.
pub type FeedResult<T> = std::result::Result<T, FeedError>;

/// Why a consumer could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A setting is invalid; the message names it.
    #[error("invalid consumer settings: {0}")]
    InvalidConfig(String),
    /// The storage failed (loading the offset at start) or was closed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The consumer task ended abnormally (it panicked or was cancelled).
    #[error("the consumer task stopped: {0}")]
    Stopped(String),
}
