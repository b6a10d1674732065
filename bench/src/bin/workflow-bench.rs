//! Workflows, with the transfer example (wallets and the transfer workflow):
//! a transfer is a start and two steps (`withdraw`, `deposit`), each step
//! a durable wallet write and a durable move of the workflow — three
//! durable workflow writes and two entity writes per transfer.
//!
//! - Latency: transfers started over gRPC at a fixed light rate (open loop);
//!   a transfer's latency runs from sending its start to its `COMPLETED`
//!   state on the change feed (read through the storage the service
//!   writes, woken by its commit notifications).
//! - Saturation: `--in-flight` transfers at a time for `--seconds`:
//!   transfers and steps per second.
//!
//! ```text
//! cargo run --release -p plinth-bench --bin workflow-bench -- --rate 20 --seconds 10
//! cargo run --release -p plinth-bench --bin workflow-bench -- --storage postgres://...
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use http::uri::PathAndQuery;
use plinth::Config;
use plinth::storage::{Storage, StorageTarget};
use plinth_bench::discard::Discard;
use prost::Message;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;
use transfer::com::example::transfer::api::{Transfer, TransferWorkflowComponent};
use transfer::com::example::transfer::domain::{TransferState, TransferStatus};
use transfer::com::example::wallet::api::{InitialBalance, WalletEntityComponent};
use transfer::{Transfers, Wallets};

#[derive(Debug, Parser)]
#[command(
    name = "workflow-bench",
    about = "Plinth workflows: latency and throughput"
)]
struct Cli {
    /// Transfers started per second for the latency run.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Length of each run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Transfers in flight in the saturation run.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// Wallets the transfers pick from.
    #[arg(long, default_value_t = 2_000)]
    wallets: u32,
    /// A `postgres://` URL (an empty database); SQLite in a temporary
    /// directory when not given.
    #[arg(long)]
    storage: Option<String>,
}

/// When each transfer started and completed.
#[derive(Default)]
struct Clock {
    started: HashMap<String, Instant>,
    completed: HashMap<String, Instant>,
    /// Who waits for a transfer to complete.
    waiters: HashMap<String, tokio::sync::oneshot::Sender<()>>,
}

type Shared = Arc<Mutex<Clock>>;

async fn call<Req: Message + 'static, Rep: Message + Default + 'static>(
    channel: &Channel,
    path: &'static str,
    request: Req,
) -> Result<Rep, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let reply = client
        .unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            ProstCodec::<Req, Rep>::default(),
        )
        .await?;
    Ok(reply.into_inner())
}

const CREATE: &str = "/com.example.wallet.api.WalletService/Create";
const START: &str = "/com.example.transfer.api.TransferWorkflowService/Start";

/// Follow the change feed and note when each transfer completed.
fn follow(storage: Arc<dyn Storage>, clock: Shared) {
    tokio::spawn(async move {
        let mut watch = storage.feed_watch();
        let types = ["transfer".to_owned()];
        let mut after = 0;
        loop {
            let records = storage.read_feed(after, &types, 1024).await.expect("feed");
            let now = Instant::now();
            for record in &records {
                after = record.offset;
                let Ok(state) = TransferState::decode(record.payload.clone()) else {
                    continue;
                };
                if state.status == TransferStatus::Completed as i32 {
                    let mut clock = clock.lock().unwrap();
                    clock
                        .completed
                        .entry(record.entity_id.clone())
                        .or_insert(now);
                    if let Some(waiter) = clock.waiters.remove(&record.entity_id) {
                        let _ = waiter.send(());
                    }
                }
            }
            if records.is_empty() {
                match watch.as_mut() {
                    Some(watch) => {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(50), watch.changed()).await;
                    }
                    None => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
        }
    });
}

fn transfer(id: String, wallets: u32) -> Transfer {
    let from = fastrand::u32(..wallets);
    let to = (from + 1 + fastrand::u32(..wallets - 1)) % wallets;
    Transfer {
        transfer_id: id,
        from: format!("w{from}"),
        to: format!("w{to}"),
        amount: 1,
    }
}

/// Start a transfer (noted as started when this is called).
async fn start(channel: &Channel, clock: &Shared, request: Transfer) {
    let id = request.transfer_id.clone();
    clock.lock().unwrap().started.insert(id, Instant::now());
    let _: () = call(channel, START, request)
        .await
        .expect("a transfer starts");
}

/// Start a transfer and wait until it completed.
async fn start_and_wait(channel: &Channel, clock: &Shared, request: Transfer) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    clock
        .lock()
        .unwrap()
        .waiters
        .insert(request.transfer_id.clone(), tx);
    start(channel, clock, request).await;
    let _ = rx.await;
}

