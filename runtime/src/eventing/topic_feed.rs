//! A topic seen as a change feed, so topic subscriptions run on the same
//! consumer engine as entity subscriptions (per-subject order, retries with
//! backoff, stored offsets, deduplication).
//!
//! Each message becomes a [`FeedRecord`] whose offset and sequence number are
//! its position, whose entity is its `ce-subject`, and whose payload is the
//! whole message (metadata and payload, see `codec`). Offsets are stored in
//! the service's own storage, under the consumer's name.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::codec;
use super::topics::{TopicError, Topics};
use crate::storage::{
    EventAppend, FeedKind, FeedRecord, Replay, StateWrite, Storage, StorageError, StorageResult,
    StoredState,
};

/// One topic read through [`Storage`]'s feed methods. Only the feed and
/// offset methods are meaningful; the entity methods fail, as nothing calls
/// them on this adapter.
pub(crate) struct TopicFeed {
    pub(crate) topics: Arc<dyn Topics>,
    pub(crate) topic: String,
    /// Where the consumer's offset is kept.
    pub(crate) offsets: Arc<dyn Storage>,
}

fn not_an_entity_store() -> StorageError {
    StorageError::Backend("a topic feed stores no entities".to_owned())
}

fn topic_error(error: TopicError) -> StorageError {
    match error {
        TopicError::Closed => StorageError::Closed,
        other => StorageError::Backend(other.to_string()),
    }
}

impl Storage for TopicFeed {
    fn load_state<'a>(
        &'a self,
        _type_id: &'a str,
        _entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>> {
        Box::pin(async { Err(not_an_entity_store()) })
    }

    fn write_state(&self, _write: StateWrite) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(async { Err(not_an_entity_store()) })
    }

    fn load_journal<'a>(
        &'a self,
        _type_id: &'a str,
        _entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>> {
        Box::pin(async { Err(not_an_entity_store()) })
    }

    fn append_events(&self, _append: EventAppend) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(async { Err(not_an_entity_store()) })
    }

    fn read_feed<'a>(
        &'a self,
        after: u64,
        _type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>> {
        Box::pin(async move {
            let messages = self
                .topics
                .read(&self.topic, after, limit)
                .await
                .map_err(topic_error)?;
            Ok(messages
                .into_iter()
                .map(|stored| FeedRecord {
                    offset: stored.position,
                    type_id: self.topic.clone(),
                    entity_id: stored.message.subject().to_owned(),
                    seq: stored.position,
                    kind: FeedKind::Event,
                    type_name: stored
                        .message
                        .metadata
                        .get(super::cloudevents::TYPE)
                        .unwrap_or("")
                        .to_owned(),
                    payload: codec::encode_message(&stored.message),
                })
                .collect())
        })
    }

    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        self.offsets.load_offset(consumer)
    }

    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>> {
        self.offsets.store_offset(consumer, offset)
    }

    fn feed_watch(&self) -> Option<watch::Receiver<u64>> {
        self.topics.watch(&self.topic)
    }
}
