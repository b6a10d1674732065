//! Workloads: which operation a request performs and on which id.

use serde::Serialize;

use super::config::Transport;

/// A benchmark scenario, selected with `--scenario`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Value-entity writes (upserts) on ids drawn uniformly from `--ids`.
    Write,
    /// Reads of ids drawn uniformly from `--ids` (prefilled first).
    Read,
    /// Writes to one single id: the serial per-entity path.
    Hot,
    /// `--read-ratio` reads (75% by default), the rest writes, over `--ids` ids (prefilled first).
    Mixed,
    /// Event-sourced commands: one event appended per request, ids drawn from `--ids`.
    Event,
    /// Bare echo of a customer-shaped message (the RPC ceiling; for the echo server).
    Echo,
}

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Upsert of a whole entity.
    Write,
    /// Point read of an entity.
    Read,
    /// Event-sourced command.
    Event,
    /// Echo.
    Echo,
}

impl Op {
    /// Every operation, in index order.
    pub const ALL: [Op; 4] = [Op::Write, Op::Read, Op::Event, Op::Echo];

    /// The position of the operation in per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The flag prefix of this operation's templates (`--write-path`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Op::Write => "write",
            Op::Read => "read",
            Op::Event => "event",
            Op::Echo => "echo",
        }
    }
}

impl Scenario {
    /// The operations this scenario issues.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Scenario::Write | Scenario::Hot => &[Op::Write],
            Scenario::Read => &[Op::Read],
            Scenario::Mixed => &[Op::Read, Op::Write],
            Scenario::Event => &[Op::Event],
            Scenario::Echo => &[Op::Echo],
        }
    }

    /// Whether every id must exist before measuring (reads would fail otherwise).
    pub fn needs_prefill(self) -> bool {
        matches!(self, Scenario::Read | Scenario::Mixed)
    }

    /// The default number of distinct ids (10,000, as in the 75/25 mixed benchmark; 1 for `hot`).
    pub fn default_ids(self) -> u64 {
        match self {
            Scenario::Hot => 1,
            _ => 10_000,
        }
    }
}

/// The default request shape of an operation: (HTTP method, path, body template).
///
/// HTTP paths are the reference service's routes; gRPC paths are `bench.CustomerService` methods
/// and bodies are protobuf JSON of their input messages. `{id}` and `{payload}` are placeholders.
pub fn default_template(
    op: Op,
    transport: Transport,
) -> (&'static str, &'static str, Option<&'static str>) {
    const CUSTOMER: &str =
        r#"{"name":"name-{id}","email":"{id}@example.com","payload":"{payload}"}"#;
    const CUSTOMER_WITH_ID: &str =
        r#"{"id":"{id}","name":"name-{id}","email":"{id}@example.com","payload":"{payload}"}"#;
    const EVENT: &str = r#"{"kind":"renamed","payload":"{payload}"}"#;
    const EVENT_WITH_ID: &str = r#"{"id":"{id}","kind":"renamed","payload":"{payload}"}"#;
    match (transport, op) {
        (Transport::Grpc, Op::Write) => (
            "POST",
            "/bench.CustomerService/Upsert",
            Some(CUSTOMER_WITH_ID),
        ),
        (Transport::Grpc, Op::Read) => (
            "POST",
            "/bench.CustomerService/Get",
            Some(r#"{"id":"{id}"}"#),
        ),
        (Transport::Grpc, Op::Event) => (
            "POST",
            "/bench.CustomerJournal/RecordEvent",
            Some(EVENT_WITH_ID),
        ),
        (Transport::Grpc, Op::Echo) => ("POST", "/bench.Echo/Echo", Some(CUSTOMER_WITH_ID)),
        (_, Op::Write) => ("POST", "/customers/{id}", Some(CUSTOMER)),
        (_, Op::Read) => ("GET", "/customers/{id}", None),
        (_, Op::Event) => ("POST", "/customers/{id}/events", Some(EVENT)),
        (_, Op::Echo) => ("POST", "/echo", Some(CUSTOMER_WITH_ID)),
    }
}

/// Draws the next (operation, id) of a scenario.
#[derive(Debug, Clone)]
pub struct Picker {
    scenario: Scenario,
    ids: u64,
    read_ratio: f64,
    rng: fastrand::Rng,
}

impl Picker {
    /// A picker with its own deterministic random stream.
    pub fn new(scenario: Scenario, ids: u64, read_ratio: f64, seed: u64) -> Self {
        Picker {
            scenario,
            ids: ids.max(1),
            read_ratio,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next operation and the id (in `0..ids`) it targets.
    pub fn pick(&mut self) -> (Op, u64) {
        let id = match self.scenario {
            Scenario::Hot => 0,
            _ => self.rng.u64(0..self.ids),
        };
        let op = match self.scenario {
            Scenario::Write | Scenario::Hot => Op::Write,
            Scenario::Read => Op::Read,
            Scenario::Event => Op::Event,
            Scenario::Echo => Op::Echo,
            Scenario::Mixed => {
                if self.rng.f64() < self.read_ratio {
                    Op::Read
                } else {
                    Op::Write
                }
            }
        };
        (op, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_follows_the_read_ratio() {
        let mut p = Picker::new(Scenario::Mixed, 10_000, 0.75, 7);
        let reads = (0..100_000).filter(|_| p.pick().0 == Op::Read).count();
        assert!((73_000..77_000).contains(&reads), "reads = {reads}");
    }

    #[test]
    fn hot_targets_one_id_and_ids_stay_in_range() {
        let mut hot = Picker::new(Scenario::Hot, 10, 0.0, 1);
        assert!((0..1000).all(|_| hot.pick() == (Op::Write, 0)));
        let mut w = Picker::new(Scenario::Write, 10, 0.0, 1);
        let seen: std::collections::BTreeSet<u64> = (0..1000).map(|_| w.pick().1).collect();
        assert_eq!(seen, (0..10).collect());
    }
}
