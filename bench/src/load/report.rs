//! Latency recording (HDR histograms, nanoseconds) and the run report (JSON and a table).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::scenario::Op;

/// Highest recordable latency (60 s); larger values are clamped.
const MAX_NS: u64 = 60_000_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds are valid")
}

/// Per-worker results, merged at the end of a run.
#[derive(Debug, Clone)]
pub struct Recorder {
    per_op: Vec<Histogram<u64>>,
    op_errors: [u64; 4],
    /// Failures by kind (`http 404`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Open loop: how late each measured request was sent relative to its intended time.
    pub send_lag: Histogram<u64>,
    /// Open loop: measured requests whose intended time had passed when a worker became free.
    pub behind: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            per_op: (0..Op::ALL.len()).map(|_| histogram()).collect(),
            op_errors: [0; 4],
            errors: BTreeMap::new(),
            send_lag: histogram(),
            behind: 0,
        }
    }
}

impl Recorder {
    /// Records the outcome of one measured request.
    pub fn record(&mut self, op: Op, outcome: &Result<(), String>, latency: Duration) {
        match outcome {
            Ok(()) => self.per_op[op.index()].saturating_record(ns(latency)),
            Err(kind) => {
                self.op_errors[op.index()] += 1;
                *self.errors.entry(kind.clone()).or_default() += 1;
            }
        }
    }

    /// Adds another worker's results.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.per_op.iter_mut().zip(&other.per_op) {
            mine.add(theirs).expect("histograms share bounds");
        }
        for (mine, theirs) in self.op_errors.iter_mut().zip(other.op_errors) {
            *mine += theirs;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        self.send_lag
            .add(&other.send_lag)
            .expect("histograms share bounds");
        self.behind += other.behind;
    }

    /// Successful requests of every operation together.
    pub fn all(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in &self.per_op {
            all.add(h).expect("histograms share bounds");
        }
        all
    }

    /// Per-operation summaries of the operations that saw requests.
    pub fn ops(&self) -> Vec<OpReport> {
        Op::ALL
            .iter()
            .filter(|op| self.per_op[op.index()].len() + self.op_errors[op.index()] > 0)
            .map(|&op| OpReport {
                op: op.name().to_string(),
                ok: self.per_op[op.index()].len(),
                errors: self.op_errors[op.index()],
                latency: LatencySummary::of(&self.per_op[op.index()]),
            })
            .collect()
    }

    /// Failed requests.
    pub fn error_count(&self) -> u64 {
        self.op_errors.iter().sum()
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_NS)
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Recorded values.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Smallest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarizes a nanosecond histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |v: u64| v as f64 / 1e6;
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1e6,
            min_ms: ms(h.min()),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Results of one operation kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    /// `write`, `read`, `event` or `echo`.
    pub op: String,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Latency of the successful requests.
    pub latency: LatencySummary,
}

/// Open-loop specifics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopReport {
    /// The requested arrival rate.
    pub target_rate: f64,
    /// Measured requests issued per second of measurement.
    pub achieved_rate: f64,
    /// Requests whose intended send time had passed when a worker became free (their latency
    /// includes that wait: no coordinated omission).
    pub behind: u64,
    /// How late requests were sent relative to their intended time.
    pub send_lag: LatencySummary,
}

/// Measured requests sent to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// Target origin.
    pub target: String,
    /// Successful measured requests.
    pub ok: u64,
    /// Failed measured requests.
    pub errors: u64,
}

