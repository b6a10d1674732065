//! The cases every backend must pass, written once against `dyn Storage`.

use std::time::Duration;

use bytes::Bytes;
use plinth::storage::{FeedKind, FeedRecord, StorageError};

use super::{Backend, append, conflict, eventually, payloads, state};

pub async fn state_round_trip(b: &Backend) {
    let storage = &b.storage;
    assert_eq!(storage.load_state("counter", "a").await.unwrap(), None);
    assert_eq!(
        storage
            .write_state(state("counter", "a", 0, Some("one")))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        storage
            .write_state(state("counter", "a", 1, Some("two")))
            .await
            .unwrap(),
        2
    );
    let loaded = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(
        (loaded.seq, loaded.payload.as_deref()),
        (2, Some(&b"two"[..]))
    );
    // Same entity id under another type is another entity.
    assert_eq!(storage.load_state("other", "a").await.unwrap(), None);

    // An empty state is a state, not a delete; large and binary states survive.
    storage
        .write_state(state("counter", "empty", 0, Some("")))
        .await
        .unwrap();
    let empty = storage
        .load_state("counter", "empty")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(empty.payload, Some(Bytes::new()));
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut write = state("counter", "big", 0, None);
    write.payload = Some(Bytes::from(big.clone()));
    storage.write_state(write).await.unwrap();
    let loaded = storage.load_state("counter", "big").await.unwrap().unwrap();
    assert_eq!(loaded.payload.as_deref(), Some(big.as_slice()));
}

