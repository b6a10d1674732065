//! Eventing: action methods subscribed to entities and topics, and
//! publishing to topics.
//!
//! - [`subscription`]: which methods a source feeds, and delivery of each
//!   record to its method; every group runs as a consumer of the feed engine
//!   ([`crate::feed`]): at least once, per-entity (per-subject) order, failed
//!   deliveries retried with exponential backoff and never skipped, offsets
//!   stored in the service's storage.
//! - [`publisher`]: `(plinth.method).publish` results and explicit
//!   [`ActionContext::publish`](crate::ActionContext::publish) calls, with
//!   CloudEvents attributes ([`cloudevents`]) and `${ENV}` topic templates
//!   ([`template`]).
//! - [`topics`]: the backends: the embedded durable log in SQLite (default)
//!   and NATS JetStream.
//! - `topic_feed`: a topic read as a change feed, so topic subscriptions run
//!   on the same engine.
//!
//! A consumer group reads each source once: its offset is stored under its
//! name in the service's storage, so processes sharing one storage share the
//! group's progress; processes with their own storage each consume the whole
//! source.

pub mod cloudevents;
mod codec;
mod context;
pub(crate) mod direct;
pub use direct::parse_direct_services;
pub mod publisher;
pub mod subscription;
pub mod template;
mod topic_feed;
pub(crate) use topic_feed::{topic_message, topic_source};
pub mod topics;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use context::ContextLink;
pub use publisher::Publisher;
pub(crate) use publisher::publish_reply;
pub use subscription::{SubscriptionGroup, plan};
pub use topics::{
    NatsTopics, SqliteTopics, StoredMessage, TopicError, TopicMessage, TopicResult, Topics,
};

use crate::component::info::SourceKind;
use crate::dispatch::SharedDispatch;
use crate::feed::{self, ConsumerConfig, ConsumerHandle, FeedError, StatusSource};
use crate::storage::{FeedSource, Storage};

/// Why eventing could not start.
#[derive(Debug, thiserror::Error)]
pub enum EventingError {
    /// The topic backend could not be opened.
    #[error("cannot open the topic backend {target}: {source}")]
    Topics {
        /// What was being opened.
        target: String,
        /// Why it failed.
        source: TopicError,
    },
    /// A subscribed topic's `${ENV}` template cannot be expanded, or the
    /// expanded name is invalid.
    #[error("{service}: {message}")]
    Topic {
        /// The subscribing action.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A subscription is fed by a topic, but the service has no topic backend.
    #[error("{service} subscribes to topic {topic:?} but no topic backend is configured")]
    NoTopics {
        /// The subscribing action.
        service: &'static str,
        /// The topic.
        topic: String,
    },
    /// Two actions subscribe to one source in one consumer group; each group
    /// belongs to one action service.
    #[error(
        "{first} and {second} both subscribe to {source_name} in consumer group {group:?}; \
         give one of them another consumer_group"
    )]
    SharedGroup {
        /// The group.
        group: String,
        /// The source.
        source_name: String,
        /// The action registered first.
        first: &'static str,
        /// The action registered second.
        second: &'static str,
    },
    /// A subscription's consumer could not start.
    #[error("cannot start the subscription {consumer}: {source}")]
    Consumer {
        /// The consumer's name.
        consumer: String,
        /// Why.
        source: FeedError,
    },
}

/// Where topics live.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TopicsTarget {
    /// The embedded log in `topics.db` beside the service's SQLite storage
    /// file (the default). A file of its own, not a table of the storage
    /// file: the log's writer and the storage's writer then never wait for
    /// each other's write lock (sharing one file took the write → handler
    /// p99 from 9 ms to 770 ms at 1,000 writes/s, see `BENCHMARKS.md`).
    #[default]
    Local,
    /// The embedded log in this SQLite file (several services may share it).
    Sqlite(PathBuf),
    /// NATS JetStream at this URL (`nats://127.0.0.1:4222`).
    Nats(String),
}

/// Parse a `PLINTH_TOPICS` / `topics` value: `local`, `nats://host:port`,
/// `sqlite:<path>` or a path. The error says what is accepted.
pub fn parse_topics(value: &str) -> Result<TopicsTarget, String> {
    let value = value.trim();
    if value.is_empty() || value == "local" {
        return Ok(TopicsTarget::Local);
    }
    if value.starts_with("nats://") || value.starts_with("tls://") {
        return Ok(TopicsTarget::Nats(value.to_owned()));
    }
    if let Some((scheme, _)) = value.split_once("://") {
        return Err(format!(
            "`local`, `nats://host:port` or an SQLite path (scheme {scheme}:// is not supported)"
        ));
    }
    let path = value.strip_prefix("sqlite:").unwrap_or(value);
    if path.is_empty() {
        return Err("`local`, `nats://host:port` or an SQLite path".to_owned());
    }
    Ok(TopicsTarget::Sqlite(PathBuf::from(path)))
}

