//! The value-entity writes of a batch in one statement: every state write of
//! the batch travels as arrays (`unnest`), each checks its own fence, and the
//! written rows' feed records are inserted in the same statement, in the
//! batch's order. One statement instead of one per write cuts the server's
//! work per write several times over (parsing, planning and executing a
//! statement cost more than the rows). Writes that conflict change nothing
//! and report the stored sequence number, as in [`super::ops`].
//!
//! The statement needs every write to be for a different entity (its
//! `UPDATE ... FROM` could otherwise match one row twice); the writer sends
//! others one statement each.

use std::collections::HashSet;

use tokio_postgres::{Client, Statement};

use super::error::unsigned;
use super::ops::{Job, Outcome, WriteOp};

/// Parameters: type_ids, entity_ids, expected sequences, payloads (NULL to
/// delete), feed kinds, feed type names, trace contexts. One row per write, in order: the
/// write's ordinal, its new sequence number (NULL on a conflict) and the
/// stored one before the statement.
pub(super) const STATES: &str = "
WITH i AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::smallint[], $6::text[], $7::text[])
        WITH ORDINALITY AS i(type_id, entity_id, expected, payload, kind, type_name, trace, ord)
), ins AS (
    INSERT INTO plinth_entity_state (type_id, entity_id, seq, payload)
    SELECT type_id, entity_id, 1, payload FROM i WHERE expected = 0
    ON CONFLICT (type_id, entity_id) DO NOTHING
    RETURNING type_id, entity_id, seq
), upd AS (
    UPDATE plinth_entity_state s SET seq = i.expected + 1, payload = i.payload
    FROM i
    WHERE i.expected > 0 AND s.type_id = i.type_id AND s.entity_id = i.entity_id
      AND s.seq = i.expected
    RETURNING s.type_id, s.entity_id, s.seq
), w AS (
    SELECT * FROM ins UNION ALL SELECT * FROM upd
), f AS (
    INSERT INTO plinth_feed (type_id, entity_id, seq, kind, type_name, payload, trace)
    SELECT i.type_id, i.entity_id, w.seq, i.kind, i.type_name, COALESCE(i.payload, ''::bytea),
           i.trace
    FROM i JOIN w ON w.type_id = i.type_id AND w.entity_id = i.entity_id
    ORDER BY i.ord
)
SELECT i.ord, w.seq, s.seq
FROM i
LEFT JOIN w ON w.type_id = i.type_id AND w.entity_id = i.entity_id
LEFT JOIN plinth_entity_state s ON s.type_id = i.type_id AND s.entity_id = i.entity_id
ORDER BY i.ord";

/// The positions of the state writes that go in the one statement: all of
/// them when there are at least two and each is for a different entity,
/// else none.
pub(super) fn grouped(jobs: &[(&WriteOp, Job<'_>)]) -> Vec<usize> {
    let mut keys = HashSet::new();
    let mut positions = Vec::new();
    for (position, (_, job)) in jobs.iter().enumerate() {
        if let Job::State { write, .. } = job {
            if job.schedules() || write.meta.is_some() {
                // Its schedule changes (or meta) travel in its own statement.
                continue;
            }
            if !keys.insert((write.type_id.as_str(), write.entity_id.as_str())) {
                return Vec::new();
            }
            positions.push(position);
        }
    }
    if positions.len() < 2 {
        positions.clear();
    }
    positions
}

/// Run the state writes `jobs` as one statement on `tx` (inside the batch's
/// transaction); one outcome per
/// write, in order.
pub(super) async fn run(
    tx: &Client,
    statement: &Statement,
    jobs: &[&Job<'_>],
) -> Result<Vec<Outcome>, tokio_postgres::Error> {
    let mut type_ids = Vec::with_capacity(jobs.len());
    let mut entity_ids = Vec::with_capacity(jobs.len());
    let mut expected_seqs = Vec::with_capacity(jobs.len());
    let mut payloads: Vec<Option<&[u8]>> = Vec::with_capacity(jobs.len());
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut type_names = Vec::with_capacity(jobs.len());
    let mut traces: Vec<Option<&str>> = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Job::State {
            write,
            expected,
            kind,
            ..
        } = job
        {
            type_ids.push(write.type_id.as_str());
            entity_ids.push(write.entity_id.as_str());
            expected_seqs.push(*expected);
            payloads.push(write.payload.as_deref());
            kinds.push(*kind);
            type_names.push(super::ops::feed_type_name(write));
            traces.push(write.trace.as_deref());
        }
    }
    let rows = tx
        .query(
            statement,
            &[
                &type_ids,
                &entity_ids,
                &expected_seqs,
                &payloads,
                &kinds,
                &type_names,
                &traces,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let written: Option<i64> = row.try_get(1)?;
            let stored: Option<i64> = row.try_get(2)?;
            Ok(match written {
                Some(seq) => Outcome::Applied(unsigned(seq)),
                None => Outcome::Conflict(unsigned(stored.unwrap_or(0))),
            })
        })
        .collect()
}
