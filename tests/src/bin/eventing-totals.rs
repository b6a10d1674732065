//! The counter-totals example's service (fed by the counter's topic), for
//! process tests of eventing: configured by `PLINTH_*` like any service.

use std::process::ExitCode;

use counter_totals::totals::{CounterEventsConsumerActionComponent, CounterTotalsEntityComponent};
use counter_totals::{Totals, TotalsFeeder};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CounterTotalsEntityComponent::new(Totals))
        .with(CounterEventsConsumerActionComponent::new(TotalsFeeder))
        .run_blocking()
}
