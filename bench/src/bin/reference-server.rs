//! `reference-server`: the hand-written axum + tonic customer service over SQLite (rusqlite) or
//! PostgreSQL (tokio-postgres). See `bench/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use plinth_bench::reference::{self, Backend, PgOptions, PgStore, Store, StoreOptions};
use plinth_bench::{Error, serve};

/// Flags of `reference-server`.
#[derive(Debug, Parser)]
#[command(
    name = "reference-server",
    about = "Hand-written customer service (axum + tonic + rusqlite or tokio-postgres)"
)]
struct Args {
    /// HTTP/JSON listen address (loopback), e.g. 127.0.0.1:8080; port 0 picks a free one.
    #[arg(long)]
    http: Option<String>,
    /// gRPC listen address (loopback).
    #[arg(long)]
    grpc: Option<String>,
    /// SQLite database file (created if missing).
    #[arg(long, conflicts_with = "pg", required_unless_present = "pg")]
    db: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: `postgres://user:pass@host:port/db` (tables created if
    /// missing).
    #[arg(long)]
    pg: Option<String>,
    /// Group commit: a writer commits every queued write in one transaction.
    #[arg(long)]
    batching: bool,
    /// Most writes per group commit (default 256 on SQLite, 512 on PostgreSQL).
    #[arg(long)]
    max_batch: Option<usize>,
    /// SQLite read connections.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// PostgreSQL pooled connections.
    #[arg(long, default_value_t = 10)]
    pool: usize,
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
    let runtime = serve::runtime(args.workers)?;
    let store: Backend = match (&args.db, &args.pg) {
        (Some(db), None) => {
            let defaults = StoreOptions::default();
            let options = StoreOptions {
                batching: args.batching,
                readers: args.readers,
                max_batch: args.max_batch.unwrap_or(defaults.max_batch),
            };
            Store::open(db, options)?.into()
        }
        (None, Some(url)) => {
            let defaults = PgOptions::default();
            let options = PgOptions {
                batching: args.batching,
                pool_size: args.pool,
                max_batch: args.max_batch.unwrap_or(defaults.max_batch),
            };
            runtime.block_on(PgStore::connect(url, options))?.into()
        }
        _ => return Err(Error::Config("give --db FILE or --pg URL".into())),
    };
    runtime.block_on(async move {
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
