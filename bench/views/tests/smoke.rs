//! The view benchmark runs end to end on small counts and reports every
//! figure (no timing is asserted: figures come from full runs, see
//! BENCHMARKS.md).

use std::process::Command;

#[test]
fn view_bench_runs_every_phase_on_small_counts() {
    let output = Command::new(env!("CARGO_BIN_EXE_view-bench"))
        .args(["300", "200", "100"])
        .output()
        .expect("view-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "setup: 300 customers written",
        "catch-up: a new view built from 300 events",
        "catch-up: a view added later built from 300 events",
        "indexed equality query over 300 rows: n=200",
        "view lag at 1000 writes/s (write sent to row on a live query): n=100",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from\n{stdout}");
    }
}
