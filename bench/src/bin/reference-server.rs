//! `reference-server`: the hand-written axum + tonic + rusqlite customer service. See
//! `bench/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use plinth_bench::reference::{self, Store, StoreOptions};
use plinth_bench::serve;

/// Flags of `reference-server`.
#[derive(Debug, Parser)]
#[command(
    name = "reference-server",
    about = "Hand-written customer service (axum + tonic + rusqlite)"
)]
struct Args {
    /// HTTP/JSON listen address (loopback), e.g. 127.0.0.1:8080; port 0 picks a free one.
    #[arg(long)]
    http: Option<String>,
    /// gRPC listen address (loopback).
    #[arg(long)]
    grpc: Option<String>,
    /// SQLite database file (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Group commit: a writer thread commits every queued write in one transaction.
    #[arg(long)]
    batching: bool,
    /// Most writes per group commit.
    #[arg(long, default_value_t = 256)]
    max_batch: usize,
    /// Read connections.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> plinth_bench::Result<()> {
    let options = StoreOptions {
        batching: args.batching,
        readers: args.readers,
        max_batch: args.max_batch,
    };
    let store = Store::open(&args.db, options)?;
    serve::runtime(args.workers)?.block_on(async move {
        let http = match &args.http {
            Some(addr) => {
                let listener = serve::bind(addr).await?;
                serve::announce("http", &listener)?;
                Some((listener, reference::http::router(store.clone())))
            }
            None => None,
        };
        let grpc = match &args.grpc {
            Some(addr) => {
                let listener = serve::bind(addr).await?;
                serve::announce("grpc", &listener)?;
                Some((listener, reference::grpc::routes(store.clone())))
            }
            None => None,
        };
        serve::serve(http, grpc).await
    })
}
