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
    ViewAdapter, WorkflowAdapter,
};
pub use crate::component::info::*;
pub use crate::component::{Component, Registration};
pub use crate::context::{ActionContext, CommandContext, Metadata, UpdateContext};
pub use crate::effect::{DeferredCall, Effect, EventEffect, RowUpdate};
pub use crate::http::HttpBody;
pub use crate::http::typed_json::JsonCodec;

/// What generated JSON codecs use.
pub mod json {
    #[doc(hidden)]
    pub use crate::http::typed_json::*;
    #[doc(hidden)]
    pub use ::serde;
}
pub use crate::status::{Code, Status};
pub use crate::streaming_call::StreamingCall;
pub use crate::testkit::{
    ActionKit, ActionResult, EventOf, EventSourcedKit, EventSourcedResult, ValueEntityKit,
    ValueEntityResult, ViewKit, ViewResult, WorkflowKit, WorkflowResult,
};
pub use crate::workflow::{WorkflowContext, WorkflowDefinition, WorkflowEffect};

/// A stream of replies of a server-streaming action method.
pub type ReplyStream<R> = BoxStream<'static, Result<R, Status>>;

/// The requests of a client-streaming (or bidirectional) action method, as
/// they arrive; an item is an error when a request does not decode or the
/// client's stream failed.
pub type RequestStream<R> = BoxStream<'static, Result<R, Status>>;

/// Decode a message, mapping a failure to `INVALID_ARGUMENT`.
pub fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, Status> {
    M::decode(payload)
        .map_err(|error| Status::invalid_argument(format!("invalid request message: {error}")))
}

/// Encode a message.
pub fn encode<M: Message>(message: &M) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Join the parts of a composite entity id with `/`. With several parts,
/// `%` and `/` inside a part are written `%25` and `%2F`, so that two
/// different tuples never make the same id (`("a/b", "c")` and
/// `("a", "b/c")`); a single-part id is the part as it is.
pub fn join_id(parts: &[&dyn std::fmt::Display]) -> String {
    use std::fmt::Write;
    if let [only] = parts {
        return only.to_string();
    }
    let mut id = String::new();
    let mut part = String::new();
    for (i, value) in parts.iter().enumerate() {
        if i > 0 {
            id.push('/');
        }
        part.clear();
        let _ = write!(part, "{value}");
        for c in part.chars() {
            match c {
                '%' => id.push_str("%25"),
                '/' => id.push_str("%2F"),
                c => id.push(c),
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::join_id;

    #[test]
    fn composite_ids_are_unambiguous() {
        assert_eq!(join_id(&[&"a/b", &"c"]), "a%2Fb/c");
        assert_eq!(join_id(&[&"a", &"b/c"]), "a/b%2Fc");
        assert_eq!(join_id(&[&"50%", &7]), "50%25/7");
        assert_eq!(join_id(&[&"a", &"b"]), "a/b");
        // One part is kept as it is: stored single-field ids do not change.
        assert_eq!(join_id(&[&"a/b%"]), "a/b%");
    }
}
