//! Readiness probes and cold-start timing.
//!
//! A probe is one real request; the server is ready when it answers it at the protocol level:
//! an HTTP status below 500, or a gRPC status other than the ones tonic uses for transport
//! failures (`Unavailable`, `Unknown`). A 404 or `InvalidArgument` still proves the server is up
//! and routing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::load::Transport;
use crate::load::codec::RawCodec;
use crate::target::Target;
use crate::{Error, Result};

/// What to probe.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The loopback target.
    pub target: Target,
    /// HTTP (`GET path`) or gRPC (unary call of `path` with an empty message).
    pub transport: Transport,
    /// URL path or `/package.Service/Method`.
    pub path: String,
}

impl Probe {
    /// The default path of each transport: a customer read on the bench API.
    pub fn default_path(transport: Transport) -> &'static str {
        match transport {
            Transport::Grpc => "/bench.CustomerService/Get",
            _ => "/customers/probe",
        }
    }

    /// Sends one probe; `Ok(())` when the server answered it.
    pub async fn once(&self) -> Result<(), String> {
        match self.transport {
            Transport::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(self.target.base.clone())
                    .map_err(|e| e.to_string())?
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                let mut grpc = tonic::client::Grpc::new(channel);
                grpc.ready().await.map_err(|e| e.to_string())?;
                let path = http::uri::PathAndQuery::try_from(self.path.as_str())
                    .map_err(|e| e.to_string())?;
                match grpc
                    .unary(tonic::Request::new(Bytes::new()), path, RawCodec)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(s)
                        if matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Unknown) =>
                    {
                        Err(format!("grpc {:?}: {}", s.code(), s.message()))
                    }
                    Err(_) => Ok(()),
                }
            }
            _ => {
                let stream = TcpStream::connect(self.target.addr)
                    .await
                    .map_err(|e| e.to_string())?;
                let (mut send, conn) =
                    hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                        .await
                        .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                let request = http::Request::get(self.path.as_str())
                    .header(http::header::HOST, self.target.authority())
                    .body(Empty::new())
                    .map_err(|e| e.to_string())?;
                let response = send
                    .send_request(request)
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?;
                if status.as_u16() < 500 {
                    Ok(())
                } else {
                    Err(format!("http {status}"))
                }
            }
        }
    }

    /// Probes every millisecond until the server answers or `timeout` passes; returns the wait.
    pub async fn wait(&self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let last = match self.once().await {
                Ok(()) => return Ok(start.elapsed()),
                Err(e) => e,
            };
            if start.elapsed() > timeout {
                return Err(Error::Connect {
                    target: self.target.base.clone(),
                    reason: format!(
                        "not ready after {:.1}s (last probe: {last})",
                        timeout.as_secs_f64()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Spawns `command`, waits until `probe` succeeds and returns the time from spawn to the first
/// answered request, with the still-running child (the caller stops it).
pub async fn cold_start(
    command: &[String],
    probe: &Probe,
    timeout: Duration,
) -> Result<(Duration, Child)> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Config("coldstart needs a command after `--`".into()))?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .spawn()?;
    match probe.wait(timeout).await {
        Ok(_) => Ok((start.elapsed(), child)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}
