//! How a call ended in a test kit — a reply, an error or a forward — and
//! the assertions on it every result offers.

use bytes::Bytes;

use crate::effect::DeferredCall;
use crate::status::Status;

/// How a handler's call ended.
#[derive(Debug)]
pub(crate) enum Ended<R> {
    Reply(R),
    Error(Status),
    Forward(DeferredCall<R>),
}

impl<R> Ended<R> {
    fn describe(&self) -> String {
        match self {
            Ended::Reply(_) => "it replied".to_owned(),
            Ended::Error(status) => {
                format!("it failed with {:?}: {}", status.code(), status.message())
            }
            Ended::Forward(call) => format!("it forwarded to {}", call.path()),
        }
    }

    pub(crate) fn reply(&self) -> &R {
        match self {
            Ended::Reply(reply) => reply,
            other => panic!("expected a reply, but {}", other.describe()),
        }
    }

    pub(crate) fn into_reply(self) -> R {
        match self {
            Ended::Reply(reply) => reply,
            other => panic!("expected a reply, but {}", other.describe()),
        }
    }

    pub(crate) fn error(&self) -> &Status {
        match self {
            Ended::Error(status) => status,
            other => panic!("expected an error, but {}", other.describe()),
        }
    }

    pub(crate) fn forward(&self) -> &DeferredCall<R> {
        match self {
            Ended::Forward(call) => call,
            other => panic!("expected a forward, but {}", other.describe()),
        }
    }

    /// Continue with the reply; errors and forwards stay as they are.
    pub(crate) fn and_then<T>(self, f: impl FnOnce(R) -> Ended<T>) -> Ended<T> {
        match self {
            Ended::Reply(reply) => f(reply),
            Ended::Error(status) => Ended::Error(status),
            Ended::Forward(call) => {
                Ended::Forward(DeferredCall::new(call.path(), call.payload().clone()))
            }
        }
    }

    pub(crate) fn is_error(&self) -> bool {
        matches!(self, Ended::Error(_))
    }
}

impl Ended<Bytes> {
    /// The same ending with the reply decoded as the method's output type.
    pub(crate) fn decoded<R: prost::Message + Default>(self) -> Ended<R> {
        match self {
            Ended::Reply(bytes) => Ended::Reply(R::decode(bytes).unwrap_or_else(|error| {
                panic!(
                    "the reply does not decode as {}: {error}",
                    std::any::type_name::<R>()
                )
            })),
            Ended::Error(status) => Ended::Error(status),
            Ended::Forward(call) => {
                Ended::Forward(DeferredCall::new(call.path(), call.payload().clone()))
            }
        }
    }
}

/// Decode the request of a call a handler made or forwarded.
pub(crate) fn request_of<Q: prost::Message + Default>(path: &str, payload: &Bytes) -> Q {
    Q::decode(payload.as_ref()).unwrap_or_else(|error| {
        panic!(
            "the request of {path} is not a {}: {error}",
            std::any::type_name::<Q>()
        )
    })
}

/// The accessors every result has, over its `ended` field.
macro_rules! outcome_accessors {
    ($reply:ty) => {
        /// The reply.
        ///
        /// # Panics
        /// When the handler failed or forwarded (the message says which).
        pub fn reply(&self) -> &$reply {
            self.ended.reply()
        }

        /// The reply, taken out of the result.
        ///
        /// # Panics
        /// When the handler failed or forwarded.
        pub fn into_reply(self) -> $reply {
            self.ended.into_reply()
        }

        /// Whether the handler returned an error.
        pub fn is_error(&self) -> bool {
            self.ended.is_error()
        }

        /// The error the handler returned.
        ///
        /// # Panics
        /// When it did not fail.
        pub fn error(&self) -> &$crate::Status {
            self.ended.error()
        }

        /// The call the handler forwarded to (its path and request).
        ///
        /// # Panics
        /// When it did not forward.
        pub fn forward(&self) -> &$crate::DeferredCall<$reply> {
            self.ended.forward()
        }

        /// The request of the forwarded call, decoded.
        ///
        /// # Panics
        /// When it did not forward, or the request is not a `Q`.
        pub fn forward_request<Q: prost::Message + Default>(&self) -> Q {
            let call = self.ended.forward();
            $crate::testkit::outcome::request_of(call.path(), call.payload())
        }
    };
}

pub(crate) use outcome_accessors;

/// The accessors of an entity command's result over its `side_effects`
/// and `timers` fields.
macro_rules! entity_effect_accessors {
    () => {
        /// The side effects, in order (made once the command's write is
        /// durable).
        pub fn side_effects(&self) -> &[$crate::DeferredCall<bytes::Bytes>] {
            &self.side_effects
        }

        /// The request of the side effect calling `path`, decoded.
        ///
        /// # Panics
        /// When there is no such side effect, or its request is not a `Q`.
        pub fn side_effect<Q: prost::Message + Default>(&self, path: &str) -> Q {
            $crate::testkit::outcome::find_call(&self.side_effects, path)
        }

        /// The timers the command started and cancelled, in order.
        pub fn timers(&self) -> &[$crate::testkit::TimerChange] {
            &self.timers
        }
    };
}

pub(crate) use entity_effect_accessors;

/// The request of the call to `path` among `calls`.
pub(crate) fn find_call<Q: prost::Message + Default>(
    calls: &[DeferredCall<Bytes>],
    path: &str,
) -> Q {
    match calls.iter().find(|call| call.path() == path) {
        Some(call) => request_of(path, call.payload()),
        None => {
            let made: Vec<&str> = calls.iter().map(|call| call.path()).collect();
            panic!("no side effect calls {path}; the side effects call {made:?}")
        }
    }
}
