//! Medians and ratios over a directory of results.
//!
//! The directory holds `*.load.json` files (one [`Report`] per `plinth-load` run) and
//! `*.metric.json` files (`{"label": ..., "metric": ..., "value": ...}`, written by `run.sh` for
//! RSS and cold start). Runs are grouped by workload (scenario, transport, mode, rate,
//! concurrency) and by system under test (the report's label); each group reports medians, and
//! every label is compared with the reference label and the ceiling label of the same workload.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::load::Report;
use crate::{Error, Result};

/// One server measurement written by `run.sh`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// System under test.
    pub label: String,
    /// `rss_idle_kb`, `rss_loaded_kb`, `cold_start_ms`, ...
    pub metric: String,
    /// The measured value.
    pub value: f64,
}

/// Medians of the runs of one label on one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Workload key, e.g. `write grpc closed c64`.
    pub workload: String,
    /// System under test.
    pub label: String,
    /// Runs found.
    pub runs: usize,
    /// Median throughput (successful req/s).
    pub throughput_rps: f64,
    /// Median of the runs' p50 latency.
    pub p50_ms: f64,
    /// Median of the runs' p99 latency.
    pub p99_ms: f64,
    /// Median of the runs' p99.9 latency.
    pub p999_ms: f64,
    /// Failed requests over all runs.
    pub errors: u64,
    /// Median throughput divided by the reference label's on the same workload.
    pub vs_reference: Option<f64>,
    /// Median throughput divided by the ceiling label's on the same workload.
    pub vs_ceiling: Option<f64>,
}

/// Medians of one server metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// System under test.
    pub label: String,
    /// Metric name.
    pub metric: String,
    /// Samples found.
    pub samples: usize,
    /// Median value.
    pub median: f64,
}

/// The summary of a results directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Label the ratios are relative to.
    pub reference: String,
    /// Label of the RPC ceiling.
    pub ceiling: String,
    /// One row per (workload, label).
    pub rows: Vec<Row>,
    /// One row per (label, metric).
    pub metrics: Vec<MetricRow>,
}

/// The median of `values` (mean of the middle two for an even count; 0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn workload(r: &Report) -> String {
    let mode = match r.rate {
        Some(rate) => format!("open {rate:.0}/s"),
        None => format!("closed c{}", r.concurrency),
    };
    format!("{} {} {mode}", r.scenario, r.transport)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// Reads every result in `dir` and summarizes it.
pub fn summarize(dir: &Path, reference: &str, ceiling: &str) -> Result<Summary> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::File {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut reports = Vec::new();
    let mut metrics = Vec::new();
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".load.json") {
            reports.push(read_json::<Report>(&path)?);
        } else if name.ends_with(".metric.json") {
            metrics.push(read_json::<Metric>(&path)?);
        }
    }
    Ok(summarize_reports(&reports, &metrics, reference, ceiling))
}

/// Summarizes reports and metrics already read.
pub fn summarize_reports(
    reports: &[Report],
    metrics: &[Metric],
    reference: &str,
    ceiling: &str,
) -> Summary {
    let mut groups: BTreeMap<(String, String), Vec<&Report>> = BTreeMap::new();
    for r in reports {
        groups
            .entry((workload(r), r.label.clone()))
            .or_default()
            .push(r);
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|((workload, label), runs)| Row {
            workload,
            label,
            runs: runs.len(),
            throughput_rps: median(runs.iter().map(|r| r.throughput_rps).collect()),
            p50_ms: median(runs.iter().map(|r| r.latency.p50_ms).collect()),
            p99_ms: median(runs.iter().map(|r| r.latency.p99_ms).collect()),
            p999_ms: median(runs.iter().map(|r| r.latency.p999_ms).collect()),
            errors: runs.iter().map(|r| r.errors).sum(),
            vs_reference: None,
            vs_ceiling: None,
        })
        .collect();
    let throughput = |rows: &[Row], workload: &str, label: &str| {
        rows.iter()
            .find(|r| r.workload == workload && r.label == label)
            .map(|r| r.throughput_rps)
            .filter(|t| *t > 0.0)
    };
    let snapshot = rows.clone();
    for row in &mut rows {
        row.vs_reference =
            throughput(&snapshot, &row.workload, reference).map(|t| row.throughput_rps / t);
        row.vs_ceiling =
            throughput(&snapshot, &row.workload, ceiling).map(|t| row.throughput_rps / t);
    }
    let mut metric_groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for m in metrics {
        metric_groups
            .entry((m.label.clone(), m.metric.clone()))
            .or_default()
            .push(m.value);
    }
    let metrics = metric_groups
        .into_iter()
        .map(|((label, metric), values)| MetricRow {
            label,
            metric,
            samples: values.len(),
            median: median(values),
        })
        .collect();
    Summary {
        reference: reference.to_string(),
        ceiling: ceiling.to_string(),
        rows,
        metrics,
    }
}

