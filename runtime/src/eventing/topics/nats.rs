//! Topics on NATS JetStream: one stream per topic (file storage), holding
//! subject `plinth.topics.<topic>`; a message's position is its stream
//! sequence. Metadata travels as NATS headers.
//!
//! Reading keeps one ephemeral pull consumer per topic (no acks: the reader
//! keeps its own position, stored as a consumer offset by the subscription),
//! created again from the wanted position whenever a read does not continue
//! where the last one ended.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::{StoredMessage, TopicError, TopicMessage, TopicResult, Topics, validate_topic_name};
use crate::context::Metadata;

/// How long an idle reader's consumer lives on the server.
const READER_IDLE: Duration = Duration::from_secs(120);

/// A reader's consumer and the position its next message has.
struct Reader {
    next: u64,
    consumer: consumer::PullConsumer,
}

/// The NATS JetStream topic backend.
pub struct NatsTopics {
    url: String,
    jetstream: jetstream::Context,
    /// Topics whose stream is known to exist.
    streams: Mutex<HashMap<String, stream::Stream>>,
    readers: Mutex<HashMap<String, Reader>>,
}

impl std::fmt::Debug for NatsTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTopics")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn backend(what: &str, error: impl std::fmt::Display) -> TopicError {
    TopicError::Backend(format!("{what}: {error}"))
}

/// The stream of `topic`: `_` doubled and `.` written `_d`, so distinct
/// topics never share a stream.
fn stream_name(topic: &str) -> String {
    let mut name = String::from("plinth_");
    for c in topic.chars() {
        match c {
            '_' => name.push_str("__"),
            '.' => name.push_str("_d"),
            c => name.push(c),
        }
    }
    name
}

fn subject(topic: &str) -> String {
    format!("plinth.topics.{topic}")
}

impl NatsTopics {
    /// Connect to the NATS server at `url` (`nats://127.0.0.1:4222`), which
    /// must have JetStream enabled.
    pub async fn connect(url: &str) -> TopicResult<NatsTopics> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| backend(&format!("cannot connect to {url}"), e))?;
        let jetstream = jetstream::new(client);
        Ok(NatsTopics {
            url: url.to_owned(),
            jetstream,
            streams: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
        })
    }

    /// The stream of `topic`, created when missing.
    async fn stream(&self, topic: &str) -> TopicResult<stream::Stream> {
        validate_topic_name(topic)?;
        let mut streams = self.streams.lock().await;
        if let Some(stream) = streams.get(topic) {
            return Ok(stream.clone());
        }
        let stream = self
            .jetstream
            .get_or_create_stream(stream::Config {
                name: stream_name(topic),
                subjects: vec![subject(topic)],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| backend(&format!("cannot open the stream of topic {topic}"), e))?;
        streams.insert(topic.to_owned(), stream.clone());
        Ok(stream)
    }

    async fn new_reader(&self, topic: &str, after: u64) -> TopicResult<Reader> {
        let stream = self.stream(topic).await?;
        let deliver_policy = if after == 0 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: after + 1,
            }
        };
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                deliver_policy,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: READER_IDLE,
                ..Default::default()
            })
            .await
            .map_err(|e| backend(&format!("cannot read topic {topic}"), e))?;
        Ok(Reader {
            next: after + 1,
            consumer,
        })
    }
}

impl Topics for NatsTopics {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: TopicMessage,
    ) -> BoxFuture<'a, TopicResult<u64>> {
        Box::pin(async move {
            self.stream(topic).await?;
            let mut headers = async_nats::HeaderMap::new();
            for (key, value) in message.metadata.iter() {
                headers.append(key, value);
            }
            let ack = self
                .jetstream
                .publish_with_headers(subject(topic), headers, message.payload)
                .await
                .map_err(|e| backend(&format!("cannot publish to {topic}"), e))?
                .await
                .map_err(|e| backend(&format!("{topic} did not confirm a publish"), e))?;
            Ok(ack.sequence)
        })
    }

    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, TopicResult<Vec<StoredMessage>>> {
        Box::pin(async move {
            let mut readers = self.readers.lock().await;
            let reader = match readers.remove(topic) {
                Some(reader) if reader.next == after + 1 => reader,
                _ => self.new_reader(topic, after).await?,
            };
            let mut batch = reader
                .consumer
                .fetch()
                .max_messages(limit.max(1))
                .messages()
                .await
                .map_err(|e| backend(&format!("cannot read topic {topic}"), e))?;
            let mut messages = Vec::new();
            while let Some(next) = batch.next().await {
                let message =
                    next.map_err(|e| backend(&format!("cannot read topic {topic}"), e))?;
                let position = message
                    .info()
                    .map_err(|e| backend(&format!("topic {topic}: a message without info"), e))?
                    .stream_sequence;
                let mut metadata = Metadata::new();
                if let Some(headers) = &message.headers {
                    for (key, values) in headers.iter() {
                        for value in values {
                            metadata.insert(AsRef::<str>::as_ref(key), value.as_str());
                        }
                    }
                }
                messages.push(StoredMessage {
                    position,
                    message: TopicMessage {
                        metadata,
                        payload: message.payload.clone(),
                    },
                });
            }
            let next = messages.last().map_or(reader.next, |m| m.position + 1);
            readers.insert(
                topic.to_owned(),
                Reader {
                    next,
                    consumer: reader.consumer,
                },
            );
            Ok(messages)
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn check(&self) -> BoxFuture<'_, TopicResult<()>> {
        Box::pin(async move {
            // A flush is a ping to the server and back.
            self.jetstream
                .client()
                .flush()
                .await
                .map_err(|e| backend("the NATS server does not answer", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_keep_topics_apart() {
        assert_eq!(stream_name("counter-events"), "plinth_counter-events");
        assert_ne!(stream_name("a.b"), stream_name("a_b"));
        assert_ne!(stream_name("a_d"), stream_name("a.d"));
    }
}
