//! Serves the benchmark API with Plinth over gRPC and HTTP/JSON on one port
//! (`PLINTH_ADDR`, default `127.0.0.1:9000`; state in `PLINTH_STORAGE`).

use std::process::ExitCode;

use plinth_bench_service::bench::{CustomerLogEntityComponent, CustomerRecordEntityComponent};
use plinth_bench_service::{CustomerLog, CustomerRecord};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CustomerRecordEntityComponent::new(CustomerRecord))
        .with(CustomerLogEntityComponent::new(CustomerLog))
        .run_blocking()
}
