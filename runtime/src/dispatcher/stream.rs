//! Calls whose requests stream in: always to an action, each holding a
//! stream slot of the budget for as long as its requests (and a streamed
//! reply) last.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tracing::Instrument as _;

use super::span::handler_span;
use super::{Dispatcher, Handler};
use crate::component::adapter::ActionReply;
use crate::context::{ActionContext, Metadata};
use crate::executor::guard::{guarded, panic_status};
use crate::status::Status;

impl Dispatcher {
    /// A request stream's call: always to an action, holding a stream slot
    /// for as long as the requests (and a streamed reply) last.
    pub(super) fn stream_call(
        &self,
        path: &str,
        requests: BoxStream<'static, Result<Bytes, Status>>,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let route = match self.inner.routes.get(path) {
            Some(route) if route.info.methods[route.method].client_streaming => route.clone(),
            _ => {
                let status =
                    Status::unimplemented(format!("{path} does not take a request stream"));
                return futures::future::ready(Err(status)).boxed();
            }
        };
        let Handler::Action(adapter) = route.handler.clone() else {
            let status = Status::unimplemented(format!("{path} does not take a request stream"));
            return futures::future::ready(Err(status)).boxed();
        };
        let started = Instant::now();
        let slot = match self.inner.budgets.acquire(path, true) {
            Ok(slot) => slot,
            Err(status) => {
                route.stat.record(status.code(), started.elapsed());
                return futures::future::ready(Err(status)).boxed();
            }
        };
        let inner = self.inner.clone();
        let span = handler_span(Some(&route), &metadata);
        async move {
            let (info, method) = (route.info, route.method);
            let reply = async {
                let link = inner.link(info.service, 0);
                let ctx = ActionContext::new(metadata.clone()).with_outbound(Arc::new(link));
                let future = guarded(info, method, || adapter.call_stream(method, requests, ctx))?;
                let reply = AssertUnwindSafe(future)
                    .catch_unwind()
                    .await
                    .map_err(|panic| panic_status(info, method, panic))??;
                let reply = crate::eventing::publish_reply(
                    inner.publisher.get(),
                    info,
                    method,
                    &metadata,
                    reply,
                )
                .await?;
                Ok(match reply {
                    ActionReply::Stream(stream) => {
                        ActionReply::Stream(inner.budgets.bound(stream, slot))
                    }
                    unary => unary,
                })
            }
            .await;
            route.stat.finish(started, &reply);
            reply
        }
        .instrument(span)
        .boxed()
    }
}
