//! Timer firing delay: `--timers` timers stored with due times spread
//! evenly over `--spread-ms`, starting `--lead-ms` from now; then the
//! counter example's service starts on that storage, and every timer calls
//! the example's `CounterEvents/OnChanged` action with its number, which notes
//! when it arrives. The delay of a timer is its arrival minus its due time.
//!
//! ```text
//! cargo run --release -p plinth-bench --bin timer-bench -- --timers 10000
//! cargo run --release -p plinth-bench --bin timer-bench -- --timers 10000 --storage postgres://...
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use counter::Counter;
use counter::counter::{
    CounterChanged, CounterEntityComponent, CounterEventsAction, CounterEventsActionComponent,
    CounterState,
};
use hdrhistogram::Histogram;
use plinth::storage::{ScheduleOp, ScheduledCall, StorageTarget};
use plinth::{ActionContext, Config, Status};
use plinth_bench::discard::Discard;
use prost::Message;

#[derive(Debug, Parser)]
#[command(name = "timer-bench", about = "Plinth timer firing delay")]
struct Cli {
    /// How many timers.
    #[arg(long, default_value_t = 10_000)]
    timers: u32,
    /// The due times are spread over this long.
    #[arg(long, default_value_t = 1_000)]
    spread_ms: u64,
    /// The first timer is due this long after the timers are stored (the
    /// service starts meanwhile).
    #[arg(long, default_value_t = 3_000)]
    lead_ms: u64,
    /// A `postgres://` URL (an empty database); SQLite in a temporary
    /// directory when not given.
    #[arg(long)]
    storage: Option<String>,
}

/// Timers stored per write.
const CHUNK: usize = 100;

/// When each timer (by number) arrived.
type Arrivals = Arc<Mutex<Vec<Option<Instant>>>>;

struct Stamper(Arrivals);

impl CounterEventsAction for Stamper {
    async fn on_changed(
        &self,
        message: CounterState,
        _ctx: ActionContext,
    ) -> Result<CounterChanged, Status> {
        let now = Instant::now();
        let mut arrivals = self.0.lock().unwrap();
        if let Some(slot) = usize::try_from(message.value)
            .ok()
            .and_then(|at| arrivals.get_mut(at))
        {
            slot.get_or_insert(now);
        }
        Ok(CounterChanged {
            counter_id: String::new(),
            value: message.value,
        })
    }
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
    let count = cli.timers as usize;
    let step = Duration::from_micros(cli.spread_ms * 1000 / u64::from(cli.timers.max(1)));
    let lead = Duration::from_millis(cli.lead_ms);
    let stored_at = Instant::now();
    let mut delays_of = Vec::with_capacity(count);
    let mut ops = Vec::with_capacity(count);
    for i in 0..cli.timers {
        let delay = lead + step * i;
        delays_of.push(delay);
        let payload = CounterState {
            value: i64::from(i),
        };
        ops.push(ScheduleOp::Put(ScheduledCall {
            key: format!("bench-{i}"),
            name: Some(format!("bench-{i}")),
            lane: format!("timer:bench-{i}"),
            path: "/counter.CounterEvents/OnChanged".to_owned(),
            payload: payload.encode_to_vec().into(),
            delay,
            max_retries: Some(0),
        }));
    }
    // A backend counts a delay from when it stores the timer, some time
    // between the call and its return: the due time here is counted from
    // the call, so a delay is overstated by at most one store's latency.
    let mut due = Vec::with_capacity(count);
    for (chunk, delays) in ops.chunks(CHUNK).zip(delays_of.chunks(CHUNK)) {
        let sent = Instant::now();
        storage
            .schedule(chunk.to_vec())
            .await
            .expect("timers stored");
        due.extend(delays.iter().map(|delay| sent + *delay));
    }
    let stored_in = stored_at.elapsed();
    assert!(
        stored_in < lead,
        "storing took {stored_in:?}, past the first due time"
    );

    let arrivals: Arrivals = Arc::new(Mutex::new(vec![None; count]));
    let service = plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(Stamper(arrivals.clone())))
        .config(Config::default().with_addr("127.0.0.1:0".parse().unwrap()))
        .storage(storage.clone())
        .topics(Arc::new(Discard::default()))
        .start()
        .await
        .expect("the service starts");
    let deadline =
        stored_at + lead + Duration::from_millis(cli.spread_ms) + Duration::from_secs(60);
    loop {
        let fired = arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.is_some())
            .count();
        if fired == count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {fired} of {count} timers fired"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let last = arrivals.iter().flatten().max().copied().unwrap();
    let mut delays = Histogram::<u64>::new(3).unwrap();
    let mut early = 0;
    for (arrived, due) in arrivals.iter().zip(&due) {
        let arrived = arrived.unwrap();
        match arrived.checked_duration_since(*due) {
            Some(delay) => delays.record(delay.as_micros() as u64).unwrap(),
            None => early += 1,
        }
    }
    let ms = |q: f64| delays.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{count} timers due over {} ms on {}: delay p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms; \
         {early} early; the last fired {:.0} ms after the last was due",
        cli.spread_ms,
        storage.describe(),
        ms(0.5),
        ms(0.99),
        ms(0.999),
        delays.max() as f64 / 1000.0,
        last.saturating_duration_since(*due.last().unwrap())
            .as_secs_f64()
            * 1000.0,
    );
    service.shutdown().await;
}
