//! Per-method metrics, exported on `GET /_plinth/metrics`:
//! `plinth_method_calls_total{method, code}` (calls by their gRPC status
//! code) and the histogram `plinth_method_duration_seconds{method}` (time
//! to the reply, or to the start of a streamed reply). Every call that goes
//! through the dispatcher counts — the front doors', subscriptions' and the
//! schedule's deliveries. The methods are the service's own (fixed at
//! start), so the labels are bounded: a call of an unknown path is not
//! recorded.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::status::{Code, Status};

/// The histogram's upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Every gRPC status code, by number.
const CODES: usize = 17;

/// One method's counts and latency histogram.
#[derive(Debug, Default)]
pub(crate) struct MethodStat {
    by_code: [AtomicU64; CODES],
    /// Calls at or under each bound (not cumulative; summed when rendered).
    buckets: [AtomicU64; BUCKETS.len()],
    /// Calls over the last bound.
    over: AtomicU64,
    sum_micros: AtomicU64,
}

impl MethodStat {
    /// Record a call that ended with `code` after `took`.
    pub(crate) fn record(&self, code: Code, took: Duration) {
        let index = usize::try_from(code as i32).unwrap_or(0).min(CODES - 1);
        self.by_code[index].fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        match BUCKETS.iter().position(|bound| seconds <= *bound) {
            Some(bucket) => self.buckets[bucket].fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Record the outcome of a call started at `started`.
    pub(crate) fn finish<T>(&self, started: Instant, reply: &Result<T, Status>) {
        let code = match reply {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        self.record(code, started.elapsed());
    }
}

/// The metrics of every method of a service, in declaration order. The
/// dispatcher's routes hold their method's [`MethodStat`], so a call
/// records without a lookup.
#[derive(Debug, Default)]
pub(crate) struct MethodMetrics {
    methods: Vec<(&'static str, Arc<MethodStat>)>,
}

impl MethodMetrics {
    /// The stat of method `path`, added.
    pub(crate) fn add(&mut self, path: &'static str) -> Arc<MethodStat> {
        let stat = Arc::new(MethodStat::default());
        self.methods.push((path, stat.clone()));
        stat
    }

    /// The metrics in the Prometheus text format.
    pub(crate) fn metrics_text(&self, out: &mut String) {
        let calls = "plinth_method_calls_total";
        let _ = writeln!(
            out,
            "# HELP {calls} Calls of each method, by gRPC status code.\n# TYPE {calls} counter"
        );
        for (path, stat) in &self.methods {
            for (number, count) in stat.by_code.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let code = Code::from_i32(number as i32).as_str();
                    let _ = writeln!(out, "{calls}{{method=\"{path}\",code=\"{code}\"}} {count}");
                }
            }
        }
        let duration = "plinth_method_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {duration} Time to each method's reply (or to the start of a streamed reply).\n# TYPE {duration} histogram"
        );
        for (path, stat) in &self.methods {
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&stat.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{duration}_bucket{{method=\"{path}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stat.over.load(Ordering::Relaxed);
            let sum = stat.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "{duration}_bucket{{method=\"{path}\",le=\"+Inf\"}} {cumulative}\n\
                 {duration}_sum{{method=\"{path}\"}} {sum}\n\
                 {duration}_count{{method=\"{path}\"}} {cumulative}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_code_and_timed_in_buckets() {
        let mut metrics = MethodMetrics::default();
        let stat = metrics.add("/x.S/A");
        stat.record(Code::Ok, Duration::from_micros(300));
        stat.record(Code::Ok, Duration::from_millis(20));
        stat.record(Code::NotFound, Duration::from_secs(9));
        let mut text = String::new();
        metrics.metrics_text(&mut text);
        let ok = Code::Ok.as_str();
        let not_found = Code::NotFound.as_str();
        for line in [
            format!("plinth_method_calls_total{{method=\"/x.S/A\",code=\"{ok}\"}} 2"),
            format!("plinth_method_calls_total{{method=\"/x.S/A\",code=\"{not_found}\"}} 1"),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"0.0005\"} 1".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"0.025\"} 2".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"5\"} 2".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"+Inf\"} 3".to_owned(),
            "plinth_method_duration_seconds_count{method=\"/x.S/A\"} 3".to_owned(),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
        assert!(text.contains("plinth_method_duration_seconds_sum{method=\"/x.S/A\"} 9.0203"));
    }
}
