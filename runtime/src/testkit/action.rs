//! The action kit: calls an action's handlers with a context whose
//! component calls get canned replies, whose publishes land in in-memory
//! topics with the runtime's CloudEvents attributes, and whose timers run
//! on the kit's clock. A method with `(plinth.method).publish` publishes
//! its reply as the runtime does.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::StreamExt;

use super::env::{KitEnv, TimerChange};
use super::outbound::{KitOutbound, MadeCall, Published};
use super::outcome::{Ended, outcome_accessors};
use crate::codegen::encode;
use crate::component::adapter::{ActionAdapter, ActionReply};
use crate::component::info::ComponentInfo;
use crate::context::ActionContext;
use crate::effect::DeferredCall;
use crate::eventing::publisher::publish_reply;
use crate::status::Status;

/// An action's canned replies and what its calls did. Generated kits
/// (`<Name>ActionTestKit`) wrap one and dereference to it.
#[derive(Debug)]
pub struct ActionKit {
    env: KitEnv,
    info: &'static ComponentInfo,
    outbound: Arc<KitOutbound>,
}

/// How a method takes its input.
enum Input {
    One(bytes::Bytes),
    Stream(Vec<bytes::Bytes>),
}

impl ActionKit {
    /// A kit for the action `info` describes.
    pub fn new(info: &'static ComponentInfo) -> ActionKit {
        let env = KitEnv::default();
        let outbound = Arc::new(KitOutbound::new(info.service, env.clock().clone()));
        ActionKit {
            env,
            info,
            outbound,
        }
    }

    /// Give calls of a generated client's method a canned reply:
    /// `kit.when(CustomerServiceClient::get_customer).reply(|request| Ok(..))`.
    /// A call without one fails with `UNIMPLEMENTED`.
    pub fn when<Q, R, F>(&mut self, method: F) -> Canned<'_, Q, R>
    where
        Q: prost::Message + Default + 'static,
        R: prost::Message + 'static,
        F: Fn(Q) -> DeferredCall<R>,
    {
        Canned {
            path: method(Q::default()).path(),
            outbound: &self.outbound,
            types: PhantomData,
        }
    }

    /// Every component call the handlers made so far, in order.
    pub fn calls(&self) -> Vec<MadeCall> {
        self.outbound.calls()
    }

    /// Every message published to `topic` so far, in order.
    pub fn published_to(&self, topic: &str) -> Vec<Published> {
        let messages = self.outbound.topics().messages(topic);
        messages
            .into_iter()
            .map(|message| Published::of(topic, message))
            .collect()
    }

    /// Call unary method `method` of `adapter` with `request`.
    pub async fn call_unary<A, Q, R>(
        &mut self,
        adapter: &A,
        method: usize,
        request: &Q,
    ) -> ActionResult<R>
    where
        A: ActionAdapter,
        Q: prost::Message,
        R: prost::Message + Default,
    {
        let (ended, effects) = self
            .exchange(adapter, method, Input::One(encode(request)))
            .await;
        effects.with(ended.and_then(one).decoded())
    }

    /// Call method `method` of `adapter`, which streams its replies, with
    /// `request`; the replies collected.
    pub async fn call_server_stream<A, Q, R>(
        &mut self,
        adapter: &A,
        method: usize,
        request: &Q,
    ) -> ActionResult<Vec<R>>
    where
        A: ActionAdapter,
        Q: prost::Message,
        R: prost::Message + Default,
    {
        let (ended, effects) = self
            .exchange(adapter, method, Input::One(encode(request)))
            .await;
        effects.with(decode_all(ended))
    }

    /// Call method `method` of `adapter`, which takes a stream of requests,
    /// with `requests`; its one reply.
    pub async fn call_client_stream<A, Q, R>(
        &mut self,
        adapter: &A,
        method: usize,
        requests: Vec<Q>,
    ) -> ActionResult<R>
    where
        A: ActionAdapter,
        Q: prost::Message,
        R: prost::Message + Default,
    {
        let input = Input::Stream(requests.iter().map(encode).collect());
        let (ended, effects) = self.exchange(adapter, method, input).await;
        effects.with(ended.and_then(one).decoded())
    }

    /// Call method `method` of `adapter`, streaming both ways, with
    /// `requests`; the replies collected.
    pub async fn call_bidi_stream<A, Q, R>(
        &mut self,
        adapter: &A,
        method: usize,
        requests: Vec<Q>,
    ) -> ActionResult<Vec<R>>
    where
        A: ActionAdapter,
        Q: prost::Message,
        R: prost::Message + Default,
    {
        let input = Input::Stream(requests.iter().map(encode).collect());
        let (ended, effects) = self.exchange(adapter, method, input).await;
        effects.with(decode_all(ended))
    }