/// Wait until `count` transfers completed (or 60 s passed).
async fn settle(clock: &Shared, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if clock.lock().unwrap().completed.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("transfers did not complete within 60 s");
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(cli));
}

async fn run(cli: Cli) {
    let dir = tempfile::tempdir().unwrap();
    let target = match &cli.storage {
        Some(url) => StorageTarget::parse(url).expect("a storage URL"),
        None => StorageTarget::Sqlite(dir.path().join("plinth.db")),
    };
    let storage = plinth::storage::open(&target)
        .await
        .expect("the storage opens");
    let service = plinth::Service::new()
        .with(WalletEntityComponent::new(Wallets))
        .with(TransferWorkflowComponent::new(Transfers::default()))
        .config(Config::default().with_addr("127.0.0.1:0".parse().unwrap()))
        .storage(storage.clone())
        .topics(Arc::new(Discard::default()))
        .start()
        .await
        .expect("the service starts");
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
            .unwrap()
            .connect()
            .await
            .expect("connects");
    for w in 0..cli.wallets {
        let wallet = InitialBalance {
            wallet_id: format!("w{w}"),
            balance: 1_000_000,
        };
        let _: () = call(&channel, CREATE, wallet).await.expect("a wallet");
    }

    // Latency at a light load.
    let clock: Shared = Arc::default();
    follow(storage.clone(), clock.clone());
    let interval = Duration::from_secs_f64(1.0 / f64::from(cli.rate.max(1)));
    let total = u64::from(cli.rate) * cli.seconds;
    let began = Instant::now();
    for i in 0..total {
        let at = began + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        let (channel, clock) = (channel.clone(), clock.clone());
        let request = transfer(format!("light-{i}"), cli.wallets);
        tokio::spawn(async move { start(&channel, &clock, request).await });
        tokio::task::yield_now().await;
    }
    settle(&clock, total as usize).await;
    let mut latency = Histogram::<u64>::new(3).unwrap();
    {
        let clock = clock.lock().unwrap();
        for (id, started) in &clock.started {
            let done = clock.completed[id];
            latency
                .record(done.duration_since(*started).as_micros() as u64)
                .unwrap();
        }
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;

    // Saturation.
    let busy: Shared = Arc::default();
    follow(storage.clone(), busy.clone());
    let deadline = Instant::now() + Duration::from_secs(cli.seconds);
    let began = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..cli.in_flight {
        let (channel, busy) = (channel.clone(), busy.clone());
        let wallets = cli.wallets;
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                // Closed loop: the next one starts when this one completed.
                let id = format!("busy-{worker}-{n}");
                start_and_wait(&channel, &busy, transfer(id, wallets)).await;
                n += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = began.elapsed().as_secs_f64();
    let done = busy.lock().unwrap().completed.len() as f64;
    println!(
        "storage={} light: {} transfers at {}/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         saturation ({} in flight): {:.0} transfers/s, {:.0} steps/s",
        storage.describe(),
        latency.len(),
        cli.rate,
        ms(&latency, 0.5),
        ms(&latency, 0.99),
        latency.max() as f64 / 1000.0,
        cli.in_flight,
        done / elapsed,
        2.0 * done / elapsed,
    );
    service.shutdown().await;
}
