//! Serves the counter totals, fed by the `counter-events` topic
//! (`127.0.0.1:9000` unless `PLINTH_ADDR` says otherwise; state in
//! `./data/plinth.db`; topics from `PLINTH_TOPICS`, which must name the log
//! or broker the counter service publishes to).

use std::process::ExitCode;

use counter_totals::totals::{CounterEventsConsumerActionComponent, CounterTotalsEntityComponent};
use counter_totals::{Totals, TotalsFeeder};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(CounterTotalsEntityComponent::new(Totals))
        .with(CounterEventsConsumerActionComponent::new(TotalsFeeder))
        .run_blocking()
}
