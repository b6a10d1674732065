//! Runs a configured load: prefill, warm-up, measurement, in closed or open loop.
//!
//! Closed loop: `concurrency` workers, each sending its next request when the previous one
//! answered. Open loop: request `i` is due at `start + i / rate`; a free worker takes the next
//! due request, waits for its time and sends it. When the worker was already late (every worker
//! busy: the target is slow), latency counts from the intended time, so a stall is charged to
//! every request it delayed (no coordinated omission). When the worker was idle and waited, the
//! clock starts when its timer fired: the timer's own lateness (tokio timers have 1 ms
//! granularity) belongs to the generator, and is reported separately as the send lag.
//!
//! With several targets every worker holds one connection (slot) per target and sends its
//! requests to them in turn, starting at its own index, so the load is spread round-robin over
//! the targets request by request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::client::{self, Conn};
use super::config::{LoadConfig, Mode, Transport};
use super::report::{LatencySummary, OpenLoopReport, Recorder, Report, TargetReport};
use super::scenario::{Op, Picker};
use super::template::{IdFormat, Templates, descriptor_pool, payload};
use crate::target::Target;
use crate::{Error, Result};

/// The longest a prefill may take before the run is abandoned.
const PREFILL_LIMIT: Duration = Duration::from_secs(600);

struct Shared {
    targets: Vec<Target>,
    templates: Templates,
    timeout: Duration,
    origin: Instant,
    measure_start: Instant,
    measure_end: Instant,
    count: Option<u64>,
    tickets: AtomicU64,
    next: AtomicU64,
    rate: Option<f64>,
    stop: AtomicBool,
    completed: AtomicU64,
    failed: AtomicU64,
}

struct WorkerResult {
    recorder: Recorder,
    last_end: Option<Instant>,
    /// Measured (ok, failed) requests per target.
    per_target: Vec<(u64, u64)>,
}

/// One worker's connections: one per target, used in turn.
struct Slots {
    conns: Vec<Conn>,
    next: usize,
}

impl Slots {
    /// The target index and connection of the next request.
    fn next(&mut self) -> (usize, &mut Conn) {
        let i = self.next;
        self.next = (i + 1) % self.conns.len();
        (i, &mut self.conns[i])
    }
}

/// Connects every worker to every target; worker `i` starts its rotation at target `i % n`.
async fn connect_all(cfg: &LoadConfig) -> Result<Vec<Slots>> {
    let mut per_target = Vec::with_capacity(cfg.targets.len());
    for target in &cfg.targets {
        let conns =
            client::connect(target, cfg.transport, cfg.connections, cfg.concurrency).await?;
        per_target.push(conns.into_iter());
    }
    let n = per_target.len();
    Ok((0..cfg.concurrency)
        .map(|i| Slots {
            conns: per_target
                .iter_mut()
                .map(|conns| conns.next().expect("one connection per worker and target"))
                .collect(),
            next: i % n,
        })
        .collect())
}

/// Runs the load described by `cfg` and returns its report.
pub async fn run(cfg: &LoadConfig) -> Result<Report> {
    let pool = match cfg.transport {
        Transport::Grpc => Some(descriptor_pool(&cfg.protos, &cfg.includes)?),
        _ => None,
    };
    let origin = (cfg.transport == Transport::H2c).then_some(cfg.targets[0].base.as_str());
    let templates = Templates::build(
        IdFormat::new(&cfg.id_prefix, cfg.ids)?,
        &cfg.templates,
        &payload(cfg.payload_size),
        origin,
        pool.as_ref(),
    )?;
    let mut conns = connect_all(cfg).await?;

    let prefill_s = if cfg.prefill {
        let started = Instant::now();
        conns = prefill(cfg, &templates, conns).await?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };

    let origin = Instant::now();
    let measure_start = origin + cfg.warmup;
    let shared = Arc::new(Shared {
        targets: cfg.targets.clone(),
        templates,
        timeout: cfg.timeout,
        origin,
        measure_start,
        measure_end: measure_start + cfg.duration,
        count: cfg.count,
        tickets: AtomicU64::new(0),
        next: AtomicU64::new(0),
        rate: match cfg.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed => None,
        },
        stop: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let started_unix_s = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
        + cfg.warmup.as_secs_f64();

    let progress = cfg.progress.then(|| tokio::spawn(progress(shared.clone())));
    let workers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let picker = Picker::new(
                cfg.scenario,
                cfg.ids,
                cfg.read_ratio,
                cfg.seed.wrapping_mul(1_000_003) + i as u64,
            );
            tokio::spawn(worker(shared.clone(), conn, picker))
        })
        .collect();
    let mut recorder = Recorder::default();
    let mut last_end = None;
    let mut per_target = vec![(0, 0); cfg.targets.len()];
    for w in workers {
        let result = w
            .await
            .map_err(|e| Error::Config(format!("worker failed: {e}")))?;
        recorder.merge(&result.recorder);
        last_end = last_end.max(result.last_end);
        for (sum, (ok, failed)) in per_target.iter_mut().zip(result.per_target) {
            sum.0 += ok;
            sum.1 += failed;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        p.abort();
    }

    let all = recorder.all();
    let ok = all.len();
    let errors = recorder.error_count();
    let elapsed_s = last_end
        .map(|t| t.duration_since(measure_start).as_secs_f64())
        .unwrap_or_default();
    let per_s = |n: u64| {
        if elapsed_s > 0.0 {
            n as f64 / elapsed_s
        } else {
            0.0
        }
    };
    let open_loop = shared.rate.map(|rate| OpenLoopReport {
        target_rate: rate,
        achieved_rate: per_s(ok + errors),
        behind: recorder.behind,
        send_lag: LatencySummary::of(&recorder.send_lag),
    });
    let mut error_kinds = recorder.errors.clone();
    let incomplete = cfg.count.is_some_and(|count| ok + errors < count);
    if let Some(count) = cfg.count.filter(|_| incomplete) {
        // The duration bound ended a smoke run early: that is a failure of the run.
        error_kinds.insert(
            format!(
                "incomplete: {} of {count} requests within the duration bound",
                ok + errors
            ),
            1,
        );
    }
    Ok(Report {
        tool: "plinth-load".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        label: cfg.label.clone(),
        target: cfg
            .targets
            .iter()
            .map(|t| t.base.as_str())
            .collect::<Vec<_>>()
            .join(","),
        targets: cfg
            .targets
            .iter()
            .zip(per_target)
            .map(|(t, (ok, errors))| TargetReport {
                target: t.base.clone(),
                ok,
                errors,
            })
            .collect(),
        transport: enum_name(&cfg.transport),
        scenario: enum_name(&cfg.scenario),
        mode: if shared.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        rate: shared.rate,
        concurrency: cfg.concurrency,
        connections: cfg.connections,
        ids: cfg.ids,
        payload_size: cfg.payload_size,
        read_ratio: (cfg.scenario.ops().len() > 1).then_some(cfg.read_ratio),
        warmup_s: cfg.warmup.as_secs_f64(),
        duration_s: cfg.duration.as_secs_f64(),
        count: cfg.count,
        prefill_s,
        started_unix_s,
        elapsed_s,
        requests: ok + errors,
        ok,
        errors: errors + u64::from(incomplete),
        error_kinds,
        throughput_rps: per_s(ok),
        latency: LatencySummary::of(&all),
        ops: recorder.ops(),
        open_loop,
    })
}

fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Writes every id once (not measured) so that reads find them.
async fn prefill(cfg: &LoadConfig, templates: &Templates, conns: Vec<Slots>) -> Result<Vec<Slots>> {
    let next = Arc::new(AtomicU64::new(0));
    let templates = Arc::new(templates.clone());
    let deadline = Instant::now() + PREFILL_LIMIT;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (next, templates, targets, ids, timeout) = (
                next.clone(),
                templates.clone(),
                cfg.targets.clone(),
                cfg.ids,
                cfg.timeout,
            );
            tokio::spawn(async move {
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    if id >= ids {
                        return (conn, Ok(()));
                    }
                    if Instant::now() > deadline {
                        return (
                            conn,
                            Err(format!("not done within {}s", PREFILL_LIMIT.as_secs())),
                        );
                    }
                    let (t, slot) = conn.next();
                    if let Err(e) = slot
                        .execute(&targets[t], templates.render(Op::Write, id), timeout)
                        .await
                    {
                        return (
                            conn,
                            Err(format!("writing id {}: {e}", templates.ids().format(id))),
                        );
                    }
                }
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    let mut failure = None;
    for t in tasks {
        let (conn, result) = t.await.map_err(|e| Error::Prefill(e.to_string()))?;
        conns.push(conn);
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(Error::Prefill(e)),
        None => Ok(conns),
    }
}

async fn worker(shared: Arc<Shared>, mut conns: Slots, mut picker: Picker) -> WorkerResult {
    let mut recorder = Recorder::default();
    let mut last_end = None;
    let mut per_target = vec![(0, 0); shared.targets.len()];
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        // When is this request due, and when does its latency clock start?
        let (due, clock_start) = match shared.rate {
            None => {
                let now = Instant::now();
                (now, None)
            }
            Some(rate) => {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                (
                    shared.origin + Duration::from_secs_f64(i as f64 / rate),
                    Some(()),
                )
            }
        };
        if due >= shared.measure_end {
            break;
        }
        let measured = due >= shared.measure_start;
        if measured
            && let Some(count) = shared.count
            && shared.tickets.fetch_add(1, Ordering::Relaxed) >= count
        {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        let start = match clock_start {
            None => Instant::now(),
            Some(()) => {
                let now = Instant::now();
                let start = if due > now {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    if measured {
                        recorder.behind += 1;
                    }
                    due
                };
                if measured {
                    recorder.send_lag.saturating_record(
                        u64::try_from(Instant::now().duration_since(due).as_nanos())
                            .unwrap_or(u64::MAX)
                            .max(1),
                    );
                }
                start
            }
        };
        let (op, id) = picker.pick();
        let request = shared.templates.render(op, id);
        let (t, conn) = conns.next();
        let outcome = conn
            .execute(&shared.targets[t], request, shared.timeout)
            .await;
        let end = Instant::now();
        if outcome.is_ok() {
            shared.completed.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        if measured {
            recorder.record(op, &outcome, end.duration_since(start));
            last_end = Some(end);
            if outcome.is_ok() {
                per_target[t].0 += 1;
            } else {
                per_target[t].1 += 1;
            }
        }
    }
    WorkerResult {
        recorder,
        last_end,
        per_target,
    }
}

/// One line per second on stderr: phase, requests in the last second, errors so far.
async fn progress(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval_at(
        (shared.origin + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    let mut last = 0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let done = shared.completed.load(Ordering::Relaxed);
        let failed = shared.failed.load(Ordering::Relaxed);
        let phase = if now < shared.measure_start {
            "warm-up"
        } else {
            "measure"
        };
        eprintln!(
            "[{:>6.1}s] {phase:<7} {:>8} req/s  {:>10} ok  {:>6} errors",
            now.duration_since(shared.origin).as_secs_f64(),
            done - last,
            done,
            failed
        );
        last = done;
    }
}
