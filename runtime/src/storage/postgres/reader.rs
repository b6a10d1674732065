//! Reads of entity state and journals, each one statement on a pooled
//! connection (one statement sees one snapshot, so a replay is consistent).

use bytes::Bytes;

use super::error::{pg, unsigned};
use crate::storage::{Replay, StorageResult, StoredEvent, StoredState};

const LOAD_STATE: &str = "
SELECT seq, payload, meta FROM plinth_entity_state WHERE type_id = $1::text AND entity_id = $2::text";

/// The latest snapshot (part 0), the events after it (part 1) and the
/// tombstone (part 2), in one statement.
const LOAD_JOURNAL: &str = "
WITH snap AS (
    SELECT seq, payload FROM plinth_snapshots WHERE type_id = $1::text AND entity_id = $2::text
)
SELECT 0::smallint AS part, seq, ''::text AS type_name, payload FROM snap
UNION ALL
SELECT 1::smallint, j.seq, j.type_name, j.payload FROM plinth_journal j
WHERE j.type_id = $1::text AND j.entity_id = $2::text
  AND j.seq > COALESCE((SELECT seq FROM snap), 0)
UNION ALL
SELECT 2::smallint, seq, ''::text, ''::bytea FROM plinth_tombstones
WHERE type_id = $1::text AND entity_id = $2::text
ORDER BY part, seq";

/// A value entity's stored state.
pub(super) async fn load_state(
    client: &deadpool_postgres::Object,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Option<StoredState>> {
    let statement = client.prepare_cached(LOAD_STATE).await.map_err(pg)?;
    let row = client
        .query_opt(&statement, &[&type_id, &entity_id])
        .await
        .map_err(pg)?;
    row.map(|row| {
        Ok(StoredState {
            seq: unsigned(row.try_get(0).map_err(pg)?),
            payload: row
                .try_get::<_, Option<Vec<u8>>>(1)
                .map_err(pg)?
                .map(Bytes::from),
            meta: row
                .try_get::<_, Option<Vec<u8>>>(2)
                .map_err(pg)?
                .map(Bytes::from),
        })
    })
    .transpose()
}

/// The latest snapshot, the events after it and the deleted flag.
pub(super) async fn load_journal(
    client: &deadpool_postgres::Object,
    type_id: &str,
    entity_id: &str,
) -> StorageResult<Replay> {
    let statement = client.prepare_cached(LOAD_JOURNAL).await.map_err(pg)?;
    let rows = client
        .query(&statement, &[&type_id, &entity_id])
        .await
        .map_err(pg)?;
    let mut replay = Replay::default();
    for row in rows {
        let part: i16 = row.try_get(0).map_err(pg)?;
        let seq = unsigned(row.try_get(1).map_err(pg)?);
        match part {
            0 => {
                let payload: Vec<u8> = row.try_get(3).map_err(pg)?;
                replay.snapshot = Some((seq, Bytes::from(payload)));
            }
            1 => replay.events.push(StoredEvent {
                seq,
                type_name: row.try_get(2).map_err(pg)?,
                payload: Bytes::from(row.try_get::<_, Vec<u8>>(3).map_err(pg)?),
            }),
            _ => replay.deleted = true,
        }
    }
    Ok(replay)
}
