//! An in-memory topic backend: the double of [`Topics`] for tests, kept
//! in this process only (nothing survives it).

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{StoredMessage, TopicMessage, TopicResult, Topics, validate_topic_name};

/// Topics held in memory: publishes append, reads see them at once, and
/// readers in this process are woken on each publish.
#[derive(Debug, Default)]
pub struct MemoryTopics {
    topics: Mutex<HashMap<String, Topic>>,
    /// Every publish, in order: the topic and the message's index in it.
    order: Mutex<Vec<(String, usize)>>,
}

#[derive(Debug)]
struct Topic {
    messages: Vec<TopicMessage>,
    head: watch::Sender<u64>,
}

impl Topic {
    fn new() -> Topic {
        Topic {
            messages: Vec::new(),
            head: watch::Sender::new(0),
        }
    }
}

impl MemoryTopics {
    /// No topics yet.
    pub fn new() -> MemoryTopics {
        MemoryTopics::default()
    }

    fn with<T>(&self, topic: &str, f: impl FnOnce(&mut Topic) -> T) -> T {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        f(topics.entry(topic.to_owned()).or_insert_with(Topic::new))
    }

    /// Every message of `topic` so far, in order.
    pub fn messages(&self, topic: &str) -> Vec<TopicMessage> {
        self.with(topic, |topic| topic.messages.clone())
    }

    /// How many messages were published, to all topics.
    pub fn count(&self) -> usize {
        self.order.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The messages published to any topic after the first `skip`, in the
    /// order they were published, with their topics.
    pub fn published_after(&self, skip: usize) -> Vec<(String, TopicMessage)> {
        let order: Vec<(String, usize)> = self
            .order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .skip(skip)
            .cloned()
            .collect();
        order
            .into_iter()
            .map(|(name, index)| {
                let message = self.with(&name, |topic| topic.messages[index].clone());
                (name, message)
            })
            .collect()
    }
}

impl Topics for MemoryTopics {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: TopicMessage,
    ) -> BoxFuture<'a, TopicResult<u64>> {
        let published = validate_topic_name(topic).map(|()| {
            let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
            let position = self.with(topic, |topic| {
                topic.messages.push(message);
                let position = topic.messages.len() as u64;
                topic.head.send_replace(position);
                position
            });
            order.push((topic.to_owned(), position as usize - 1));
            position
        });
        Box::pin(async move { published })
    }

    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, TopicResult<Vec<StoredMessage>>> {
        let read = self.with(topic, |topic| {
            topic
                .messages
                .iter()
                .enumerate()
                .skip(usize::try_from(after).unwrap_or(usize::MAX))
                .take(limit)
                .map(|(index, message)| StoredMessage {
                    position: index as u64 + 1,
                    message: message.clone(),
                })
                .collect()
        });
        Box::pin(async move { Ok(read) })
    }

    fn watch(&self, topic: &str) -> Option<watch::Receiver<u64>> {
        Some(self.with(topic, |topic| topic.head.subscribe()))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Metadata;

    fn message(text: &str) -> TopicMessage {
        TopicMessage {
            metadata: Metadata::new().with("ce-subject", text),
            payload: bytes::Bytes::copy_from_slice(text.as_bytes()),
        }
    }

    #[tokio::test]
    async fn messages_are_read_back_in_order_from_any_position() {
        let topics = MemoryTopics::new();
        let mut head = topics.watch("t").unwrap();
        assert_eq!(topics.publish("t", message("a")).await.unwrap(), 1);
        assert_eq!(topics.publish("t", message("b")).await.unwrap(), 2);
        assert_eq!(topics.publish("u", message("c")).await.unwrap(), 1);
        assert!(head.has_changed().unwrap());
        assert_eq!(*head.borrow_and_update(), 2);
        let read = topics.read("t", 1, 10).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!((read[0].position, read[0].message.subject()), (2, "b"));
        assert!(topics.read("none", 0, 10).await.unwrap().is_empty());
        assert!(topics.publish("bad name", message("x")).await.is_err());
        let after: Vec<String> = topics
            .published_after(1)
            .into_iter()
            .map(|(topic, m)| format!("{topic}:{}", m.subject()))
            .collect();
        assert_eq!(after, ["t:b", "u:c"]);
        assert_eq!(topics.count(), 3);
    }
}
