//! Topic backends: where published messages go and subscriptions read them
//! from. [`Topics`] is the one trait; [`SqliteTopics`] is the embedded durable
//! log (the default: the service's own SQLite file, or a file shared by
//! several services), [`NatsTopics`] is NATS JetStream, [`MemoryTopics`] the
//! in-memory double for tests.
//!
//! A topic is an append-only sequence of messages numbered 1, 2, ... (its
//! positions). Readers keep their own position (a consumer stores it as its
//! offset), so every consumer group reads every message, at least once, in
//! position order.

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::context::Metadata;

mod memory;
mod nats;
mod sqlite;

pub use memory::MemoryTopics;
pub use nats::NatsTopics;
pub use sqlite::SqliteTopics;

/// The result type of topic operations.
pub type TopicResult<T> = std::result::Result<T, TopicError>;

/// Why a topic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The topic name cannot be used (empty, or characters the backend refuses).
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What a valid name looks like.
        reason: String,
    },
    /// The backend could not be reached or failed.
    #[error("topic backend failed: {0}")]
    Backend(String),
    /// The backend was closed.
    #[error("the topic backend is closed")]
    Closed,
}

/// One message: its metadata (CloudEvents attributes `ce-*` and
/// `content-type`) and its encoded payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicMessage {
    /// The attributes.
    pub metadata: Metadata,
    /// The payload, encoded as its `content-type` says.
    pub payload: Bytes,
}

impl TopicMessage {
    /// The message's subject (`ce-subject`): messages with the same subject
    /// are delivered in order. Empty when it has none.
    pub fn subject(&self) -> &str {
        self.metadata.get("ce-subject").unwrap_or("")
    }
}

/// A message read back, with its position in the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The position (1 for the first message of the topic).
    pub position: u64,
    /// The message.
    pub message: TopicMessage,
}

/// A topic backend.
pub trait Topics: Send + Sync + 'static {
    /// Append a message to `topic`; returns once it is durable, with its
    /// position.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: TopicMessage,
    ) -> BoxFuture<'a, TopicResult<u64>>;

    /// The messages of `topic` after position `after`, at most `limit`, in
    /// position order (empty when there are none yet, or no such topic).
    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, TopicResult<Vec<StoredMessage>>>;

    /// A receiver of the last position of `topic` known to this process,
    /// updated on publishes through this handle, so readers wake at once.
    /// `None` (the default) when the backend cannot tell: readers poll.
    fn watch(&self, topic: &str) -> Option<watch::Receiver<u64>> {
        let _ = topic;
        None
    }

    /// A short description for logs (`sqlite:/path`, `nats://host:port`).
    fn describe(&self) -> String;

    /// Whether the backend can serve now (for readiness): a round trip to
    /// a server, where there is one. The default: always.
    fn check(&self) -> BoxFuture<'_, TopicResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Check a topic name: non-empty, at most 200 characters of letters, digits,
/// `-`, `_` and `.` (a name every backend accepts as is).
pub fn validate_topic_name(name: &str) -> TopicResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(TopicError::InvalidName {
            name: name.to_owned(),
            reason: "use 1 to 200 letters, digits, `-`, `_` and inner `.`".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_checked() {
        for good in ["counter-events", "a.b_c-1", "x"] {
            assert!(validate_topic_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", ".a", "a.", "a..b", "a/b", "a*", "a>"] {
            let error = validate_topic_name(bad).unwrap_err().to_string();
            assert!(error.contains("invalid topic name"), "{bad}: {error}");
        }
    }
}
