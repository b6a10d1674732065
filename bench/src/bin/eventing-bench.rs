//! Eventing benchmarks, in one process on the embedded backends (SQLite
//! storage, SQLite topic log), with the counter example's entity and
//! publishing action:
//!
//! - `latency`: entity writes at a fixed rate (open loop, paced per entity)
//!   through the dispatcher; for each write, the time from sending the command
//!   to the subscribed action's handler being called with that change.
//! - `throughput`: a feed pre-filled with `--events` changes, then the time a
//!   fresh subscription takes to deliver all of them (each result published
//!   to the embedded topic log, or with `--topics discard`, to a backend that keeps
//!   nothing: the subscription alone).
//!
//! ```text
//! cargo run --release -p plinth-bench --bin eventing-bench -- latency --rate 1000 --seconds 10
//! cargo run --release -p plinth-bench --bin eventing-bench -- throughput --events 100000
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use counter::Counter;
use counter::counter::{
    ChangeValue, CounterChanged, CounterEntityComponent, CounterEventsAction,
    CounterEventsActionComponent, CounterState,
};
use hdrhistogram::Histogram;
use plinth::eventing::{SqliteTopics, Topics};
use plinth::storage::{EntityStore, SqliteOptions, SqliteStorage, StateWrite};
use plinth::{ActionContext, Config, Metadata, RunningService, Status};
use prost::Message;

#[derive(Debug, Parser)]
#[command(name = "eventing-bench", about = "Plinth eventing benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write → subscribed handler latency at a fixed write rate.
    Latency {
        /// Writes per second (all entities together).
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// How long to write.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// How many entities share the writes.
        #[arg(long, default_value_t = 50)]
        entities: u64,
        /// Where results are published.
        #[arg(long, value_enum, default_value_t = Log::Separate)]
        topics: Log,
    },
    /// Events per second one subscription delivers from a pre-filled feed.
    Throughput {
        /// Changes in the feed.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// How many entities the changes belong to.
        #[arg(long, default_value_t = 1000)]
        entities: u64,
        /// Where results are published.
        #[arg(long, value_enum, default_value_t = Log::Separate)]
        topics: Log,
    },
}

/// Where the action's results are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Log {
    /// The embedded log in a file of its own (the default of a service).
    Separate,
    /// The embedded log in the storage file itself.
    Storage,
    /// A backend that keeps nothing: the subscription alone.
    Discard,
}

impl Log {
    fn open(self, dir: &std::path::Path) -> Arc<dyn Topics> {
        match self {
            Log::Storage => Arc::new(SqliteTopics::open(dir.join("plinth.db")).unwrap()),
            Log::Separate => Arc::new(SqliteTopics::open(dir.join("topics.db")).unwrap()),
            Log::Discard => Arc::new(plinth_bench::discard::Discard::default()),
        }
    }
}

/// When the handler saw each `(counter, value)`.
type Stamps = Arc<Mutex<HashMap<(String, i64), Instant>>>;

/// The counter's action, noting when each change arrives.
struct Stamper {
    stamps: Stamps,
    seen: Arc<AtomicU64>,
}

impl CounterEventsAction for Stamper {
    async fn on_changed(
        &self,
        message: CounterState,
        ctx: ActionContext,
    ) -> Result<CounterChanged, Status> {
        let now = Instant::now();
        let counter_id = ctx.event_subject().unwrap_or_default().to_owned();
        self.stamps
            .lock()
            .unwrap()
            .entry((counter_id.clone(), message.value))
            .or_insert(now);
        self.seen.fetch_add(1, Ordering::Relaxed);
        Ok(CounterChanged {
            counter_id,
            value: message.value,
        })
    }
}

async fn start(dir: &std::path::Path, stamper: Stamper, topics: Arc<dyn Topics>) -> RunningService {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(stamper))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.join("plinth.db")),
        )
        .topics(topics)
        .start()
        .await
        .expect("the counter service starts")
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

