//! What a handler knows about the call besides its input: the entity id, the
//! request metadata, and for subscriptions the CloudEvents attributes. An
//! action's context also calls other components of the service.

/// Whether `key` is set by the runtime only: the CloudEvents attributes
/// (`ce-*`) of subscribed and published messages. The front doors drop such
/// keys from client requests, so a caller cannot pose as an event's source.
pub(crate) fn is_reserved(key: &str) -> bool {
    key.get(..3)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("ce-"))
}

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::effect::DeferredCall;
use crate::status::Status;

use crate::auth::Claims;

/// Who a call comes from, as the runtime established it (never from
/// anything the client sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Caller {
    /// A client through the gRPC or HTTP front door (also the caller of
    /// contexts and metadata built outside the runtime).
    #[default]
    Internet,
    /// The runtime itself: a subscription delivering an entity change or a
    /// topic message, or a startup trigger.
    Runtime,
    /// Another service, named by the first DNS name of the client
    /// certificate its TLS connection presented, verified against the
    /// configured client CA (`PLINTH_TLS_CLIENT_CA`).
    Service(String),
}

/// Request metadata: HTTP headers or gRPC metadata (keys lower-case; the
/// keys a client sends that only the runtime may set, `ce-*`, are dropped),
/// and the CloudEvents attributes (`ce-*`) of subscribed messages. The
/// runtime also records here who is calling and the validated token claims
/// (see [`ActionContext::caller`], [`ActionContext::jwt_claims`]); calls a
/// handler makes through its context, forwards and side effects carry them on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Shared: a call's metadata is cloned into every call it makes (and
    /// kept for a forward) far more often than it is changed.
    entries: Arc<Vec<(String, String)>>,
    caller: Caller,
    claims: Option<Arc<Claims>>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Add an entry (keys are stored lower-case).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let mut key = key.into();
        key.make_ascii_lowercase();
        Arc::make_mut(&mut self.entries).push((key, value.into()));
    }

    /// The same metadata with one more entry.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Metadata {
        self.insert(key, value);
        self
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every entry, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Who is calling.
    pub(crate) fn caller(&self) -> Caller {
        self.caller.clone()
    }

    /// The validated token claims.
    pub(crate) fn claims(&self) -> Option<&Claims> {
        self.claims.as_deref()
    }

    /// Record who is calling (the runtime only).
    pub(crate) fn set_caller(&mut self, caller: Caller) {
        self.caller = caller;
    }

    /// Record the validated token claims (the front doors only).
    pub(crate) fn set_claims(&mut self, claims: Option<Arc<Claims>>) {
        self.claims = claims;
    }
}

/// The context of an entity command.
#[derive(Debug, Clone)]
pub struct CommandContext {
    entity_id: String,
    metadata: Metadata,
    schedule: crate::schedule::timers::Recorded,
}

impl CommandContext {
    /// A context for the entity `entity_id` (the runtime builds these; tests may too).
    pub fn new(entity_id: impl Into<String>) -> CommandContext {
        CommandContext {
            entity_id: entity_id.into(),
            metadata: Metadata::new(),
            schedule: Default::default(),
        }
    }

    /// The same context with this metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> CommandContext {
        self.metadata = metadata;
        self
    }

    /// The entity id: from the command's id fields, or generated.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The request metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Who is calling, as the runtime established it.
    pub fn caller(&self) -> Caller {
        self.metadata.caller()
    }

    /// The claims of the caller's bearer token, when the method validates
    /// tokens (its `jwt` option); `None` otherwise.
    pub fn jwt_claims(&self) -> Option<&Claims> {
        self.metadata.claims()
    }

    /// Start and cancel timers, committed with the command's effect (see
    /// [`timers`](crate::schedule::timers)).
    pub fn timers(&self) -> crate::schedule::timers::EntityTimers<'_> {
        crate::schedule::timers::EntityTimers {
            ops: &self.schedule,
        }
    }

    /// The timer changes recorded since the last call (by the executor,
    /// after each run of the handler).
    pub(crate) fn take_schedule(&self) -> Vec<crate::storage::ScheduleOp> {
        std::mem::take(&mut *self.schedule.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What an action's (or a workflow step's) context reaches beyond the
/// handler: the service's components, its topics and its timers. The
/// runtime implements it; a test can give a context a fake of its own
/// ([`ActionContext::with_outbound`]).
pub trait Outbound: Send + Sync + 'static {
    /// Call the unary method `path` (`/package.Service/Method`) with an
    /// encoded request, carrying `metadata`; the encoded reply.
    fn call(
        &self,
        path: &'static str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<Bytes, Status>>;

    /// Publish an encoded message of CloudEvents type `ce_type` and
    /// `content_type` to `topic` (a name or `${ENV}` template); `incoming`
    /// is the metadata of the call publishing it. Returns once durable.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        ce_type: &'a str,
        content_type: &'a str,
        payload: Bytes,
        incoming: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), Status>>;

    /// Store the timer `name` (replacing one of the same name): `call` is
    /// made once `delay` passed, retried up to `max_retries` times.
    fn start_timer<'a>(
        &'a self,
        name: &'a str,
        delay: std::time::Duration,
        call: DeferredCall<Bytes>,
        max_retries: u32,
    ) -> BoxFuture<'a, Result<(), Status>>;

    /// Remove the timer `name`, if there is one.
    fn cancel_timer<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Status>>;
}

