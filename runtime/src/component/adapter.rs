//! The traits generated adapters implement: the bridge between a user's typed
//! trait and the runtime, which only sees encoded messages.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::info::ComponentInfo;
use crate::context::{ActionContext, CommandContext, UpdateContext};
use crate::effect::{Effect, EventEffect, RowUpdate};
use crate::status::Status;
use crate::workflow::{WorkflowContext, WorkflowDefinition, WorkflowEffect};

/// A decoded command and the id of the entity it is for.
#[derive(Debug)]
pub struct Decoded<C> {
    /// The typed command.
    pub command: C,
    /// The entity id from the command's id fields; `None` when the method
    /// generates ids.
    pub entity_id: Option<String>,
}

/// A value entity, as the runtime drives it.
pub trait ValueEntityAdapter: Send + Sync + 'static {
    /// The state message.
    type State: prost::Message + Default + Clone + Send + Sync + 'static;
    /// A decoded command of any of the entity's methods.
    type Command: Send + 'static;

    /// The static description.
    fn info(&self) -> &'static ComponentInfo;
    /// The state of an entity that has none stored.
    fn empty_state(&self) -> Self::State;
    /// Decode the input of method `method` (an index into `info().methods`).
    fn decode(&self, method: usize, payload: &[u8]) -> Result<Decoded<Self::Command>, Status>;
    /// Run the user's handler; the reply comes back encoded.
    fn handle(
        &self,
        state: &Self::State,
        command: Self::Command,
        ctx: &CommandContext,
    ) -> Effect<Self::State, Bytes>;
}

/// A workflow, as the runtime drives it.
pub trait WorkflowAdapter: Send + Sync + 'static {
    /// The state message.
    type State: prost::Message + Default + Clone + Send + Sync + 'static;
    /// A decoded command of any of the workflow's methods.
    type Command: Send + 'static;

    /// The static description.
    fn info(&self) -> &'static ComponentInfo;
    /// The state of a workflow that has none stored.
    fn empty_state(&self) -> Self::State;
    /// The steps, timeouts and recovery (asked once, at install).
    fn definition(&self) -> WorkflowDefinition<Self::State>;
    /// Decode the input of method `method`.
    fn decode(&self, method: usize, payload: &[u8]) -> Result<Decoded<Self::Command>, Status>;
    /// Run the user's handler; the reply comes back encoded.
    fn handle(
        &self,
        state: &Self::State,
        command: Self::Command,
        ctx: &WorkflowContext,
    ) -> WorkflowEffect<Self::State, Bytes>;
}

/// The closed set of events of one event-sourced entity (a generated enum).
pub trait EventSet: Sized + Clone + Send + Sync + 'static {
    /// The fully qualified proto name of this event's message.
    fn type_name(&self) -> &'static str;
    /// The event's message, encoded.
    fn encode_payload(&self) -> Vec<u8>;
    /// Decode an event of message type `type_name`.
    fn decode_payload(type_name: &str, payload: &[u8]) -> Result<Self, Status>;
}

/// An event-sourced entity, as the runtime drives it.
pub trait EventSourcedAdapter: Send + Sync + 'static {
    /// The state message.
    type State: prost::Message + Default + Clone + Send + Sync + 'static;
    /// The entity's events.
    type Event: EventSet;
    /// A decoded command of any of the entity's methods.
    type Command: Send + 'static;

    /// The static description.
    fn info(&self) -> &'static ComponentInfo;
    /// The state before the first event.
    fn empty_state(&self) -> Self::State;
    /// Decode the input of method `method`.
    fn decode(&self, method: usize, payload: &[u8]) -> Result<Decoded<Self::Command>, Status>;
    /// Run the user's command handler; the reply comes back encoded.
    fn handle(
        &self,
        state: &Self::State,
        command: Self::Command,
        ctx: &CommandContext,
    ) -> EventEffect<Self::State, Self::Event, Bytes>;
    /// Fold one event into the state.
    fn apply(&self, state: &mut Self::State, event: &Self::Event);
}

/// The reply of an action method.
pub enum ActionReply {
    /// One encoded message.
    Unary(Bytes),
    /// A stream of encoded messages.
    Stream(BoxStream<'static, Result<Bytes, Status>>),
}

impl std::fmt::Debug for ActionReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionReply::Unary(bytes) => f.debug_tuple("Unary").field(&bytes.len()).finish(),
            ActionReply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// An action, as the runtime drives it.
pub trait ActionAdapter: Send + Sync + 'static {
    /// The static description.
    fn info(&self) -> &'static ComponentInfo;
    /// Decode the input of method `method`, call the user's handler, encode its reply.
    fn call(
        &self,
        method: usize,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>>;

    /// Call the handler of method `method`, which takes a stream of
    /// requests, with `requests` (each decoded as it arrives).
    fn call_stream(
        &self,
        method: usize,
        requests: BoxStream<'static, Result<Bytes, Status>>,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let _ = (requests, ctx);
        let status = Status::unimplemented(format!(
            "method {method} of {} does not take a request stream",
            self.info().service
        ));
        Box::pin(futures::future::ready(Err(status)))
    }
}

/// A view, as the runtime drives it.
pub trait ViewAdapter: Send + Sync + 'static {
    /// The static description.
    fn info(&self) -> &'static ComponentInfo;
    /// Compute the new row of update method `method` from the current row (if
    /// any) and the input. Methods without `transform_updates` store the input.
    fn update(
        &self,
        method: usize,
        row: Option<&[u8]>,
        input: &[u8],
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<Bytes>, Status>;
}
