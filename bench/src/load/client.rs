//! Connections to the target: HTTP/1.1 keep-alive, h2c (prior knowledge) and gRPC.
//!
//! HTTP uses hyper's connection-level client so that the number of TCP connections is exactly
//! what the run asks for (a pooled client would open more under load). gRPC uses tonic channels
//! with the raw-bytes codec.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use super::codec::RawCodec;
use super::config::Transport;
use super::template::Rendered;
use crate::target::Target;
use crate::{Error, Result};

/// A connection one worker sends its requests on.
#[derive(Debug)]
pub enum Conn {
    /// HTTP/1.1: one request at a time; reconnected after a failure.
    Http1(Option<http1::SendRequest<Full<Bytes>>>),
    /// h2c: a clone of a shared multiplexed connection.
    H2(http2::SendRequest<Full<Bytes>>),
    /// gRPC over a (shared, multiplexed) tonic channel.
    Grpc(tonic::client::Grpc<Channel>),
}

/// Why a request failed, as reported in results (`http 404`, `grpc Unavailable`, `timeout`, ...).
pub type Failure = String;

async fn tcp(target: &Target) -> Result<TcpStream> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|e| Error::Connect {
            target: target.base.clone(),
            reason: e.to_string(),
        })?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn http1_connect(target: &Target) -> Result<http1::SendRequest<Full<Bytes>>> {
    let io = TokioIo::new(tcp(target).await?);
    let (send, conn) = http1::handshake(io).await.map_err(|e| Error::Connect {
        target: target.base.clone(),
        reason: e.to_string(),
    })?;
    tokio::spawn(conn);
    Ok(send)
}

async fn h2_connect(target: &Target) -> Result<http2::SendRequest<Full<Bytes>>> {
    let io = TokioIo::new(tcp(target).await?);
    let (send, conn) = http2::handshake(TokioExecutor::new(), io)
        .await
        .map_err(|e| Error::Connect {
            target: target.base.clone(),
            reason: e.to_string(),
        })?;
    tokio::spawn(conn);
    Ok(send)
}

async fn grpc_connect(target: &Target) -> Result<Channel> {
    Endpoint::from_shared(target.base.clone())
        .map_err(|e| Error::BadUrl {
            url: target.base.clone(),
            reason: e.to_string(),
        })?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| Error::Connect {
            target: target.base.clone(),
            reason: format!(
                "{e} ({})",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
        })
}

/// Opens `workers` worker connections over `connections` TCP connections.
///
/// HTTP/1.1 gives every worker its own connection (`connections` must equal `workers`); h2c and
/// gRPC spread the workers over `connections` multiplexed connections.
pub async fn connect(
    target: &Target,
    transport: Transport,
    connections: usize,
    workers: usize,
) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(workers);
    match transport {
        Transport::Http1 => {
            for _ in 0..workers {
                conns.push(Conn::Http1(Some(http1_connect(target).await?)));
            }
        }
        Transport::H2c => {
            let mut shared = Vec::with_capacity(connections);
            for _ in 0..connections {
                shared.push(h2_connect(target).await?);
            }
            conns.extend((0..workers).map(|i| Conn::H2(shared[i % connections].clone())));
        }
        Transport::Grpc => {
            let mut shared = Vec::with_capacity(connections);
            for _ in 0..connections {
                shared.push(grpc_connect(target).await?);
            }
            conns
                .extend((0..workers).map(|i| {
                    Conn::Grpc(tonic::client::Grpc::new(shared[i % connections].clone()))
                }));
        }
    }
    Ok(conns)
}

impl Conn {
    /// Sends one request and reads the whole response; `Err` says why it failed.
    pub async fn execute(
        &mut self,
        target: &Target,
        req: Rendered,
        timeout: Duration,
    ) -> Result<(), Failure> {
        match tokio::time::timeout(timeout, self.execute_inner(target, req)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may still carry the late response: start afresh.
                if let Conn::Http1(slot) = self {
                    *slot = None;
                }
                Err("timeout".into())
            }
        }
    }

    async fn execute_inner(&mut self, target: &Target, req: Rendered) -> Result<(), Failure> {
        match (self, req) {
            (Conn::Http1(slot), Rendered::Http { method, uri, body }) => {
                if slot.as_ref().is_none_or(|s| s.is_closed()) {
                    *slot = Some(
                        http1_connect(target)
                            .await
                            .map_err(|e| format!("connect: {e}"))?,
                    );
                }
                let send = slot.as_mut().expect("connected just above");
                if send.ready().await.is_err() {
                    *slot = None;
                    return Err("connection closed".into());
                }
                let request = http_request(Some(target), method, uri, body)?;
                let result = send.send_request(request).await;
                let outcome = read_http(result).await;
                if outcome.is_err() && slot.as_ref().is_some_and(|s| s.is_closed()) {
                    *slot = None;
                }
                outcome
            }
            (Conn::H2(send), Rendered::Http { method, uri, body }) => {
                if send.is_closed() {
                    *send = h2_connect(target)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                }
                send.ready().await.map_err(|e| format!("h2: {e}"))?;
                // HTTP/2 takes the authority from the absolute URI.
                let request = http_request(None, method, uri, body)?;
                read_http(send.send_request(request).await).await
            }
            (Conn::Grpc(grpc), Rendered::Grpc { path, body }) => {
                grpc.ready()
                    .await
                    .map_err(|e| format!("grpc transport: {e}"))?;
                grpc.unary(tonic::Request::new(body), path, RawCodec)
                    .await
                    .map(drop)
                    .map_err(|s| format!("grpc {:?}", s.code()))
            }
            _ => Err("request kind does not match the transport".into()),
        }
    }
}

fn http_request(
    host: Option<&Target>,
    method: http::Method,
    uri: http::Uri,
    body: Bytes,
) -> Result<http::Request<Full<Bytes>>, Failure> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if !body.is_empty() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    if let Some(target) = host {
        builder = builder.header(http::header::HOST, target.authority());
    }
    builder
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))
}

async fn read_http(
    result: hyper::Result<http::Response<hyper::body::Incoming>>,
) -> Result<(), Failure> {
    let response = result.map_err(|e| format!("http: {e}"))?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("http body: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("http {}", status.as_u16()))
    }
}
