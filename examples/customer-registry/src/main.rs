//! Serves the customer registry over gRPC and HTTP/JSON (`127.0.0.1:9000`
//! unless `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`).

use std::process::ExitCode;

use customer_registry::CustomerRegistry;
use customer_registry::customer::api::CustomerEntityComponent;
use customer_registry::customer::view::{CustomerByNameView, CustomersByCityView};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CustomerEntityComponent::new(CustomerRegistry))
        .with(CustomerByNameView)
        .with(CustomersByCityView)
        .run_blocking()
}
