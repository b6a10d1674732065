//! Publishing: an action method's results (`(plinth.method).publish`) and
//! explicit publishes through the action context go to a topic backend with
//! CloudEvents attributes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::cloudevents as ce;
use super::template::{self, TemplateError};
use super::topics::{TopicMessage, Topics};
use crate::clock::Clock;
use crate::context::Metadata;
use crate::status::Status;

/// Sends messages to topics; shared by the dispatcher and action contexts.
pub struct Publisher {
    topics: Arc<dyn Topics>,
    /// Where `ce-time` comes from.
    clock: Arc<dyn Clock>,
    /// Expanded `${ENV}` topic templates.
    resolved: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topics", &self.topics.describe())
            .finish_non_exhaustive()
    }
}

/// What a message being published is and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// `ce-source`: the publishing service (`package.Service`) or method.
    pub source: &'a str,
    /// `ce-type`: the payload's fully qualified message name.
    pub ce_type: &'a str,
    /// The metadata of the call that produced the message: its `ce-subject`
    /// carries over, and its `ce-id` when `keep_id` is set.
    pub incoming: &'a Metadata,
    /// Reuse the incoming `ce-id`, so a redelivered input publishes a message
    /// with the same id (consumers can drop the duplicate).
    pub keep_id: bool,
    /// The payload's content type.
    pub content_type: &'a str,
}

impl<'a> Origin<'a> {
    /// A message a handler of `source` publishes through its context: a new
    /// `ce-id` every time (unlike a method's published results, which keep
    /// a redelivered input's).
    pub fn explicit(
        source: &'a str,
        ce_type: &'a str,
        content_type: &'a str,
        incoming: &'a Metadata,
    ) -> Origin<'a> {
        Origin {
            source,
            ce_type,
            incoming,
            keep_id: false,
            content_type,
        }
    }
}

impl Publisher {
    /// A publisher to `topics`, stamping `ce-time` by `clock`.
    pub fn new(topics: Arc<dyn Topics>, clock: Arc<dyn Clock>) -> Publisher {
        Publisher {
            topics,
            clock,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// The backend.
    pub fn topics(&self) -> &Arc<dyn Topics> {
        &self.topics
    }

    /// The topic a (possibly templated) name stands for.
    pub fn resolve(&self, name: &str) -> Result<String, TemplateError> {
        if let Ok(resolved) = self.resolved.lock()
            && let Some(topic) = resolved.get(name)
        {
            return Ok(topic.clone());
        }
        let topic = template::expand_env(name)?;
        if let Ok(mut resolved) = self.resolved.lock() {
            resolved.insert(name.to_owned(), topic.clone());
        }
        Ok(topic)
    }

    /// The attributes of a message published with `origin`, `ce-time` the
    /// time now by `clock`.
    pub fn attributes(origin: &Origin<'_>, clock: &dyn Clock) -> Metadata {
        let id = match origin.incoming.get(ce::ID) {
            Some(id) if origin.keep_id => id.to_owned(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let mut metadata = Metadata::new()
            .with(ce::SPEC_VERSION, "1.0")
            .with(ce::ID, id)
            .with(ce::TYPE, origin.ce_type)
            .with(ce::SOURCE, origin.source)
            .with(ce::TIME, ce::now_rfc3339(clock))
            .with(ce::CONTENT_TYPE, origin.content_type);
        if let Some(subject) = origin.incoming.get(ce::SUBJECT) {
            metadata.insert(ce::SUBJECT, subject);
        }
        crate::trace::carry(origin.incoming, &mut metadata);
        metadata
    }

    /// Publish `payload` to `topic` (a name or `${ENV}` template); returns its
    /// position once durable. Failures are `UNAVAILABLE` (the backend) or
    /// `FAILED_PRECONDITION` (a bad topic name), so a subscription retries.
    pub async fn publish(
        &self,
        topic: &str,
        origin: Origin<'_>,
        payload: Bytes,
    ) -> Result<u64, Status> {
        let resolved = self
            .resolve(topic)
            .map_err(|error| Status::failed_precondition(error.to_string()))?;
        let message = TopicMessage {
            metadata: Publisher::attributes(&origin, self.clock.as_ref()),
            payload,
        };
        self.topics
            .publish(&resolved, message)
            .await
            .map_err(|error| match error {
                super::topics::TopicError::InvalidName { .. } => {
                    Status::failed_precondition(error.to_string())
                }
                other => Status::unavailable(format!("cannot publish to {resolved}: {other}")),
            })
    }
}

/// Publish an action method's reply when the method has
/// `(plinth.method).publish`, then hand the reply on. A unary reply is
/// published before the caller sees it (a failure fails the call, so a
/// subscription retries); each message of a stream is published before it is
/// passed on.
pub(crate) async fn publish_reply(
    publisher: Option<&Arc<Publisher>>,
    info: &'static crate::component::info::ComponentInfo,
    method: usize,
    incoming: &Metadata,
    reply: crate::component::adapter::ActionReply,
) -> Result<crate::component::adapter::ActionReply, Status> {
    use crate::component::adapter::ActionReply;
    use futures::StreamExt;

    let m = &info.methods[method];
    let Some(topic) = m.publish else {
        return Ok(reply);
    };
    if m.subscribe.is_some_and(|s| s.ignore) {
        return Ok(reply);
    }
    let Some(publisher) = publisher else {
        return Err(Status::failed_precondition(format!(
            "{} publishes to {topic:?} but the service has no topic backend \
             (a storage given in code needs topics given too: Service::topics)",
            m.path
        )));
    };
    let keep_id = incoming.get(ce::ID).is_some();
    match reply {
        ActionReply::Unary(bytes) => {
            let origin = Origin {
                source: info.service,
                ce_type: m.output_type,
                incoming,
                keep_id,
                content_type: ce::PROTOBUF,
            };
            publisher.publish(topic, origin, bytes.clone()).await?;
            Ok(ActionReply::Unary(bytes))
        }
        ActionReply::Stream(stream) => {
            let publisher = publisher.clone();
            let incoming = incoming.clone();
            let stream = stream.then(move |item| {
                let publisher = publisher.clone();
                let incoming = incoming.clone();
                async move {
                    let bytes = item?;
                    let origin = Origin {
                        source: info.service,
                        ce_type: m.output_type,
                        incoming: &incoming,
                        // Several messages from one input: each its own id.
                        keep_id: false,
                        content_type: ce::PROTOBUF,
                    };
                    publisher.publish(topic, origin, bytes.clone()).await?;
                    Ok(bytes)
                }
            });
            Ok(ActionReply::Stream(stream.boxed()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn ce_time_is_the_time_by_the_clock() {
        // 2026-12-01T15:04:05.123456Z
        let at = UNIX_EPOCH + Duration::from_micros(1_796_137_445_123_456);
        let clock = ManualClock::at(at);
        let incoming = Metadata::new().with(ce::SUBJECT, "c1");
        let origin = Origin {
            source: "counter.Counter",
            ce_type: "counter.Changed",
            incoming: &incoming,
            keep_id: false,
            content_type: ce::PROTOBUF,
        };
        let attributes = Publisher::attributes(&origin, &clock);
        assert_eq!(
            attributes.get(ce::TIME),
            Some("2026-12-01T15:04:05.123456Z")
        );
        assert_eq!(attributes.get(ce::SUBJECT), Some("c1"));
        clock.advance(Duration::from_secs(3600));
        let later = Publisher::attributes(&origin, &clock);
        assert_eq!(later.get(ce::TIME), Some("2026-12-01T16:04:05.123456Z"));
    }
}
