//! The generic gRPC service: any `/package.Service/Method` of a registered
//! component goes to [`Dispatch::dispatch`], unary or server-streaming as the
//! method is declared; anything else is `UNIMPLEMENTED`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tonic::server::{
    ClientStreamingService, Grpc, ServerStreamingService, StreamingService, UnaryService,
};

use super::codec::BytesCodec;
use crate::auth::{Authenticator, Claims};
use crate::component::adapter::ActionReply;
use crate::component::info::MethodInfo;
use crate::context::{Metadata, is_reserved};
use crate::dispatch::SharedDispatch;
use crate::status::Status;

/// Routes gRPC calls to the dispatcher.
#[derive(Clone)]
pub(crate) struct Gateway {
    dispatch: SharedDispatch,
    /// Method path → the method.
    methods: Arc<HashMap<&'static str, &'static MethodInfo>>,
    max_message_bytes: usize,
    /// Checks bearer tokens.
    auth: Arc<Authenticator>,
}

impl Gateway {
    /// A gateway for the components of `dispatch`.
    pub(crate) fn new(
        dispatch: SharedDispatch,
        max_message_bytes: usize,
        auth: Arc<Authenticator>,
    ) -> Gateway {
        let methods = dispatch
            .components()
            .iter()
            .flat_map(|component| component.methods.iter().map(|m| (m.path, m)))
            .collect();
        Gateway {
            dispatch,
            methods: Arc::new(methods),
            max_message_bytes,
            auth,
        }
    }

    /// Whether `path` is a method of a registered component.
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.methods.contains_key(path)
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("methods", &self.methods.len())
            .finish_non_exhaustive()
    }
}

impl<B> tower::Service<http::Request<B>> for Gateway
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        let Some(&method) = self.methods.get(path.as_str()) else {
            let status = tonic::Status::unimplemented(format!("unknown method {path}"));
            return futures::future::ready(Ok(status.into_http())).boxed();
        };
        let refused = if method.public() {
            crate::acl::check(method, crate::server::calling_service(request.extensions()))
                .err()
                .map(to_tonic)
        } else {
            Some(tonic::Status::permission_denied(format!(
                "{path} is called by the runtime only (it is fed by a subscription or updates a view)"
            )))
        };
        if let Some(status) = refused {
            return futures::future::ready(Ok(status.into_http())).boxed();
        }
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let claims = match self.auth.authenticate(method, authorization) {
            Ok(claims) => claims,
            Err(status) => return futures::future::ready(Ok(to_tonic(status).into_http())).boxed(),
        };
        let streaming = method.server_streaming;
        let caller = crate::server::caller(request.extensions());
        let call = Call {
            dispatch: self.dispatch.clone(),
            method,
            auth: self.auth.clone(),
            claims,
            caller,
        };
        let mut grpc = Grpc::new(BytesCodec).max_decoding_message_size(self.max_message_bytes);
        let client_streaming = method.client_streaming;
        async move {
            Ok(match (client_streaming, streaming) {
                (false, false) => grpc.unary(call, request).await,
                (false, true) => grpc.server_streaming(call, request).await,
                (true, false) => grpc.client_streaming(call, request).await,
                (true, true) => grpc.streaming(call, request).await,
            })
        }
        .boxed()
    }
}

/// One call of one method.
struct Call {
    dispatch: SharedDispatch,
    method: &'static MethodInfo,
    auth: Arc<Authenticator>,
    /// The validated token's claims, when the method validates tokens.
    claims: Option<Arc<Claims>>,
    /// Who is calling.
    caller: crate::context::Caller,
}

impl Call {
    fn start(
        &self,
        request: tonic::Request<Bytes>,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let mut metadata = metadata_of(request.metadata());
        let payload =
            match self
                .auth
                .fill_fields(self.method, request.into_inner(), self.claims.as_deref())
            {
                Ok(payload) => payload,
                Err(status) => return futures::future::ready(Err(status)).boxed(),
            };
        metadata.set_claims(self.claims.clone());
        metadata.set_caller(self.caller.clone());
        self.dispatch.dispatch(self.method.path, payload, metadata)
    }
}

