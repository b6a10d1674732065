//! Scheduled calls, with the counter example's service (its calls go to its
//! `CounterEvents/OnChanged` action, which notes when each arrives):
//!
//! - `timers`: `--timers` timers stored with due times spread evenly over
//!   `--spread-ms`, starting `--lead-ms` from now; then the service starts on
//!   that storage. A timer's delay is its arrival minus its due time.
//! - `side-effects`: `Increase` commands whose effect carries a side effect
//!   (stored in the outbox with the write), at a fixed rate (open loop): the
//!   time from sending a command to its side effect's arrival, and from its
//!   reply to that arrival; then writes per second at 64 in flight with and
//!   without the side effect, in one run.
//!
//! ```text
//! cargo run --release -p plinth-bench --bin timer-bench -- timers --timers 10000
//! cargo run --release -p plinth-bench --bin timer-bench -- timers --storage postgres://...
//! cargo run --release -p plinth-bench --bin timer-bench -- side-effects --rate 1000 --seconds 10
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
#[command(name = "timer-bench", about = "Plinth timers and side effects")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Timer firing delay.
    Timers(TimerArgs),
    /// Commit → side-effect latency, and the outbox's cost on writes.
    SideEffects(side_effects::Args),
}

#[derive(Debug, clap::Args)]
struct TimerArgs {
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
    runtime.block_on(async {
        match cli.command {
            Command::Timers(args) => timers(args).await,
            Command::SideEffects(args) => side_effects::run(args).await,
        }
    });
}

