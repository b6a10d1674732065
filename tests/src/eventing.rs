//! What the eventing tests share: a NATS server with JetStream on a free
//! loopback port ([`NatsServer`], from `nats.rs`), reading a whole topic, and
//! waiting for a condition.

use std::future::Future;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use counter::counter::CounterChanged;
use plinth::eventing::{StoredMessage, Topics};
use prost::Message;

pub use crate::nats::NatsServer;

/// Every message of `topic` so far.
pub async fn read_all(topics: &dyn Topics, topic: &str) -> Vec<StoredMessage> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |m: &StoredMessage| m.position);
        let batch = topics
            .read(topic, after, 500)
            .await
            .expect("read the topic");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Wait until `check` returns true, polling; panics with `what` after 60 s
/// (a hang, not a slow run).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The counter example's messages on `counter-events`, per counter: the
/// published values and their `ce-id`s, in topic order.
pub fn counter_changes(messages: &[StoredMessage]) -> HashMap<String, Vec<(i64, String)>> {
    let mut per_counter: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for stored in messages {
        let changed = CounterChanged::decode(stored.message.payload.clone())
            .expect("a CounterChanged message");
        let id = stored
            .message
            .metadata
            .get("ce-id")
            .expect("a ce-id")
            .to_owned();
        per_counter
            .entry(changed.counter_id)
            .or_default()
            .push((changed.value, id));
    }
    per_counter
}

/// One counter's published changes (from [`counter_changes`]), each checked
/// to carry its own `ce-id`: the values in the order they were first
/// published, and how many messages repeated an earlier one (redeliveries).
pub fn first_seen(counter: &str, changes: &[(i64, String)]) -> (Vec<i64>, usize) {
    let mut firsts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut repeats = 0;
    for (value, ce_id) in changes {
        assert_eq!(ce_id, &format!("counters/{counter}/{value}"));
        if seen.insert(ce_id.as_str()) {
            firsts.push(*value);
        } else {
            repeats += 1;
        }
    }
    (firsts, repeats)
}
