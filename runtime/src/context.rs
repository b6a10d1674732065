//! What a handler knows about the call besides its input: the entity id, the
//! request metadata, and for subscriptions the CloudEvents attributes. An
//! action's context also calls other components of the service.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::component::adapter::ActionReply;
use crate::effect::DeferredCall;
use crate::status::Status;

/// Request metadata: HTTP headers or gRPC metadata (keys lower-case), and the
/// CloudEvents attributes (`ce-*`) of subscribed messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, String)>,
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
}

/// The context of an entity command.
#[derive(Debug, Clone)]
pub struct CommandContext {
    entity_id: String,
    metadata: Metadata,
}

impl CommandContext {
    /// A context for the entity `entity_id` (the runtime builds these; tests may too).
    pub fn new(entity_id: impl Into<String>) -> CommandContext {
        CommandContext {
            entity_id: entity_id.into(),
            metadata: Metadata::new(),
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
}

/// Sends a call to a method of this service (the dispatcher, one forward
/// level deeper than the calling action).
pub(crate) type CallFn = dyn Fn(&'static str, Bytes, Metadata) -> BoxFuture<'static, Result<ActionReply, Status>>
    + Send
    + Sync;

/// The context of an action call or subscription delivery.
#[derive(Clone, Default)]
pub struct ActionContext {
    metadata: Metadata,
    caller: Option<Arc<CallFn>>,
}

impl std::fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionContext")
            .field("metadata", &self.metadata)
            .field("can_call", &self.caller.is_some())
            .finish()
    }
}

impl ActionContext {
    /// A context with this metadata (the runtime builds these; tests may too).
    /// A context built this way is not connected to a service: [`ActionContext::call`]
    /// fails with `FAILED_PRECONDITION`.
    pub fn new(metadata: Metadata) -> ActionContext {
        ActionContext {
            metadata,
            caller: None,
        }
    }

    /// A context whose calls go through `caller` (the runtime's dispatcher).
    pub(crate) fn connected(metadata: Metadata, caller: Arc<CallFn>) -> ActionContext {
        ActionContext {
            metadata,
            caller: Some(caller),
        }
    }

    /// Call a unary method of another component of this service and wait for
    /// its reply, e.g. `ctx.call(CustomerServiceClient::get_customer(request)).await?`
    /// with a generated client. The call carries this call's metadata; entity
    /// commands are serialized with the entity's other commands as usual, and
    /// the callee's error comes back as it is.
    pub async fn call<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
    ) -> Result<R, Status> {
        let Some(caller) = &self.caller else {
            return Err(Status::failed_precondition(format!(
                "cannot call {}: this context is not connected to a running service",
                call.path()
            )));
        };
        let path = call.path();
        match caller(path, call.payload().clone(), self.metadata.clone()).await? {
            ActionReply::Unary(reply) => R::decode(reply).map_err(|error| {
                Status::internal(format!("the reply of {path} does not decode: {error}"))
            }),
            ActionReply::Stream(_) => Err(Status::invalid_argument(format!(
                "{path} streams its replies; call it from a client instead"
            ))),
        }
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
}
