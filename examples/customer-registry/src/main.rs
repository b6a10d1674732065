//! Serves the customer registry over gRPC and HTTP/JSON (`127.0.0.1:9000`
//! unless `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`).

use std::process::ExitCode;

fn main() -> ExitCode {
    customer_registry::service().run_blocking()
}
