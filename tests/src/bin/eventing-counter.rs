//! The counter example's service (entity and publishing action), for process
//! tests of eventing: configured by `PLINTH_*` like any service.

use std::process::ExitCode;

use counter::counter::{CounterEntityComponent, CounterEventsActionComponent};
use counter::{Counter, CounterPublisher};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CounterEntityComponent::new(Counter))
        .with(CounterEventsActionComponent::new(CounterPublisher))
        .run_blocking()
}