impl Call {
    /// Dispatch a call whose requests stream in: each message gets the
    /// token's claims in its fields, as a unary request would.
    fn start_stream(
        &self,
        request: tonic::Request<tonic::Streaming<Bytes>>,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let mut metadata = metadata_of(request.metadata());
        metadata.set_claims(self.claims.clone());
        metadata.set_caller(self.caller.clone());
        let (auth, method, claims) = (self.auth.clone(), self.method, self.claims.clone());
        let requests = request
            .into_inner()
            .map(move |item| {
                let payload = item.map_err(|status| {
                    Status::new(
                        crate::status::Code::from_i32(status.code() as i32),
                        status.message().to_owned(),
                    )
                })?;
                auth.fill_fields(method, payload, claims.as_deref())
            })
            .boxed();
        self.dispatch
            .dispatch_stream(self.method.path, requests, metadata)
    }

    /// The reply of a method that answers once.
    async fn unary_reply(
        reply: BoxFuture<'static, Result<ActionReply, Status>>,
    ) -> Result<tonic::Response<Bytes>, tonic::Status> {
        match reply.await.map_err(to_tonic)? {
            ActionReply::Unary(message) => Ok(tonic::Response::new(message)),
            // A unary method whose handler streamed: its first message is the reply.
            ActionReply::Stream(mut stream) => match stream.next().await {
                Some(Ok(message)) => Ok(tonic::Response::new(message)),
                Some(Err(status)) => Err(to_tonic(status)),
                None => Err(tonic::Status::internal("the handler produced no reply")),
            },
        }
    }

    /// The reply of a method that streams its replies.
    async fn stream_reply(
        reply: BoxFuture<'static, Result<ActionReply, Status>>,
    ) -> Result<tonic::Response<BoxStream<'static, Result<Bytes, tonic::Status>>>, tonic::Status>
    {
        let stream = match reply.await.map_err(to_tonic)? {
            ActionReply::Unary(message) => {
                futures::stream::once(async move { Ok(message) }).boxed()
            }
            ActionReply::Stream(stream) => stream.map(|item| item.map_err(to_tonic)).boxed(),
        };
        Ok(tonic::Response::new(stream))
    }
}

impl ClientStreamingService<Bytes> for Call {
    type Response = Bytes;
    type Future = BoxFuture<'static, Result<tonic::Response<Bytes>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        Call::unary_reply(self.start_stream(request)).boxed()
    }
}

impl StreamingService<Bytes> for Call {
    type Response = Bytes;
    type ResponseStream = BoxStream<'static, Result<Bytes, tonic::Status>>;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        Call::stream_reply(self.start_stream(request)).boxed()
    }
}

impl UnaryService<Bytes> for Call {
    type Response = Bytes;
    type Future = BoxFuture<'static, Result<tonic::Response<Bytes>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        Call::unary_reply(self.start(request)).boxed()
    }
}

impl ServerStreamingService<Bytes> for Call {
    type Response = Bytes;
    type ResponseStream = BoxStream<'static, Result<Bytes, tonic::Status>>;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        Call::stream_reply(self.start(request)).boxed()
    }
}

/// The request metadata handlers see: the ASCII entries of the gRPC
/// metadata, without the keys only the runtime sets ([`is_reserved`]).
fn metadata_of(map: &tonic::metadata::MetadataMap) -> Metadata {
    let mut metadata = Metadata::new();
    for entry in map.iter() {
        if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry
            && !is_reserved(key.as_str())
            && let Ok(value) = value.to_str()
        {
            metadata.insert(key.as_str(), value);
        }
    }
    metadata
}

/// A Plinth status as a tonic status.
pub(crate) fn to_tonic(status: Status) -> tonic::Status {
    tonic::Status::new(
        tonic::Code::from_i32(status.code() as i32),
        status.message(),
    )
}
