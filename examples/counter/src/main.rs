//! Serves the counters and their change publisher over gRPC and HTTP/JSON
//! (`127.0.0.1:9000` unless `PLINTH_ADDR` says otherwise; state in
//! `./data/plinth.db`; every change published to the `counter-events` topic,
//! in `./data/topics.db` unless `PLINTH_TOPICS` names another log or a NATS
//! server).

use std::process::ExitCode;

use counter::counter::{CounterEntityComponent, CounterEventsActionComponent};
use counter::{Counter, CounterPublisher};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .run_blocking()
}