    /// Run the handler, publish its reply where the method says, and
    /// collect its replies and what it did.
    async fn exchange<A: ActionAdapter>(
        &mut self,
        adapter: &A,
        method: usize,
        input: Input,
    ) -> (Ended<Vec<bytes::Bytes>>, Effects) {
        let calls_before = self.outbound.calls().len();
        let published_before = self.outbound.topics().count();
        let metadata = self.env.metadata();
        let ctx = ActionContext::new(metadata.clone()).with_outbound(self.outbound.clone());
        let reply = match input {
            Input::One(payload) => adapter.call(method, payload, ctx).await,
            Input::Stream(requests) => {
                let requests = futures::stream::iter(requests.into_iter().map(Ok)).boxed();
                adapter.call_stream(method, requests, ctx).await
            }
        };
        let reply = match reply {
            Ok(reply) => {
                publish_reply(
                    Some(self.outbound.publisher()),
                    self.info,
                    method,
                    &metadata,
                    reply,
                )
                .await
            }
            Err(status) => Err(status),
        };
        let ended = match reply {
            Ok(ActionReply::Unary(bytes)) => Ended::Reply(vec![bytes]),
            Ok(ActionReply::Stream(mut stream)) => {
                let mut replies = Vec::new();
                let mut failed = None;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(bytes) => replies.push(bytes),
                        Err(status) => {
                            failed = Some(status);
                            break;
                        }
                    }
                }
                failed.map_or(Ended::Reply(replies), Ended::Error)
            }
            Err(status) => Ended::Error(status),
        };
        let timers = self.outbound.take_timers();
        self.env.record(&timers);
        let effects = Effects {
            calls: self.outbound.calls().split_off(calls_before),
            published: self
                .outbound
                .topics()
                .published_after(published_before)
                .into_iter()
                .map(|(topic, message)| Published::of(&topic, message))
                .collect(),
            timers,
        };
        (ended, effects)
    }
}

fn one(mut replies: Vec<bytes::Bytes>) -> Ended<bytes::Bytes> {
    match replies.len() {
        1 => Ended::Reply(replies.remove(0)),
        n => Ended::Error(Status::internal(format!("expected one reply, got {n}"))),
    }
}

fn decode_all<R: prost::Message + Default>(ended: Ended<Vec<bytes::Bytes>>) -> Ended<Vec<R>> {
    ended.and_then(|replies| {
        Ended::Reply(
            replies
                .into_iter()
                .map(|bytes| match Ended::Reply(bytes).decoded::<R>() {
                    Ended::Reply(reply) => reply,
                    _ => unreachable!("decoding a reply keeps it a reply"),
                })
                .collect(),
        )
    })
}

impl std::ops::Deref for ActionKit {
    type Target = KitEnv;
    fn deref(&self) -> &KitEnv {
        &self.env
    }
}

impl std::ops::DerefMut for ActionKit {
    fn deref_mut(&mut self) -> &mut KitEnv {
        &mut self.env
    }
}

/// Where a canned reply goes: see [`ActionKit::when`].
#[must_use = "give the call a reply with .reply(..) or .fail(..)"]
pub struct Canned<'a, Q, R> {
    path: &'static str,
    outbound: &'a KitOutbound,
    types: PhantomData<fn(Q) -> R>,
}

impl<Q, R> std::fmt::Debug for Canned<'_, Q, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canned").field("path", &self.path).finish()
    }
}

impl<'a, Q, R> Canned<'a, Q, R> {
    pub(crate) fn new(path: &'static str, outbound: &'a KitOutbound) -> Canned<'a, Q, R> {
        Canned {
            path,
            outbound,
            types: PhantomData,
        }
    }
}

impl<Q, R> Canned<'_, Q, R>
where
    Q: prost::Message + Default + 'static,
    R: prost::Message + 'static,
{
    /// Answer every call with what `reply` computes from its request.
    pub fn reply(self, reply: impl Fn(Q) -> Result<R, Status> + Send + Sync + 'static) {
        let path = self.path;
        self.outbound.set_reply(
            path,
            Arc::new(move |payload| {
                let request = Q::decode(payload).map_err(|error| {
                    Status::invalid_argument(format!(
                        "the request of {path} does not decode: {error}"
                    ))
                })?;
                reply(request).map(|reply| encode(&reply))
            }),
        );
    }

    /// Fail every call with `status`.
    pub fn fail(self, status: Status) {
        self.outbound
            .set_reply(self.path, Arc::new(move |_| Err(status.clone())));
    }
}

/// What one action call did besides replying.
struct Effects {
    calls: Vec<MadeCall>,
    published: Vec<Published>,
    timers: Vec<TimerChange>,
}

impl Effects {
    fn with<R>(self, ended: Ended<R>) -> ActionResult<R> {
        ActionResult {
            ended,
            calls: self.calls,
            published: self.published,
            timers: self.timers,
        }
    }
}

/// What one action call did.
#[derive(Debug)]
pub struct ActionResult<R> {
    ended: Ended<R>,
    calls: Vec<MadeCall>,
    published: Vec<Published>,
    timers: Vec<TimerChange>,
}

impl<R> ActionResult<R> {
    outcome_accessors!(R);

    /// The component calls the handler made, in order.
    pub fn calls(&self) -> &[MadeCall] {
        &self.calls
    }

    /// The messages the call published (through its context, or its reply
    /// with `(plinth.method).publish`), in order.
    pub fn published(&self) -> &[Published] {
        &self.published
    }

    /// The one message the call published to `topic`, decoded as `T`.
    ///
    /// # Panics
    /// When it published none or several there, or it is not a `T`.
    pub fn expect_one<T: prost::Message + Default>(&self, topic: &str) -> T {
        let on: Vec<&Published> = self.published.iter().filter(|p| p.topic == topic).collect();
        match on.as_slice() {
            [one] => one.payload_as(),
            other => panic!(
                "expected one message published to {topic}, found {} (published to {:?})",
                other.len(),
                self.published.iter().map(|p| &p.topic).collect::<Vec<_>>()
            ),
        }
    }

    /// The timers the call started and cancelled, in order.
    pub fn timers(&self) -> &[TimerChange] {
        &self.timers
    }
}
