//! A topic seen as a change feed, so topic subscriptions run on the same
//! consumer engine as entity subscriptions (per-subject order, retries with
//! backoff, stored offsets, deduplication).
//!
//! Each message becomes a [`FeedRecord`] whose offset and sequence number are
//! its position, whose entity is its `ce-subject`, and whose payload is the
//! whole message (metadata and payload, see `codec`). Offsets are stored in
//! the service's own storage, under the consumer's name.
//!
//! Several processes on a shared storage split a topic subscription into
//! slices of subjects like any consumer (see `feed::group`), so each message
//! is handled by the one process holding its subject's slice. That holds for
//! NATS too, instead of a JetStream durable consumer shared by the members:
//! a shared pull consumer hands one subject's messages to whichever member
//! asks, so two members would handle one subject at once and per-subject
//! order would be lost.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::codec;
use super::topics::{TopicError, Topics};
use crate::storage::{FeedKind, FeedRecord, FeedSource, StorageError, StorageResult};

/// One topic read as a [`FeedSource`]; the consumer's offsets are kept in
/// the service's storage.
pub(crate) struct TopicFeed {
    pub(crate) topics: Arc<dyn Topics>,
    pub(crate) topic: String,
}

fn topic_error(error: TopicError) -> StorageError {
    match error {
        TopicError::Closed => StorageError::Closed,
        other => StorageError::Backend(other.to_string()),
    }
}

impl FeedSource for TopicFeed {
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
                    // The message's own metadata carries its trace context.
                    trace: None,
                })
                .collect())
        })
    }

    fn feed_watch(&self) -> Option<watch::Receiver<u64>> {
        self.topics.watch(&self.topic)
    }
}

/// The feed of topic `template` (a name or `${ENV}` template) for a
/// consumer other than a subscription (a view): its resolved name and the
/// feed.
pub(crate) fn topic_source(
    topics: Arc<dyn Topics>,
    template: &str,
) -> Result<(String, Arc<dyn FeedSource>), String> {
    let resolved = super::template::expand_env(template).map_err(|error| error.to_string())?;
    super::topics::validate_topic_name(&resolved).map_err(|error| error.to_string())?;
    let feed = TopicFeed {
        topics,
        topic: resolved.clone(),
    };
    Ok((resolved, Arc::new(feed)))
}

/// The payload and metadata (CloudEvents attributes) of a record a
/// [`TopicFeed`] read.
pub(crate) fn topic_message(
    record: &FeedRecord,
) -> Result<(bytes::Bytes, crate::context::Metadata), String> {
    let message = codec::decode_message(&record.payload)
        .map_err(|error| format!("undecodable topic message: {error}"))?;
    Ok((message.payload, message.metadata))
}
