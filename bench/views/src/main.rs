//! `view-bench`: the view benchmarks (targets in BENCHMARKS.md, "Views"), against the
//! customer-registry example served on loopback with SQLite in a temporary
//! directory, the load generated in the same process over real sockets
//! (gRPC with tonic).
//!
//! 1. **Catch-up**: `ROWS` customers are written with no view registered;
//!    the service restarts with one view, which builds itself from the start
//!    of the feed; the time from the restart until it reports no lag gives
//!    events/s. Later the second view is added the same way.
//! 2. **Indexed equality query**: `QUERIES` unary `GetCustomerByEmail` calls
//!    (an indexed `email = :email` over `ROWS` rows), 4 clients in a closed loop.
//! 3. **View lag**: `LAG_WRITES` new customers at 1,000 writes/s (open loop)
//!    into a city watched by a `stream_updates` query; lag is the time from
//!    sending the write to receiving its row on the live stream (an upper
//!    bound of projection lag: it includes the write and the delivery).
//!
//! Usage: `view-bench [ROWS [QUERIES [LAG_WRITES]]]` (defaults 100000 20000 10000).
//! Every phase is bounded in count and time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use customer_registry::CustomerRegistry;
use customer_registry::customer::api::{Address, Customer, CustomerEntityComponent};
use customer_registry::customer::domain::CustomerState;
use customer_registry::customer::view::{
    ByCityRequest, ByEmailRequest, CustomerByNameView, CustomersByCityView,
};
use hdrhistogram::Histogram;
use http::uri::PathAndQuery;
use plinth::{Config, RunningService};
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const CREATE: &str = "/customer.api.CustomerService/Create";
const BY_EMAIL: &str = "/customer.view.CustomerByName/GetCustomerByEmail";
const WATCH: &str = "/customer.view.CustomersByCity/WatchCustomers";

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

async fn start(db: &Path, by_name: bool, by_city: bool) -> RunningService {
    let mut service = plinth::Service::new().with(CustomerEntityComponent::new(CustomerRegistry));
    if by_name {
        service = service.with(CustomerByNameView);
    }
    if by_city {
        service = service.with(CustomersByCityView);
    }
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("a loopback address"))
        .with_sqlite(db);
    service
        .config(config)
        .start()
        .await
        .expect("the customer registry starts")
}

async fn channel(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a URL")
        .connect()
        .await
        .expect("a connection")
}

fn customer(id: &str, name: String, city: String) -> Customer {
    Customer {
        customer_id: id.to_string(),
        email: format!("{id}@example.com"),
        name,
        address: Some(Address {
            street: "Main 1".into(),
            city,
        }),
    }
}

async fn create(channel: &Channel, customer: Customer) -> Result<(), tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    client
        .unary(
            tonic::Request::new(customer),
            PathAndQuery::from_static(CREATE),
            ProstCodec::<Customer, ()>::default(),
        )
        .await
        .map(drop)
}

/// Write `rows` customers from 64 concurrent clients.
async fn write_rows(addr: SocketAddr, rows: u64) {
    let channel = channel(addr).await;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (channel, next) = (channel.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= rows {
                    break;
                }
                let id = format!("c{i:06}");
                let c = customer(
                    &id,
                    format!("Name {}", i % 1000),
                    format!("City {}", i % 100),
                );
                create(&channel, c).await.expect("a write succeeds");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer finishes");
    }
}