/// The machine-readable result of one run (`--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always `plinth-load`.
    pub tool: String,
    /// Version of the tool.
    pub version: String,
    /// System under test (`--label`).
    pub label: String,
    /// Target origin (several: comma-separated, in the order given).
    pub target: String,
    /// Measured requests per target (requests go to the targets round-robin).
    #[serde(default)]
    pub targets: Vec<TargetReport>,
    /// `http1`, `h2c` or `grpc`.
    pub transport: String,
    /// Scenario name.
    pub scenario: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Open loop: requested rate.
    pub rate: Option<f64>,
    /// Workers (most requests in flight).
    pub concurrency: usize,
    /// TCP connections.
    pub connections: usize,
    /// Distinct ids.
    pub ids: u64,
    /// Payload bytes.
    pub payload_size: usize,
    /// Read fraction (mixed only).
    pub read_ratio: Option<f64>,
    /// Warm-up seconds (excluded).
    pub warmup_s: f64,
    /// Configured measured seconds (upper bound in count mode).
    pub duration_s: f64,
    /// Requested measured count (smoke mode).
    pub count: Option<u64>,
    /// Seconds spent writing every id before the run (read/mixed), if done.
    pub prefill_s: Option<f64>,
    /// Unix time the measurement started.
    pub started_unix_s: f64,
    /// Seconds from measurement start to the last measured response.
    pub elapsed_s: f64,
    /// Measured requests (ok + errors).
    pub requests: u64,
    /// Successful measured requests.
    pub ok: u64,
    /// Failed measured requests.
    pub errors: u64,
    /// Failures by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Latency of all successful requests.
    pub latency: LatencySummary,
    /// Per-operation results.
    pub ops: Vec<OpReport>,
    /// Open-loop specifics.
    pub open_loop: Option<OpenLoopReport>,
}

impl Report {
    /// A human-readable table of the results.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mode = match self.rate {
            Some(r) => format!("open loop at {r:.0} req/s"),
            None => format!("closed loop, {} in flight", self.concurrency),
        };
        let _ = writeln!(
            out,
            "{} | {} {} | {} | {} conns | {} ids | {} B payload",
            self.label,
            self.transport,
            self.scenario,
            mode,
            self.connections,
            self.ids,
            self.payload_size
        );
        let _ = writeln!(
            out,
            "{} requests in {:.2}s: {:.0} req/s, {} errors",
            self.requests, self.elapsed_s, self.throughput_rps, self.errors
        );
        let _ = writeln!(
            out,
            "{:<8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "op", "ok", "errors", "mean ms", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        let row = |out: &mut String, name: &str, ok: u64, errors: u64, l: &LatencySummary| {
            let _ = writeln!(
                out,
                "{name:<8} {ok:>9} {errors:>7} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.mean_ms, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
        };
        for op in &self.ops {
            row(&mut out, &op.op, op.ok, op.errors, &op.latency);
        }
        if self.ops.len() > 1 {
            row(&mut out, "all", self.ok, self.errors, &self.latency);
        }
        if self.targets.len() > 1 {
            let spread: Vec<String> = self
                .targets
                .iter()
                .map(|t| format!("{} {} ok / {} errors", t.target, t.ok, t.errors))
                .collect();
            let _ = writeln!(out, "targets: {}", spread.join("; "));
        }
        if let Some(open) = &self.open_loop {
            let _ = writeln!(
                out,
                "open loop: achieved {:.0} of {:.0} req/s; {} requests sent behind schedule; send lag p99 {:.3} ms, max {:.3} ms",
                open.achieved_rate,
                open.target_rate,
                open.behind,
                open.send_lag.p99_ms,
                open.send_lag.max_ms
            );
        }
        for (kind, n) in &self.error_kinds {
            let _ = writeln!(out, "error: {kind}: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_merges_and_summarizes() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for i in 1..=100u64 {
            a.record(Op::Read, &Ok(()), Duration::from_micros(i * 10));
        }
        b.record(Op::Write, &Ok(()), Duration::from_millis(5));
        b.record(Op::Write, &Err("http 500".into()), Duration::from_millis(1));
        a.merge(&b);
        assert_eq!(a.all().len(), 101);
        assert_eq!(a.error_count(), 1);
        assert_eq!(a.errors["http 500"], 1);
        let ops = a.ops();
        assert_eq!(ops.len(), 2);
        assert_eq!(
            (ops[0].op.as_str(), ops[0].ok, ops[0].errors),
            ("write", 1, 1)
        );
        let read = &ops[1].latency;
        assert!((read.p50_ms - 0.5).abs() < 0.01, "{read:?}");
        assert!((read.max_ms - 1.0).abs() < 0.01, "{read:?}");
    }
}