impl Summary {
    /// Markdown tables of the summary.
    pub fn markdown(&self) -> String {
        let ratio = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "–".into());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| workload | system | runs | req/s (median) | p50 ms | p99 ms | p99.9 ms | errors | vs {} | vs {} |",
            self.reference, self.ceiling
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
                r.workload,
                r.label,
                r.runs,
                r.throughput_rps,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.errors,
                ratio(r.vs_reference),
                ratio(r.vs_ceiling)
            );
        }
        if !self.metrics.is_empty() {
            let _ = writeln!(
                out,
                "\n| system | metric | samples | median |\n|---|---|---|---|"
            );
            for m in &self.metrics {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} |",
                    m.label, m.metric, m.samples, m.median
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::report::LatencySummary;

    fn report(label: &str, scenario: &str, rps: f64, p99: f64) -> Report {
        Report {
            tool: "plinth-load".into(),
            version: "0".into(),
            label: label.into(),
            target: "http://127.0.0.1:1".into(),
            targets: Vec::new(),
            transport: "grpc".into(),
            scenario: scenario.into(),
            mode: "closed".into(),
            rate: None,
            concurrency: 64,
            connections: 4,
            ids: 10_000,
            payload_size: 550,
            read_ratio: None,
            warmup_s: 2.0,
            duration_s: 10.0,
            count: None,
            prefill_s: None,
            started_unix_s: 0.0,
            elapsed_s: 10.0,
            requests: 1,
            ok: 1,
            errors: 0,
            error_kinds: BTreeMap::new(),
            throughput_rps: rps,
            latency: LatencySummary {
                p99_ms: p99,
                ..Default::default()
            },
            ops: vec![],
            open_loop: None,
        }
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
        let reports = [
            report("reference", "write", 1000.0, 2.0),
            report("reference", "write", 3000.0, 4.0),
            report("reference", "write", 2000.0, 3.0),
            report("plinth", "write", 1800.0, 1.0),
            report("echo", "write", 9000.0, 0.5),
            report("plinth", "read", 5000.0, 1.0),
        ];
        let metrics = [
            Metric {
                label: "plinth".into(),
                metric: "rss_idle_kb".into(),
                value: 10.0,
            },
            Metric {
                label: "plinth".into(),
                metric: "rss_idle_kb".into(),
                value: 30.0,
            },
        ];
        let s = summarize_reports(&reports, &metrics, "reference", "echo");
        let find = |w: &str, l: &str| {
            s.rows
                .iter()
                .find(|r| r.workload == w && r.label == l)
                .unwrap()
        };
        let reference = find("write grpc closed c64", "reference");
        assert_eq!(
            (reference.runs, reference.throughput_rps, reference.p99_ms),
            (3, 2000.0, 3.0)
        );
        let plinth = find("write grpc closed c64", "plinth");
        assert_eq!(plinth.vs_reference, Some(0.9));
        assert_eq!(plinth.vs_ceiling, Some(0.2));
        assert_eq!(find("read grpc closed c64", "plinth").vs_reference, None);
        assert_eq!(s.metrics[0].median, 20.0);
        assert!(
            s.markdown()
                .contains("| write grpc closed c64 | plinth | 1 | 1800 |")
        );
    }
}