/// Open the topic backend `target`; `storage_file` is the service's SQLite
/// file, beside which [`TopicsTarget::Local`] keeps its log.
pub async fn open_topics(
    target: &TopicsTarget,
    storage_file: &std::path::Path,
) -> Result<Arc<dyn Topics>, EventingError> {
    let sqlite = |path: PathBuf| async move {
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || SqliteTopics::open(&path))
            .await
            .map_err(|error| TopicError::Backend(error.to_string()))
            .and_then(|opened| opened)
            .map(|topics| Arc::new(topics) as Arc<dyn Topics>)
            .map_err(|source| EventingError::Topics {
                target: format!("sqlite:{shown}"),
                source,
            })
    };
    match target {
        TopicsTarget::Local => {
            let dir = storage_file.parent().unwrap_or(std::path::Path::new("."));
            sqlite(dir.join("topics.db")).await
        }
        TopicsTarget::Sqlite(path) => sqlite(path.clone()).await,
        TopicsTarget::Nats(url) => NatsTopics::connect(url)
            .await
            .map(|topics| Arc::new(topics) as Arc<dyn Topics>)
            .map_err(|source| EventingError::Topics {
                target: url.clone(),
                source,
            }),
    }
}

/// The running subscriptions of a service.
#[derive(Debug, Default)]
pub struct Eventing {
    consumers: Vec<ConsumerHandle>,
}

impl Eventing {
    /// Start one consumer per subscription group (with `sharing`, its
    /// slices): entity sources read the storage's change feed, topic sources
    /// read `topics`.
    pub async fn start(
        groups: Vec<SubscriptionGroup>,
        storage: Arc<dyn Storage>,
        topics: Option<Arc<dyn Topics>>,
        direct_services: &std::collections::BTreeMap<String, String>,
        dispatch: SharedDispatch,
        sharing: Option<&feed::Sharing>,
    ) -> Result<Eventing, EventingError> {
        for (index, group) in groups.iter().enumerate() {
            if let Some(other) = groups[..index].iter().find(|other| {
                other.group == group.group
                    && other.source == group.source
                    && other.info.service != group.info.service
            }) {
                return Err(EventingError::SharedGroup {
                    group: group.group.clone(),
                    source_name: format!("{:?}", group.source),
                    first: other.info.service,
                    second: group.info.service,
                });
            }
        }
        let mut consumers = Vec::new();
        for group in groups {
            let service = group.info.service;
            let (config, source_storage, topic) = match group.source {
                SourceKind::ValueEntity(type_id) | SourceKind::EventSourcedEntity(type_id) => {
                    let config =
                        ConsumerConfig::new(group.consumer_name(None), vec![type_id.to_owned()]);
                    (config, storage.clone() as Arc<dyn FeedSource>, None)
                }
                SourceKind::Direct {
                    service: producer,
                    stream,
                } => {
                    let (type_id, feed) = direct::feed(direct_services, producer, stream)
                        .map_err(|message| EventingError::Topic { service, message })?;
                    let mut config =
                        ConsumerConfig::new(group.consumer_name(Some(&type_id)), vec![]);
                    // The producer holds each read up to a second for new messages.
                    config.poll_interval = Duration::from_millis(50);
                    (config, feed, Some(type_id))
                }
                SourceKind::Topic(template) => {
                    let resolved =
                        template::expand_env(template).map_err(|error| EventingError::Topic {
                            service,
                            message: error.to_string(),
                        })?;
                    topics::validate_topic_name(&resolved).map_err(|error| {
                        EventingError::Topic {
                            service,
                            message: error.to_string(),
                        }
                    })?;
                    let Some(topics) = topics.clone() else {
                        return Err(EventingError::NoTopics {
                            service,
                            topic: resolved,
                        });
                    };
                    let mut config =
                        ConsumerConfig::new(group.consumer_name(Some(&resolved)), vec![]);
                    // Other processes' publishes are seen by polling.
                    config.poll_interval = Duration::from_millis(50);
                    let feed = topic_feed::TopicFeed {
                        topics,
                        topic: resolved.clone(),
                    };
                    (
                        config,
                        Arc::new(feed) as Arc<dyn FeedSource>,
                        Some(resolved),
                    )
                }
            };
            let name = config.name.clone();
            let handler = subscription::SubscriptionHandler::new(group, topic, dispatch.clone());
            let started = feed::start_group(
                source_storage,
                storage.clone(),
                config,
                Arc::new(handler),
                sharing,
            )
            .await
            .map_err(|source| EventingError::Consumer {
                consumer: name.clone(),
                source,
            })?;
            tracing::info!(consumer = %name, slices = started.len(), "subscription started");
            consumers.extend(started);
        }
        Ok(Eventing { consumers })
    }

    /// Status sources of every subscription consumer.
    pub fn status_sources(&self) -> Vec<StatusSource> {
        self.consumers
            .iter()
            .map(ConsumerHandle::status_source)
            .collect()
    }

    /// Stop every consumer, letting running deliveries finish and storing
    /// the offsets.
    pub async fn shutdown(self) {
        for consumer in self.consumers {
            if let Err(error) = consumer.shutdown().await {
                tracing::warn!(%error, "a subscription stopped with an error");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_targets_parse() {
        assert_eq!(parse_topics(""), Ok(TopicsTarget::Local));
        assert_eq!(parse_topics("local"), Ok(TopicsTarget::Local));
        assert_eq!(
            parse_topics("nats://127.0.0.1:4222"),
            Ok(TopicsTarget::Nats("nats://127.0.0.1:4222".into()))
        );
        assert_eq!(
            parse_topics("sqlite:/tmp/t.db"),
            Ok(TopicsTarget::Sqlite("/tmp/t.db".into()))
        );
        assert_eq!(
            parse_topics("/tmp/t.db"),
            Ok(TopicsTarget::Sqlite("/tmp/t.db".into()))
        );
        assert!(parse_topics("kafka://x").unwrap_err().contains("kafka"));
    }
}
