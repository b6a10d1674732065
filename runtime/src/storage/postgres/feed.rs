//! Reading the change feed, and following other processes' commits.
//!
//! The listener holds one connection of its own (outside the pool, its
//! `application_name` the pool's followed by ` feed listener`) that
//! `LISTEN`s on the schema's channel. Every write transaction notifies it
//! with the feed head it committed; PostgreSQL delivers notifications at
//! commit, in commit order, to every process, so each process's
//! [`FeedSource::feed_watch`](crate::storage::FeedSource::feed_watch)
//! receiver follows every process's commits. It also `LISTEN`s on the rows
//! channel, where view batches announce the rows they changed, and passes
//! them on to the live queries of this process. When the connection is lost,
//! the listener reconnects (backing off up to a few seconds), and after each
//! (re)connect it reads the head once, to catch up on commits it missed (row
//! changes announced meanwhile are not replayed: live queries miss them).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::error::{describe, pg, unsigned};
use super::ops::kind_from_code;
use super::view::ROW_SEPARATOR;
use super::writer::advance;
use crate::storage::{FeedRecord, RowChange, StorageError, StorageResult};

/// The last committed feed offset (0 when the feed is empty).
pub(super) const HEAD: &str = "SELECT COALESCE(MAX(position), 0) FROM plinth_feed";

const READ_ALL: &str = "
SELECT position, type_id, entity_id, seq, kind, type_name, payload, trace FROM plinth_feed
WHERE position > $1::bigint ORDER BY position LIMIT $2::bigint";

const READ_TYPES: &str = "
SELECT position, type_id, entity_id, seq, kind, type_name, payload, trace FROM plinth_feed
WHERE position > $1::bigint AND type_id = ANY($3::text[]) ORDER BY position LIMIT $2::bigint";

/// Feed records after `after`, for `type_ids` (all when empty), at most `limit`.
pub(super) async fn read(
    client: &deadpool_postgres::Object,
    after: u64,
    type_ids: &[String],
    limit: usize,
) -> StorageResult<Vec<FeedRecord>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Offsets beyond the stored range select nothing, so clamping is exact.
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = if type_ids.is_empty() {
        let statement = client.prepare_cached(READ_ALL).await.map_err(pg)?;
        client.query(&statement, &[&after, &limit]).await
    } else {
        let statement = client.prepare_cached(READ_TYPES).await.map_err(pg)?;
        client.query(&statement, &[&after, &limit, &type_ids]).await
    }
    .map_err(pg)?;
    rows.iter().map(record).collect()
}

fn record(row: &tokio_postgres::Row) -> StorageResult<FeedRecord> {
    let code: i16 = row.try_get(4).map_err(pg)?;
    let kind = kind_from_code(code)
        .ok_or_else(|| StorageError::Backend(format!("unknown feed record kind {code}")))?;
    Ok(FeedRecord {
        offset: unsigned(row.try_get(0).map_err(pg)?),
        type_id: row.try_get(1).map_err(pg)?,
        entity_id: row.try_get(2).map_err(pg)?,
        seq: unsigned(row.try_get(3).map_err(pg)?),
        kind,
        type_name: row.try_get(5).map_err(pg)?,
        payload: Bytes::from(row.try_get::<_, Vec<u8>>(6).map_err(pg)?),
        trace: row.try_get(7).map_err(pg)?,
    })
}

/// The shortest and longest wait before the listener reconnects.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// What the listener follows, and where it passes it on.
pub(super) struct Follow {
    /// The feed channel.
    pub(super) channel: String,
    /// The rows channel.
    pub(super) rows_channel: String,
    /// The feed head.
    pub(super) head: Arc<watch::Sender<u64>>,
    /// The row changes.
    pub(super) rows: broadcast::Sender<RowChange>,
}

/// Follow the feed head and the row changes until the task is aborted,
/// reconnecting whenever the connection is lost.
pub(super) async fn listen(config: tokio_postgres::Config, follow: Follow) {
    let mut wait = RECONNECT_MIN;
    loop {
        match listen_once(&config, &follow).await {
            // Connected, then lost: reconnect soon.
            Ok(()) => wait = RECONNECT_MIN,
            Err(err) => {
                tracing::debug!(error = %describe(&err), "feed listener cannot connect");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

/// One connection's worth of listening: returns `Ok` when an established
/// connection ended, an error when it could not be set up.
async fn listen_once(
    config: &tokio_postgres::Config,
    follow: &Follow,
) -> Result<(), tokio_postgres::Error> {
    let Follow {
        channel,
        rows_channel,
        head,
        rows,
    } = follow;
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection delivers notifications only while polled through
    // `poll_message`; the client's requests go through the same polling.
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let deliver = async {
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) if note.channel() == rows_channel => {
                    match note.payload().split_once(ROW_SEPARATOR) {
                        // No live query listening is fine.
                        Some((table, key)) => drop(rows.send(RowChange {
                            table: Arc::from(table),
                            key: Arc::from(key),
                        })),
                        None => tracing::debug!("ignoring a row notification without a table"),
                    }
                }
                Ok(AsyncMessage::Notification(note)) if note.channel() == channel => {
                    match note.payload().parse::<u64>() {
                        Ok(offset) => advance(head, offset),
                        Err(_) => tracing::debug!(
                            payload = note.payload(),
                            "ignoring a feed notification that is not an offset"
                        ),
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %describe(&err), "feed listener connection lost");
                    return;
                }
            }
        }
    };
    let subscribe = async {
        // The channel name is generated (`plinth_feed_` and hex digits).
        client
            .batch_execute(&format!("LISTEN {channel}; LISTEN {rows_channel}"))
            .await?;
        let current: i64 = client.query_one(HEAD, &[]).await?.try_get(0)?;
        advance(head, unsigned(current));
        // Keep the client (and so the connection) alive while delivering.
        futures::future::pending::<()>().await;
        Ok::<(), tokio_postgres::Error>(())
    };
    tokio::select! {
        () = deliver => Ok(()),
        subscribed = subscribe => subscribed,
    }
}
