//! The test kits' [`Outbound`]: canned replies for the component calls a
//! handler makes, publishes into in-memory topics (with the attributes the
//! runtime gives them), and timers kept by the kit's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::env::TimerChange;
use crate::clock::{Clock, ManualClock};
use crate::context::{Metadata, Outbound};
use crate::effect::DeferredCall;
use crate::eventing::publisher::{Origin, Publisher};
use crate::eventing::topics::{MemoryTopics, TopicMessage};
use crate::status::Status;

type Reply = Arc<dyn Fn(Bytes) -> Result<Bytes, Status> + Send + Sync>;

/// A call a handler made through its context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MadeCall {
    /// The method (`/package.Service/Method`).
    pub path: &'static str,
    /// The encoded request.
    pub payload: Bytes,
    /// The metadata it carried.
    pub metadata: Metadata,
}

impl MadeCall {
    /// The request, decoded.
    ///
    /// # Panics
    /// When it is not a `Q`.
    pub fn request<Q: prost::Message + Default>(&self) -> Q {
        super::outcome::request_of(self.path, &self.payload)
    }
}

/// What a handler's context reaches in a test kit.
pub(crate) struct KitOutbound {
    source: &'static str,
    clock: ManualClock,
    replies: Mutex<HashMap<&'static str, Reply>>,
    calls: Mutex<Vec<MadeCall>>,
    timers: Mutex<Vec<TimerChange>>,
    publisher: Arc<Publisher>,
    topics: Arc<MemoryTopics>,
}

impl std::fmt::Debug for KitOutbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KitOutbound")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl KitOutbound {
    /// An outbound for a component of service `source`, timing timers by `clock`.
    pub(crate) fn new(source: &'static str, clock: ManualClock) -> KitOutbound {
        let topics = Arc::new(MemoryTopics::new());
        KitOutbound {
            source,
            clock: clock.clone(),
            replies: Mutex::default(),
            calls: Mutex::default(),
            timers: Mutex::default(),
            publisher: Arc::new(Publisher::new(topics.clone(), Arc::new(clock.clone()))),
            topics,
        }
    }

    /// Answer calls of `path` with `reply`.
    pub(crate) fn set_reply(&self, path: &'static str, reply: Reply) {
        lock(&self.replies).insert(path, reply);
    }

    /// The calls made so far.
    pub(crate) fn calls(&self) -> Vec<MadeCall> {
        lock(&self.calls).clone()
    }

    /// The timer changes made since the last take.
    pub(crate) fn take_timers(&self) -> Vec<TimerChange> {
        std::mem::take(&mut *lock(&self.timers))
    }

    /// The publisher into the kit's topics.
    pub(crate) fn publisher(&self) -> &Arc<Publisher> {
        &self.publisher
    }

    /// The kit's topics.
    pub(crate) fn topics(&self) -> &MemoryTopics {
        &self.topics
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Outbound for KitOutbound {
    fn call(
        &self,
        path: &'static str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<Bytes, Status>> {
        lock(&self.calls).push(MadeCall {
            path,
            payload: payload.clone(),
            metadata,
        });
        let reply = lock(&self.replies).get(path).cloned();
        let result = match reply {
            Some(reply) => reply(payload),
            None => Err(Status::unimplemented(format!(
                "the test kit has no reply for {path}: give one with `kit.when(..)`"
            ))),
        };
        Box::pin(async move { result })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        ce_type: &'a str,
        content_type: &'a str,
        payload: Bytes,
        incoming: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let origin = Origin::explicit(self.source, ce_type, content_type, incoming);
            self.publisher
                .publish(topic, origin, payload)
                .await
                .map(drop)
        })
    }

    fn start_timer<'a>(
        &'a self,
        name: &'a str,
        delay: Duration,
        call: DeferredCall<Bytes>,
        max_retries: u32,
    ) -> BoxFuture<'a, Result<(), Status>> {
        let timer = super::env::StartedTimer {
            name: name.to_owned(),
            path: call.path().to_owned(),
            payload: call.payload().clone(),
            delay,
            due: self.clock.now() + delay,
            max_retries,
        };
        lock(&self.timers).push(TimerChange::Started(timer));
        Box::pin(async { Ok(()) })
    }

    fn cancel_timer<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Status>> {
        lock(&self.timers).push(TimerChange::Cancelled(name.to_owned()));
        Box::pin(async { Ok(()) })
    }
}

/// A message a component published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The topic.
    pub topic: String,
    /// Its attributes: the CloudEvents `ce-*` attributes the runtime sets
    /// and `content-type`.
    pub metadata: Metadata,
    /// The encoded payload.
    pub payload: Bytes,
}

impl Published {
    pub(crate) fn of(topic: &str, message: TopicMessage) -> Published {
        Published {
            topic: topic.to_owned(),
            metadata: message.metadata,
            payload: message.payload,
        }
    }

    /// Its CloudEvents type (`ce-type`): the message's full name.
    pub fn ce_type(&self) -> &str {
        self.metadata.get("ce-type").unwrap_or("")
    }

    /// Its subject (`ce-subject`), if it has one.
    pub fn subject(&self) -> Option<&str> {
        self.metadata.get("ce-subject")
    }

    /// The payload decoded as a protobuf `T`.
    ///
    /// # Panics
    /// When the payload is JSON, or not a `T`.
    pub fn payload_as<T: prost::Message + Default>(&self) -> T {
        let content_type = self.metadata.get("content-type").unwrap_or("");
        assert!(
            !content_type.contains("json"),
            "the message on {} is {content_type}, not protobuf: read it with .json()",
            self.topic
        );
        T::decode(self.payload.as_ref()).unwrap_or_else(|error| {
            panic!(
                "the message on {} ({}) is not a {}: {error}",
                self.topic,
                self.ce_type(),
                std::any::type_name::<T>()
            )
        })
    }

    /// The payload parsed as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|error| panic!("the message on {} is not JSON: {error}", self.topic))
    }
}