pub async fn fence_conflict_changes_nothing(b: &Backend) {
    let storage = &b.storage;
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    storage
        .write_state(state("counter", "a", 1, Some("two")))
        .await
        .unwrap();
    let feed_before = storage.read_feed(0, &[], 100).await.unwrap();

    for stale in [0, 1, 5] {
        let err = storage
            .write_state(state("counter", "a", stale, Some("lost")))
            .await
            .expect_err("a stale write must fail");
        match err {
            StorageError::Conflict {
                type_id,
                entity_id,
                expected,
                actual,
            } => {
                assert_eq!((type_id.as_str(), entity_id.as_str()), ("counter", "a"));
                assert_eq!((expected, actual), (stale, 2));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // Expecting changes to an entity never written.
    assert_eq!(
        conflict(
            storage
                .write_state(state("counter", "new", 3, Some("x")))
                .await
        ),
        (3, 0)
    );
    let loaded = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!(
        (loaded.seq, loaded.payload.as_deref()),
        (2, Some(&b"two"[..]))
    );
    assert_eq!(storage.load_state("counter", "new").await.unwrap(), None);
    assert_eq!(storage.read_feed(0, &[], 100).await.unwrap(), feed_before);

    // Writes queued together: the conflicting ones fail, the others commit.
    let writes = (0..20).map(|i| {
        let expected = if i % 2 == 0 { 0 } else { 7 };
        storage.write_state(state("counter", &format!("b{i}"), expected, Some("x")))
    });
    let results = futures::future::join_all(writes).await;
    for (i, result) in results.into_iter().enumerate() {
        match (i % 2, result) {
            (0, Ok(seq)) => assert_eq!(seq, 1, "write {i}"),
            (1, Err(StorageError::Conflict { actual: 0, .. })) => {}
            (_, other) => panic!("write {i}: {other:?}"),
        }
    }
    for i in 0..20 {
        let loaded = storage
            .load_state("counter", &format!("b{i}"))
            .await
            .unwrap();
        assert_eq!(loaded.is_some(), i % 2 == 0, "entity b{i}");
    }
    let fed = storage.read_feed(0, &[], 100).await.unwrap();
    assert_eq!(fed.len(), feed_before.len() + 10);
}

pub async fn deletes(b: &Backend) {
    let storage = &b.storage;
    storage
        .write_state(state("counter", "a", 0, Some("one")))
        .await
        .unwrap();
    assert_eq!(
        storage
            .write_state(state("counter", "a", 1, None))
            .await
            .unwrap(),
        2
    );
    let deleted = storage.load_state("counter", "a").await.unwrap().unwrap();
    assert_eq!((deleted.seq, deleted.payload), (2, None));
    // Recreating starts from the deleted sequence, so the fence still holds.
    assert_eq!(
        conflict(
            storage
                .write_state(state("counter", "a", 0, Some("again")))
                .await
        ),
        (0, 2)
    );
    assert_eq!(
        storage
            .write_state(state("counter", "a", 2, Some("again")))
            .await
            .unwrap(),
        3
    );
    // Deleting an entity never written records the delete too.
    assert_eq!(
        storage
            .write_state(state("counter", "z", 0, None))
            .await
            .unwrap(),
        1
    );
    let z = storage.load_state("counter", "z").await.unwrap().unwrap();
    assert_eq!((z.seq, z.payload), (1, None));

    let kinds: Vec<_> = storage
        .read_feed(0, &[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.entity_id, r.seq, r.kind, r.type_name, r.payload))
        .collect();
    let state_name = || "test.State".to_owned();
    assert_eq!(
        kinds,
        vec![
            (
                "a".into(),
                1,
                FeedKind::State,
                state_name(),
                Bytes::from("one")
            ),
            ("a".into(), 2, FeedKind::Delete, String::new(), Bytes::new()),
            (
                "a".into(),
                3,
                FeedKind::State,
                state_name(),
                Bytes::from("again")
            ),
            ("z".into(), 1, FeedKind::Delete, String::new(), Bytes::new()),
        ]
    );
}

pub async fn journal_and_snapshot_replay(b: &Backend) {
    let storage = &b.storage;
    assert_eq!(
        storage.load_journal("journal", "j").await.unwrap(),
        Default::default()
    );
    assert_eq!(
        storage
            .append_events(append("j", 0, &["a", "b"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        storage.append_events(append("j", 2, &["c"])).await.unwrap(),
        3
    );
    // A writer that missed event 3 would reuse sequence 3: refused.
    assert_eq!(
        conflict(storage.append_events(append("j", 2, &["duplicate"])).await),
        (2, 3)
    );
    assert_eq!(
        conflict(storage.append_events(append("fresh", 1, &["x"])).await),
        (1, 0)
    );
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(
        payloads(&replay.events),
        vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
    );
    assert_eq!(replay.events[0].type_name, "test.Event");
    assert_eq!((replay.snapshot, replay.deleted), (None, false));

    let mut with_snapshot = append("j", 3, &["d"]);
    with_snapshot.snapshot = Some(Bytes::from("state@4"));
    assert_eq!(storage.append_events(with_snapshot).await.unwrap(), 4);
    storage
        .append_events(append("j", 4, &["e", "f"]))
        .await
        .unwrap();
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((4, Bytes::from("state@4"))));
    assert_eq!(
        payloads(&replay.events),
        vec![(5, "e".into()), (6, "f".into())]
    );

    // A later snapshot (without events) replaces the earlier one.
    let mut later = append("j", 6, &[]);
    later.snapshot = Some(Bytes::from("state@6"));
    assert_eq!(storage.append_events(later).await.unwrap(), 6);
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((6, Bytes::from("state@6"))));
    assert!(replay.events.is_empty());
    // A conflicting snapshot changes nothing.
    let mut stale = append("j", 5, &["g"]);
    stale.snapshot = Some(Bytes::from("stale"));
    assert_eq!(conflict(storage.append_events(stale).await), (5, 6));
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert_eq!(replay.snapshot, Some((6, Bytes::from("state@6"))));
    // Journals of other entities are separate.
    assert_eq!(
        storage.load_journal("journal", "other").await.unwrap(),
        Default::default()
    );
}

pub async fn event_sourced_delete_is_final(b: &Backend) {
    let storage = &b.storage;
    storage.append_events(append("j", 0, &["a"])).await.unwrap();
    let mut delete = append("j", 1, &["bye"]);
    delete.delete = true;
    assert_eq!(storage.append_events(delete).await.unwrap(), 2);
    let replay = storage.load_journal("journal", "j").await.unwrap();
    assert!(replay.deleted);
    assert_eq!(
        payloads(&replay.events),
        vec![(1, "a".into()), (2, "bye".into())]
    );
    // Later writes do not undo it, and deleting records no feed record.
    storage
        .append_events(append("j", 2, &["late"]))
        .await
        .unwrap();
    let mut again = append("j", 3, &[]);
    again.delete = true;
    assert_eq!(storage.append_events(again).await.unwrap(), 3);
    assert!(storage.load_journal("journal", "j").await.unwrap().deleted);
    let feed = storage.read_feed(0, &[], 100).await.unwrap();
    assert_eq!(
        feed.iter().map(|r| (r.seq, r.kind)).collect::<Vec<_>>(),
        vec![
            (1, FeedKind::Event),
            (2, FeedKind::Event),
            (3, FeedKind::Event)
        ]
    );
    // A conflicting delete marks nothing.
    let mut stale = append("k", 4, &[]);
    stale.delete = true;
    assert_eq!(conflict(storage.append_events(stale).await), (4, 0));
    assert!(!storage.load_journal("journal", "k").await.unwrap().deleted);
}

pub async fn feed_order_and_type_filter(b: &Backend) {
    let storage = &b.storage;
    storage
        .write_state(state("counter", "a", 0, Some("a1")))
        .await
        .unwrap();
    storage
        .append_events(append("j", 0, &["e1", "e2"]))
        .await
        .unwrap();
    // A conflicting write in between leaves no record and no hole.
    storage
        .write_state(state("counter", "a", 0, Some("lost")))
        .await
        .unwrap_err();
    storage
        .write_state(state("counter", "b", 0, Some("b1")))
        .await
        .unwrap();
    storage
        .append_events(append("j", 2, &["e3"]))
        .await
        .unwrap();

    let all = storage.read_feed(0, &[], 100).await.unwrap();
    let offsets: Vec<u64> = all.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![1, 2, 3, 4, 5]);
    let summary: Vec<_> = all
        .iter()
        .map(|r| (r.type_id.as_str(), r.entity_id.as_str(), r.seq, r.kind))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("counter", "a", 1, FeedKind::State),
            ("journal", "j", 1, FeedKind::Event),
            ("journal", "j", 2, FeedKind::Event),
            ("counter", "b", 1, FeedKind::State),
            ("journal", "j", 3, FeedKind::Event),
        ]
    );
    assert_eq!(
        (all[0].type_name.as_str(), &all[0].payload),
        ("test.State", &Bytes::from("a1"))
    );
    assert_eq!(
        (all[1].type_name.as_str(), &all[1].payload),
        ("test.Event", &Bytes::from("e1"))
    );

    let offsets_of =
        |records: Vec<FeedRecord>| records.iter().map(|r| r.offset).collect::<Vec<_>>();
    let journal = vec!["journal".to_owned()];
    assert_eq!(
        offsets_of(storage.read_feed(0, &journal, 100).await.unwrap()),
        vec![2, 3, 5]
    );
    assert_eq!(
        offsets_of(storage.read_feed(2, &journal, 1).await.unwrap()),
        vec![3]
    );
    assert_eq!(
        offsets_of(storage.read_feed(2, &[], 2).await.unwrap()),
        vec![3, 4]
    );
    let both = vec!["counter".to_owned(), "journal".to_owned()];
    assert_eq!(
        offsets_of(storage.read_feed(1, &both, 100).await.unwrap()),
        vec![2, 3, 4, 5]
    );
    assert!(storage.read_feed(5, &[], 100).await.unwrap().is_empty());
    assert!(
        storage
            .read_feed(u64::MAX, &[], 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(storage.read_feed(0, &[], 0).await.unwrap().is_empty());
    let nothing = vec!["nothing".to_owned()];
    assert!(storage.read_feed(0, &nothing, 10).await.unwrap().is_empty());
    // The commit notification holds the last offset.
    let head = storage.feed_watch().expect("the backend notifies commits");
    assert!(
        eventually(Duration::from_secs(5), || {
            let head = head.clone();
            async move { *head.borrow() == 5 }
        })
        .await,
        "feed_watch shows {}",
        *head.borrow()
    );
}

pub async fn offsets_never_move_back(b: &Backend) {
    let storage = &b.storage;
    assert_eq!(storage.load_offset("view-a").await.unwrap(), 0);
    storage.store_offset("view-a", 17).await.unwrap();
    storage.store_offset("view-b", 3).await.unwrap();
    storage.store_offset("view-a", 42).await.unwrap();
    assert_eq!(storage.load_offset("view-a").await.unwrap(), 42);
    storage.store_offset("view-a", 5).await.unwrap();
    assert_eq!(storage.load_offset("view-a").await.unwrap(), 42);
    assert_eq!(storage.load_offset("view-b").await.unwrap(), 3);
    assert!(matches!(
        storage.store_offset("view-c", u64::MAX).await,
        Err(StorageError::Backend(_))
    ));
    assert_eq!(storage.load_offset("view-c").await.unwrap(), 0);
}

pub async fn leases(b: &Backend) {
    let storage = &b.storage;
    let long = Duration::from_secs(60);
    assert!(storage.claim_lease("view/x", "a", long).await.unwrap());
    // Renewing one's own lease, and another holder refused.
    assert!(storage.claim_lease("view/x", "a", long).await.unwrap());
    assert!(!storage.claim_lease("view/x", "b", long).await.unwrap());
    // Other leases are independent.
    assert!(storage.claim_lease("view/y", "b", long).await.unwrap());
    // Releasing someone else's lease does nothing.
    storage.release_lease("view/x", "b").await.unwrap();
    assert!(!storage.claim_lease("view/x", "b", long).await.unwrap());
    // Released, another holder takes it at once.
    storage.release_lease("view/x", "a").await.unwrap();
    assert!(storage.claim_lease("view/x", "b", long).await.unwrap());
    assert!(!storage.claim_lease("view/x", "a", long).await.unwrap());

    // Expired, another holder takes it; the old holder is refused then.
    let short = Duration::from_millis(200);
    assert!(storage.claim_lease("view/z", "a", short).await.unwrap());
    assert!(!storage.claim_lease("view/z", "b", long).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(storage.claim_lease("view/z", "b", long).await.unwrap());
    assert!(!storage.claim_lease("view/z", "a", long).await.unwrap());
}

pub async fn live_leases_are_counted_by_prefix(b: &Backend) {
    let storage = &b.storage;
    let long = Duration::from_secs(60);
    let short = Duration::from_millis(200);
    assert_eq!(storage.count_leases("member/").await.unwrap(), 0);
    assert!(
        storage
            .claim_lease("member/a", "member/a", long)
            .await
            .unwrap()
    );
    assert!(
        storage
            .claim_lease("member/b", "member/b", short)
            .await
            .unwrap()
    );
    // Other names, and names that only contain the prefix, are not counted.
    assert!(
        storage
            .claim_lease("view/member/c", "c", long)
            .await
            .unwrap()
    );
    assert!(storage.claim_lease("member", "d", long).await.unwrap());
    assert_eq!(storage.count_leases("member/").await.unwrap(), 2);
    // An expired lease is not live; a released one is gone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(storage.count_leases("member/").await.unwrap(), 1);
    storage.release_lease("member/a", "member/a").await.unwrap();
    assert_eq!(storage.count_leases("member/").await.unwrap(), 0);
    // A prefix with LIKE's wildcards is taken literally.
    assert!(storage.claim_lease("m_x%/1", "e", long).await.unwrap());
    assert_eq!(storage.count_leases("m_x%/").await.unwrap(), 1);
    assert_eq!(storage.count_leases("m_y%/").await.unwrap(), 0);
}

pub async fn meta_is_stored_with_the_state_and_not_on_the_feed(b: &Backend) {
    let storage = &b.storage;
    // A state write without meta loads without meta.
    storage
        .write_state(state("flow", "plain", 0, Some("s")))
        .await
        .unwrap();
    let plain = storage.load_state("flow", "plain").await.unwrap().unwrap();
    assert_eq!(plain.meta, None);

    let mut first = state("flow", "a", 0, Some("one"));
    first.meta = Some(Bytes::from_static(b"step-1"));
    storage.write_state(first).await.unwrap();
    let loaded = storage.load_state("flow", "a").await.unwrap().unwrap();
    assert_eq!(loaded.meta.as_deref(), Some(&b"step-1"[..]));

    // Each write replaces it (also with the first write's insert path and the
    // later writes' update path), and a delete keeps what it is given.
    let mut second = state("flow", "a", 1, Some("two"));
    second.meta = Some(Bytes::from_static(b"step-2"));
    storage.write_state(second).await.unwrap();
    let mut deleted = state("flow", "a", 2, None);
    deleted.meta = Some(Bytes::from_static(b"ended"));
    storage.write_state(deleted).await.unwrap();
    let loaded = storage.load_state("flow", "a").await.unwrap().unwrap();
    assert_eq!((loaded.seq, loaded.payload), (3, None));
    assert_eq!(loaded.meta.as_deref(), Some(&b"ended"[..]));

    // The feed carries the states only.
    let feed = storage
        .read_feed(0, &["flow".to_owned()], 100)
        .await
        .unwrap();
    let payloads: Vec<&[u8]> = feed.iter().map(|r| r.payload.as_ref()).collect();
    assert_eq!(payloads, [&b"s"[..], b"one", b"two", b""]);
}
