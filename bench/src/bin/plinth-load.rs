//! `plinth-load`: the load generator. See `bench/README.md`.

use std::process::ExitCode;

use clap::Parser;
use plinth_bench::load::{LoadArgs, run};

fn main() -> ExitCode {
    let config = match LoadArgs::parse().into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("plinth-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("plinth-load: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(run(&config)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("plinth-load: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", report.table());
    if let Some(path) = &config.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(path, text + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("plinth-load: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if config.count.is_some() && report.errors > 0 {
        eprintln!(
            "plinth-load: {} of {} requests failed",
            report.errors, report.requests
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