/// The context of an action call or subscription delivery.
#[derive(Clone, Default)]
pub struct ActionContext {
    metadata: Metadata,
    /// What the runtime lends the handler: calls, publishing, timers;
    /// `None` in contexts built outside a service.
    outbound: Option<Arc<dyn Outbound>>,
}

impl std::fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionContext")
            .field("metadata", &self.metadata)
            .field("connected", &self.outbound.is_some())
            .finish()
    }
}

impl ActionContext {
    /// A context with this metadata (the runtime builds these; tests may too).
    /// A context built this way is not connected to a service: [`ActionContext::call`]
    /// and [`ActionContext::publish`] fail with `FAILED_PRECONDITION`.
    pub fn new(metadata: Metadata) -> ActionContext {
        ActionContext {
            metadata,
            outbound: None,
        }
    }

    /// The same context, calling, publishing and starting timers through
    /// `outbound` (the runtime's, or a test's fake).
    pub fn with_outbound(mut self, outbound: Arc<dyn Outbound>) -> ActionContext {
        self.outbound = Some(outbound);
        self
    }

    /// What the handler reaches beyond itself, or why it cannot.
    fn outbound(&self, what: &str) -> Result<&dyn Outbound, Status> {
        self.outbound.as_deref().ok_or_else(|| {
            Status::failed_precondition(format!(
                "cannot {what}: this context is not connected to a running service"
            ))
        })
    }

    /// Call a unary method of another component of this service and wait for
    /// its reply, e.g. `ctx.call(CustomerServiceClient::get_customer(request)).await?`
    /// with a generated client. The call carries this call's metadata; entity
    /// commands are serialized with the entity's other commands as usual, and
    /// the callee's error comes back as it is. Fails with `FAILED_PRECONDITION`
    /// outside a running service.
    pub async fn call<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
    ) -> Result<R, Status> {
        let path = call.path();
        let outbound = self.outbound(&format!("call {path}"))?;
        let reply = outbound
            .call(path, call.payload().clone(), self.metadata.clone())
            .await?;
        R::decode(reply).map_err(|error| {
            Status::internal(format!("the reply of {path} does not decode: {error}"))
        })
    }

    /// Publish `message` (of the fully qualified type `ce_type`) to `topic` (a
    /// name or `${ENV}` template), with CloudEvents attributes; its
    /// `ce-subject` is this call's, if it has one. Returns once the message is
    /// durable. Fails with `FAILED_PRECONDITION` outside a running service.
    pub async fn publish<M: prost::Message>(
        &self,
        topic: &str,
        ce_type: &str,
        message: &M,
    ) -> Result<(), Status> {
        let payload = Bytes::from(message.encode_to_vec());
        self.publish_encoded(topic, ce_type, "application/protobuf", payload)
            .await
    }

    /// Publish an already encoded payload with its content type
    /// (`application/protobuf` or `application/json`).
    pub async fn publish_encoded(
        &self,
        topic: &str,
        ce_type: &str,
        content_type: &str,
        payload: Bytes,
    ) -> Result<(), Status> {
        self.outbound("publish")?
            .publish(topic, ce_type, content_type, payload, &self.metadata)
            .await
    }

    /// The request metadata (for subscriptions, the CloudEvents attributes).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// For subscribed messages: the id of the entity the message is about
    /// (`ce-subject`).
    pub fn event_subject(&self) -> Option<&str> {
        self.metadata.get("ce-subject")
    }

    /// Who is calling, as the runtime established it: [`Caller::Runtime`]
    /// for subscription deliveries, [`Caller::Internet`] for clients.
    pub fn caller(&self) -> Caller {
        self.metadata.caller()
    }

    /// The claims of the caller's bearer token, when the method validates
    /// tokens (its `jwt` option); `None` otherwise.
    pub fn jwt_claims(&self) -> Option<&Claims> {
        self.metadata.claims()
    }

    /// Start and cancel timers (see [`timers`](crate::schedule::timers)).
    /// Outside a running service they fail with `FAILED_PRECONDITION`.
    pub fn timers(&self) -> crate::schedule::timers::Timers<'_> {
        crate::schedule::timers::Timers {
            outbound: self.outbound.as_deref(),
        }
    }
}

/// The context of a view update handler.
#[derive(Debug, Clone)]
pub struct UpdateContext {
    subject: String,
    metadata: Metadata,
}