/// Wait (at most 10 minutes) until every projection has no lag; returns
/// the number of projections.
async fn caught_up(addr: SocketAddr) -> usize {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        let status: serde_json::Value = http
            .get(format!("http://{addr}/_plinth/views"))
            .send()
            .await
            .expect("the status endpoint answers")
            .json()
            .await
            .expect("JSON");
        let projections = status["projections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let done = !projections.is_empty()
            && projections.iter().all(|p| {
                p["lag_records"] == 0
                    && p["head_offset"].as_u64() > Some(0)
                    && p["delivered_offset"] == p["head_offset"]
            });
        if done {
            return projections.len();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the views did not catch up within 10 minutes");
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn report(name: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{name}: n={} p50={:.3}ms p90={:.3}ms p99={:.3}ms max={:.3}ms",
        h.len(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

/// `queries` indexed equality queries from 4 clients.
async fn query_latency(addr: SocketAddr, rows: u64, queries: u64) -> (Histogram<u64>, Duration) {
    let channel = channel(addr).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4u64 {
        let channel = channel.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let mut client = tonic::client::Grpc::new(channel);
            for n in 0..queries / 4 {
                let i = (n * 7919 + worker * 104_729) % rows;
                let request = ByEmailRequest {
                    email: format!("c{i:06}@example.com"),
                };
                let t = Instant::now();
                client.ready().await.expect("ready");
                let reply = client
                    .unary(
                        tonic::Request::new(request),
                        PathAndQuery::from_static(BY_EMAIL),
                        ProstCodec::<ByEmailRequest, CustomerState>::default(),
                    )
                    .await
                    .expect("the query answers")
                    .into_inner();
                let _ = h.record(micros(t.elapsed()));
                assert_eq!(reply.customer_id, format!("c{i:06}"));
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for task in tasks {
        all.add(task.await.expect("a client finishes"))
            .expect("same bounds");
    }
    (all, started.elapsed())
}

/// `writes` new customers at 1,000/s into a watched city; the lag of each.
async fn view_lag(addr: SocketAddr, writes: u64) -> Histogram<u64> {
    let channel = channel(addr).await;
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.expect("ready");
    let mut stream = client
        .server_streaming(
            tonic::Request::new(ByCityRequest {
                city: "Lag City".into(),
            }),
            PathAndQuery::from_static(WATCH),
            ProstCodec::<ByCityRequest, CustomerState>::default(),
        )
        .await
        .expect("the live query starts")
        .into_inner();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..writes {
                tick.tick().await;
                let id = format!("lag{i:06}");
                sent.lock()
                    .expect("not poisoned")
                    .insert(id.clone(), Instant::now());
                let channel = channel.clone();
                tokio::spawn(async move {
                    let c = customer(&id, "Lag".into(), "Lag City".into());
                    create(&channel, c).await.expect("a write succeeds");
                });
            }
        })
    };
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let deadline = Instant::now() + Duration::from_secs(writes / 1000 + 60);
    while h.len() < writes && Instant::now() < deadline {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
        let Ok(Ok(Some(row))) = next else { break };
        let at = sent.lock().expect("not poisoned").remove(&row.customer_id);
        if let Some(at) = at {
            let _ = h.record(micros(at.elapsed()));
        }
    }
    writer.await.expect("the writer finishes");
    assert_eq!(h.len(), writes, "every write reached the live query");
    h
}

#[tokio::main]
async fn main() {
    let rows = arg(1, 100_000);
    let queries = arg(2, 20_000);
    let lag_writes = arg(3, 10_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("plinth.db");

    let service = start(&db, false, false).await;
    let t = Instant::now();
    write_rows(service.local_addr(), rows).await;
    let took = t.elapsed().as_secs_f64();
    println!(
        "setup: {rows} customers written in {took:.2}s ({:.0} writes/s, no views)",
        rows as f64 / took
    );
    service.shutdown().await;

    // One new view, then the second added later next to it.
    let t = Instant::now();
    let service = start(&db, true, false).await;
    caught_up(service.local_addr()).await;
    let took = t.elapsed().as_secs_f64();
    println!(
        "catch-up: a new view built from {rows} events in {took:.2}s (startup included): {:.0} events/s",
        rows as f64 / took
    );

    let (h, took) = query_latency(service.local_addr(), rows, queries).await;
    report(&format!("indexed equality query over {rows} rows"), &h);
    println!(
        "  throughput: {:.0} queries/s (4 clients)",
        h.len() as f64 / took.as_secs_f64()
    );
    service.shutdown().await;

    let t = Instant::now();
    let service = start(&db, true, true).await;
    caught_up(service.local_addr()).await;
    let took = t.elapsed().as_secs_f64();
    println!(
        "catch-up: a view added later built from {rows} events in {took:.2}s (startup included): {:.0} events/s",
        rows as f64 / took
    );

    let h = view_lag(service.local_addr(), lag_writes).await;
    report(
        "view lag at 1000 writes/s (write sent to row on a live query)",
        &h,
    );
    service.shutdown().await;
}
