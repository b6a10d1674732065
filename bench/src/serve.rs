//! Serving helpers shared by the reference and echo servers: loopback-only listeners, a tokio
//! runtime of a chosen size, and HTTP (axum) plus gRPC (tonic) until SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::{Error, Result};

/// Binds `addr` (e.g. `127.0.0.1:0`), refusing anything but a loopback address.
pub async fn bind(addr: &str) -> Result<TcpListener> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| Error::Config(format!("`{addr}` is not an IP:PORT address: {e}")))?;
    if !parsed.ip().is_loopback() {
        return Err(Error::NotLoopback(addr.to_string()));
    }
    Ok(TcpListener::bind(parsed).await?)
}

/// A multi-threaded tokio runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    if workers == 0 || workers > 64 {
        return Err(Error::Config(format!(
            "--workers {workers} must be in 1..=64"
        )));
    }
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?)
}

/// Prints `listening <name>=<addr>` on stdout (scripts and tests read the ephemeral ports there).
pub fn announce(name: &str, listener: &TcpListener) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {name}={}", listener.local_addr()?)?;
    out.flush()?;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Serves `http` and `grpc` (either may be absent) until SIGINT or SIGTERM.
pub async fn serve(
    http: Option<(TcpListener, axum::Router)>,
    grpc: Option<(TcpListener, tonic::service::Routes)>,
) -> Result<()> {
    if http.is_none() && grpc.is_none() {
        return Err(Error::Config("give --http ADDR and/or --grpc ADDR".into()));
    }
    let http = async move {
        match http {
            Some((listener, router)) => {
                // Without TCP_NODELAY small keep-alive responses wait on Nagle's algorithm.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, router).await.map_err(Error::Io)
            }
            None => std::future::pending().await,
        }
    };
    let grpc = async move {
        match grpc {
            Some((listener, routes)) => {
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                tonic::transport::Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming(incoming)
                    .await
                    .map_err(|e| Error::Config(format!("gRPC server: {e}")))
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = http => r,
        r = grpc => r,
        () = shutdown_signal() => Ok(()),
    }
}