impl UpdateContext {
    /// A context for the row of `subject` (the runtime builds these; tests may too).
    pub fn new(subject: impl Into<String>, metadata: Metadata) -> UpdateContext {
        UpdateContext {
            subject: subject.into(),
            metadata,
        }
    }

    /// The id of the source entity, which is also the row key.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The CloudEvents attributes of the update.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys_are_case_insensitive() {
        let metadata = Metadata::new().with("CE-Subject", "cart-1");
        assert_eq!(metadata.get("ce-subject"), Some("cart-1"));
        let ctx = ActionContext::new(metadata);
        assert_eq!(ctx.event_subject(), Some("cart-1"));
        assert_eq!(CommandContext::new("c1").entity_id(), "c1");
    }

    #[test]
    fn contexts_built_outside_the_runtime_are_internet_callers_without_claims() {
        let ctx = ActionContext::new(Metadata::new().with("caller", "runtime"));
        assert_eq!(ctx.caller(), Caller::Internet);
        assert!(ctx.jwt_claims().is_none());
        let mut metadata = Metadata::new();
        metadata.set_caller(Caller::Runtime);
        let ctx = CommandContext::new("c1").with_metadata(metadata);
        assert_eq!(ctx.caller(), Caller::Runtime);
        assert!(ctx.jwt_claims().is_none());
    }

    /// A fake of the runtime: canned replies, and what was published and scheduled.
    #[derive(Default)]
    struct Fake {
        seen: std::sync::Mutex<Vec<String>>,
    }

    impl Outbound for Fake {
        fn call(
            &self,
            path: &'static str,
            payload: Bytes,
            _metadata: Metadata,
        ) -> BoxFuture<'static, Result<Bytes, Status>> {
            self.seen
                .lock()
                .unwrap()
                .push(format!("call {path} ({} bytes)", payload.len()));
            let reply = if path.ends_with("/Fail") {
                Err(Status::not_found("no such thing"))
            } else {
                Ok(Bytes::from(prost::Message::encode_to_vec(&7u64)))
            };
            Box::pin(async move { reply })
        }

        fn publish<'a>(
            &'a self,
            topic: &'a str,
            ce_type: &'a str,
            content_type: &'a str,
            payload: Bytes,
            incoming: &'a Metadata,
        ) -> BoxFuture<'a, Result<(), Status>> {
            let subject = incoming.get("ce-subject").unwrap_or("-").to_owned();
            self.seen.lock().unwrap().push(format!(
                "publish {topic} {ce_type} {content_type} {} subject {subject}",
                payload.len()
            ));
            Box::pin(async { Ok(()) })
        }

        fn start_timer<'a>(
            &'a self,
            name: &'a str,
            delay: std::time::Duration,
            call: DeferredCall<Bytes>,
            max_retries: u32,
        ) -> BoxFuture<'a, Result<(), Status>> {
            self.seen.lock().unwrap().push(format!(
                "timer {name} {delay:?} {} {max_retries}",
                call.path()
            ));
            Box::pin(async { Ok(()) })
        }

        fn cancel_timer<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Status>> {
            self.seen.lock().unwrap().push(format!("cancel {name}"));
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn an_action_context_reaches_out_through_its_outbound() {
        let fake = Arc::new(Fake::default());
        let ctx = ActionContext::new(Metadata::new().with("ce-subject", "c1"))
            .with_outbound(fake.clone());
        let reply: u64 = ctx
            .call(DeferredCall::new("/x.Svc/Get", Bytes::from_static(b"ab")))
            .await
            .unwrap();
        assert_eq!(reply, 7);
        let failed = ctx
            .call(DeferredCall::<u64>::new("/x.Svc/Fail", Bytes::new()))
            .await
            .unwrap_err();
        assert_eq!(failed.message(), "no such thing");
        ctx.publish("events", "x.Changed", &1u32).await.unwrap();
        let call = DeferredCall::<()>::new("/x.Svc/Later", Bytes::new());
        ctx.timers()
            .start_single("t1", std::time::Duration::from_secs(3), call, 2)
            .await
            .unwrap();
        ctx.timers().cancel("t1").await.unwrap();
        assert_eq!(
            *fake.seen.lock().unwrap(),
            [
                "call /x.Svc/Get (2 bytes)",
                "call /x.Svc/Fail (0 bytes)",
                "publish events x.Changed application/protobuf 2 subject c1",
                "timer t1 3s /x.Svc/Later 2",
                "cancel t1",
            ]
        );
        // Without one, each of them says why it cannot.
        let alone = ActionContext::new(Metadata::new());
        let refused = alone
            .call(DeferredCall::<u64>::new("/x.Svc/Get", Bytes::new()))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), crate::status::Code::FailedPrecondition);
        assert!(alone.publish("events", "x", &1u32).await.is_err());
        assert!(alone.timers().cancel("t1").await.is_err());
    }
}
