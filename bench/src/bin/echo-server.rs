//! `echo-server`: the customer API and a bare echo with no storage, over axum and tonic — the
//! RPC ceiling. See `bench/README.md`.

use std::process::ExitCode;

use clap::Parser;
use plinth_bench::echo::{self, EchoService};
use plinth_bench::serve;

/// Flags of `echo-server`.
#[derive(Debug, Parser)]
#[command(
    name = "echo-server",
    about = "Storage-free customer API and echo: the RPC ceiling"
)]
struct Args {
    /// HTTP/JSON listen address (loopback); port 0 picks a free one.
    #[arg(long)]
    http: Option<String>,
    /// gRPC listen address (loopback).
    #[arg(long)]
    grpc: Option<String>,
    /// Payload size of read responses.
    #[arg(long, default_value_t = 550)]
    payload_size: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> plinth_bench::Result<()> {
    let service = EchoService::new(args.payload_size);
    serve::runtime(args.workers)?.block_on(async move {
        let http = match &args.http {
            Some(addr) => {
                let listener = serve::bind(addr).await?;
                serve::announce("http", &listener)?;
                Some((listener, echo::router(service.clone())))
            }
            None => None,
        };
        let grpc = match &args.grpc {
            Some(addr) => {
                let listener = serve::bind(addr).await?;
                serve::announce("grpc", &listener)?;
                Some((listener, echo::routes(service)))
            }
            None => None,
        };
        serve::serve(http, grpc).await
    })
}