async fn latency(rate: u64, seconds: u64, entities: u64, log: Log) {
    let dir = tempfile::tempdir().unwrap();
    let stamps: Stamps = Arc::default();
    let seen = Arc::new(AtomicU64::new(0));
    let topics = log.open(dir.path());
    let stamper = Stamper {
        stamps: stamps.clone(),
        seen: seen.clone(),
    };
    let service = start(dir.path(), stamper, topics.clone()).await;
    let dispatch = service.dispatch();
    let per_entity = Duration::from_secs_f64(entities as f64 / rate as f64);
    let writes_each = rate * seconds / entities;
    let sent: Stamps = Arc::default();
    let began = Instant::now();
    let writers: Vec<_> = (0..entities)
        .map(|e| {
            let dispatch = dispatch.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                let id = format!("e{e}");
                // Spread the entities' first writes over one interval.
                let offset = per_entity.mul_f64(e as f64 / entities as f64);
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, per_entity);
                for value in 1..=writes_each as i64 {
                    ticks.tick().await;
                    let command = ChangeValue {
                        counter_id: id.clone(),
                        amount: 1,
                    };
                    sent.lock()
                        .unwrap()
                        .insert((id.clone(), value), Instant::now());
                    dispatch
                        .dispatch(
                            "/counter.CounterService/Increase",
                            command.encode_to_vec().into(),
                            Metadata::new(),
                        )
                        .await
                        .expect("the write succeeds");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let wrote = Instant::now() - began;
    let total = writes_each * entities;
    while seen.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    {
        let stamps = stamps.lock().unwrap();
        for (key, at) in sent.lock().unwrap().iter() {
            let handled = stamps[key];
            let nanos = handled.saturating_duration_since(*at).as_nanos() as u64;
            histogram.record(nanos.max(1)).unwrap();
        }
    }
    println!(
        "latency write -> subscribed handler: {total} writes at {:.0}/s over {} entities: \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms \
         (results published to {})",
        total as f64 / wrote.as_secs_f64(),
        entities,
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.9)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.value_at_quantile(0.999)),
        ms(histogram.max()),
        topics.describe(),
    );
    service.shutdown().await;
}

async fn throughput(events: u64, entities: u64, log: Log) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.db");
    {
        let storage = Arc::new(SqliteStorage::open(&path, SqliteOptions::default()).unwrap());
        let per_entity = events / entities;
        let fill = Instant::now();
        let writers: Vec<_> = (0..entities)
            .map(|e| {
                let storage = storage.clone();
                tokio::spawn(async move {
                    for seq in 0..per_entity {
                        let state = CounterState {
                            value: seq as i64 + 1,
                        };
                        storage
                            .write_state(StateWrite {
                                meta: None,
                                type_id: "counters".into(),
                                entity_id: format!("e{e}"),
                                expected_seq: seq,
                                payload: Some(state.encode_to_vec().into()),
                                type_name: "counter.CounterState".into(),
                                schedule: Vec::new(),
                                trace: None,
                            })
                            .await
                            .expect("fill the feed");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        storage.close().await.unwrap();
        eprintln!(
            "filled the feed with {} changes in {:.1} s",
            per_entity * entities,
            fill.elapsed().as_secs_f64()
        );
    }
    let total = (events / entities) * entities;
    let seen = Arc::new(AtomicU64::new(0));
    let stamper = Stamper {
        stamps: Arc::default(),
        seen: seen.clone(),
    };
    let topics = log.open(dir.path());
    let began = Instant::now();
    let service = start(dir.path(), stamper, topics.clone()).await;
    while seen.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = began.elapsed();
    println!(
        "throughput of one subscription: {total} events over {entities} entities in {:.2} s = \
         {:.0} events/s (results published to {})",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        topics.describe(),
    );
    service.shutdown().await;
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        match cli.command {
            Command::Latency {
                rate,
                seconds,
                entities,
                topics,
            } => latency(rate, seconds.clamp(1, 120), entities.max(1), topics).await,
            Command::Throughput {
                events,
                entities,
                topics,
            } => throughput(events.min(10_000_000), entities.max(1), topics).await,
        }
    });
}
