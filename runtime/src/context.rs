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
    entries: Vec<(String, String)>,
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
        self.entries
            .push((key.into().to_ascii_lowercase(), value.into()));
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

/// The context of an action call or subscription delivery.
#[derive(Debug, Clone, Default)]
pub struct ActionContext {
    metadata: Metadata,
    /// What the runtime lends the handler: publishing and calls (see
    /// `crate::eventing::context`); `None` in contexts built by tests.
    link: Option<crate::eventing::ContextLink>,
}

impl ActionContext {
    /// A context with this metadata (the runtime builds these; tests may too).
    /// A context built this way is not connected to a service: [`ActionContext::call`]
    /// and [`ActionContext::publish`] fail with `FAILED_PRECONDITION`.
    pub fn new(metadata: Metadata) -> ActionContext {
        ActionContext {
            metadata,
            link: None,
        }
    }

    /// The same context, able to publish and call through `link`.
    pub(crate) fn with_link(mut self, link: crate::eventing::ContextLink) -> ActionContext {
        self.link = Some(link);
        self
    }

    /// What the runtime lent the handler.
    pub(crate) fn link(&self) -> Option<&crate::eventing::ContextLink> {
        self.link.as_ref()
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
            scheduler: self.link.as_ref().and_then(|link| link.scheduler.as_ref()),
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
}