async fn timers(cli: TimerArgs) {
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
            trace: None,
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

/// Side effects: commit → delivery latency, and the outbox's cost on writes.
mod side_effects {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use counter::Counter;
    use counter::counter::{
        ChangeValue, CounterChanged, CounterEntity, CounterEntityComponent, CounterEventsAction,
        CounterEventsActionComponent, CounterId, CounterState, CurrentValue,
    };
    use hdrhistogram::Histogram;
    use plinth::dispatch::SharedDispatch;
    use plinth::{ActionContext, CommandContext, Config, DeferredCall, Effect, Metadata, Status};
    use plinth_bench::discard::Discard;
    use prost::Message;

    const INCREASE: &str = "/counter.CounterService/Increase";
    const ON_CHANGED: &str = "/counter.CounterEvents/OnChanged";

    #[derive(Debug, clap::Args)]
    pub(super) struct Args {
        /// Commands per second in the latency run.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// How long the latency run sends.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// How long each throughput run lasts.
        #[arg(long, default_value_t = 5)]
        throughput_seconds: u64,
    }

    /// The example's counter, whose `Increase` also has a side effect: a
    /// call of `OnChanged` carrying the command's amount (unique per command).
    struct Audited;

    impl CounterEntity for Audited {
        fn increase(
            &self,
            state: &CounterState,
            command: ChangeValue,
            ctx: &CommandContext,
        ) -> Effect<CounterState, CurrentValue> {
            let stamp = CounterState {
                value: command.amount,
            };
            Counter.increase(state, command, ctx).with_side_effect(
                DeferredCall::<CounterChanged>::new(ON_CHANGED, stamp.encode_to_vec().into()),
            )
        }

        fn decrease(
            &self,
            state: &CounterState,
            command: ChangeValue,
            ctx: &CommandContext,
        ) -> Effect<CounterState, CurrentValue> {
            Counter.decrease(state, command, ctx)
        }

        fn get(
            &self,
            state: &CounterState,
            command: CounterId,
            ctx: &CommandContext,
        ) -> Effect<CounterState, CurrentValue> {
            Counter.get(state, command, ctx)
        }

        fn reset(
            &self,
            state: &CounterState,
            command: CounterId,
            ctx: &CommandContext,
        ) -> Effect<CounterState, ()> {
            Counter.reset(state, command, ctx)
        }
    }

    /// When each side effect (by amount) arrived; subscription deliveries
    /// (they carry a subject) are not counted.
    type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

    struct Stamper(Arrivals);

    impl CounterEventsAction for Stamper {
        async fn on_changed(
            &self,
            message: CounterState,
            ctx: ActionContext,
        ) -> Result<CounterChanged, Status> {
            if ctx.event_subject().is_none() {
                self.0
                    .lock()
                    .unwrap()
                    .entry(message.value)
                    .or_insert_with(Instant::now);
            }
            Ok(CounterChanged {
                counter_id: String::new(),
                value: message.value,
            })
        }
    }

    async fn start(
        dir: &std::path::Path,
        audited: bool,
        arrivals: Arrivals,
    ) -> plinth::RunningService {
        let service = if audited {
            plinth::Service::new().with(CounterEntityComponent::new(Audited))
        } else {
            plinth::Service::new().with(CounterEntityComponent::new(Counter))
        };
        service
            .with(CounterEventsActionComponent::new(Stamper(arrivals)))
            .config(
                Config::default()
                    .with_addr("127.0.0.1:0".parse().unwrap())
                    .with_sqlite(dir.join("plinth.db")),
            )
            .topics(Arc::new(Discard::default()))
            .start()
            .await
            .expect("the service starts")
    }

    async fn increase(dispatch: &SharedDispatch, entity: u64, amount: i64) {
        let command = ChangeValue {
            counter_id: format!("e{entity}"),
            amount,
        };
        dispatch
            .dispatch(INCREASE, command.encode_to_vec().into(), Metadata::new())
            .await
            .expect("the write succeeds");
    }

    fn ms(nanos: u64) -> f64 {
        nanos as f64 / 1e6
    }

    /// Open loop: `rate` commands per second over 50 entities.
    async fn latency(args: &Args) {
        let dir = tempfile::tempdir().unwrap();
        let arrivals: Arrivals = Arc::default();
        let service = start(dir.path(), true, arrivals.clone()).await;
        let dispatch = service.dispatch();
        let total = args.rate * args.seconds;
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        let sent = Arc::new(Mutex::new(HashMap::new()));
        let mut ticks = tokio::time::interval(interval);
        let mut calls = Vec::with_capacity(total as usize);
        for n in 1..=total {
            ticks.tick().await;
            let (dispatch, sent) = (dispatch.clone(), sent.clone());
            calls.push(tokio::spawn(async move {
                let amount = n as i64;
                let at = Instant::now();
                increase(&dispatch, n % 50, amount).await;
                sent.lock().unwrap().insert(amount, (at, Instant::now()));
            }));
        }
        for call in calls {
            call.await.unwrap();
        }
        while arrivals.lock().unwrap().len() < total as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut from_send = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut from_reply = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let arrivals = arrivals.lock().unwrap().clone();
        for (amount, (at, replied)) in sent.lock().unwrap().iter() {
            let arrived = arrivals[amount];
            let nanos = |since: Instant| arrived.saturating_duration_since(since).as_nanos() as u64;
            from_send.record(nanos(*at).max(1)).unwrap();
            from_reply.record(nanos(*replied).max(1)).unwrap();
        }
        let q = |h: &Histogram<u64>| {
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.99)),
                ms(h.value_at_quantile(0.999))
            )
        };
        println!(
            "{total} commands at {}/s: send -> side effect {}; reply -> side effect {}",
            args.rate,
            q(&from_send),
            q(&from_reply)
        );
        service.shutdown().await;
    }

    /// Closed loop: 64 in flight over 1,000 entities for `seconds`.
    async fn throughput(audited: bool, seconds: u64) -> f64 {
        let dir = tempfile::tempdir().unwrap();
        let service = start(dir.path(), audited, Arc::default()).await;
        let dispatch = service.dispatch();
        let until = Instant::now() + Duration::from_secs(seconds);
        let workers: Vec<_> = (0..64u64)
            .map(|worker| {
                let dispatch = dispatch.clone();
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while Instant::now() < until {
                        let entity = (worker * 7919 + done) % 1000;
                        increase(&dispatch, entity, 1).await;
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let mut total = 0;
        for worker in workers {
            total += worker.await.unwrap();
        }
        service.shutdown().await;
        total as f64 / seconds as f64
    }

    pub(super) async fn run(args: Args) {
        latency(&args).await;
        let plain = throughput(false, args.throughput_seconds).await;
        let audited = throughput(true, args.throughput_seconds).await;
        println!(
            "writes/s at 64 in flight: without side effects {plain:.0}, each with one side effect \
             {audited:.0} ({:.2}x)",
            audited / plain
        );
    }
}
