//! The trace context of a change travels with its change-feed records.

use super::*;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn traced(mut write: StateWrite, trace: &str) -> StateWrite {
    write.trace = Some(trace.to_owned());
    write
}

pub async fn the_trace_of_a_change_is_on_its_feed_records(b: &Backend) {
    let storage = &b.storage;
    // The first write of an entity, a later one, a delete, and one without.
    storage
        .write_state(traced(state("t", "a", 0, Some("one")), PARENT))
        .await
        .unwrap();
    let with_state = format!("{PARENT}\nvendor=1");
    storage
        .write_state(traced(state("t", "a", 1, Some("two")), &with_state))
        .await
        .unwrap();
    storage
        .write_state(traced(state("t", "a", 2, None), PARENT))
        .await
        .unwrap();
    storage
        .write_state(state("t", "b", 0, Some("plain")))
        .await
        .unwrap();
    // Writes sent together (one statement for all of them on PostgreSQL).
    let together = (0..4).map(|n| {
        let trace = n % 2 == 0;
        let write = state("t", &format!("g{n}"), 0, Some("g"));
        let write = if trace { traced(write, PARENT) } else { write };
        storage.write_state(write)
    });
    for result in futures::future::join_all(together).await {
        result.unwrap();
    }
    // Events: every record of the append carries it.
    let mut events = append("e1", 0, &["x", "y"]);
    events.trace = Some(with_state.clone());
    storage.append_events(events).await.unwrap();

    let feed = storage
        .read_feed(0, &["t".to_owned(), "journal".to_owned()], 100)
        .await
        .unwrap();
    let traces: Vec<(String, Option<&str>)> = feed
        .iter()
        .map(|r| (format!("{}@{}", r.entity_id, r.seq), r.trace.as_deref()))
        .collect();
    let mut expected = vec![
        ("a@1".to_owned(), Some(PARENT)),
        ("a@2".to_owned(), Some(with_state.as_str())),
        ("a@3".to_owned(), Some(PARENT)),
        ("b@1".to_owned(), None),
    ];
    let mut grouped: Vec<_> = traces[4..8].to_vec();
    grouped.sort();
    for n in 0..4 {
        expected.push((format!("g{n}@1"), (n % 2 == 0).then_some(PARENT)));
    }
    expected.push(("e1@1".to_owned(), Some(with_state.as_str())));
    expected.push(("e1@2".to_owned(), Some(with_state.as_str())));
    let mut got = traces[..4].to_vec();
    got.extend(grouped);
    got.extend(traces[8..].iter().cloned());
    assert_eq!(got, expected);
}
