//! The facade generated code uses. Generated code names only `plinth::codegen::*`,
//! so a user's build depends on Plinth alone, never on the crates behind it.
//! Not for hand-written code: its contents follow the generator.

#[doc(hidden)]
pub use ::bytes::{self, Bytes};
#[doc(hidden)]
pub use ::futures::{self, future::BoxFuture, stream::BoxStream};
#[doc(hidden)]
pub use ::prost::{self, Message};
#[doc(hidden)]
pub use ::prost_types;

pub use crate::component::adapter::{
    ActionAdapter, ActionReply, Decoded, EventSet, EventSourcedAdapter, ValueEntityAdapter,
    ViewAdapter,
};
pub use crate::component::info::*;
pub use crate::component::{Component, Registration};
pub use crate::context::{ActionContext, CommandContext, Metadata, UpdateContext};
pub use crate::effect::{DeferredCall, Effect, EventEffect, RowUpdate};
pub use crate::status::{Code, Status};

/// A stream of replies of a server-streaming action method.
pub type ReplyStream<R> = BoxStream<'static, Result<R, Status>>;

/// Decode a message, mapping a failure to `INVALID_ARGUMENT`.
pub fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, Status> {
    M::decode(payload)
        .map_err(|error| Status::invalid_argument(format!("invalid request message: {error}")))
}

/// Encode a message.
pub fn encode<M: Message>(message: &M) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Join the parts of a composite entity id.
pub fn join_id(parts: &[&dyn std::fmt::Display]) -> String {
    let mut id = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            id.push('/');
        }
        use std::fmt::Write;
        let _ = write!(id, "{part}");
    }
    id
}
