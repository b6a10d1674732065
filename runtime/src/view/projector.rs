//! The projection of one source entity type into one view table.
//!
//! Records arrive in batches (several entities, each in sequence order). For
//! each record the matching update method runs — storing the input as the
//! row, deleting it, or asking the user's `transform_updates` handler with the
//! current row — and the batch's row statements and last applied sequence
//! numbers go to the storage as one atomic write. A failure (of user code or
//! of the storage) fails the whole batch, which the feed engine retries with
//! backoff, never skipping it; the log names the view, the entity and the error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use plinth_view_plan::{SqlValue, row_values};
use prost_reflect::DynamicMessage;

use super::plan::{Source, Update};
use super::{Change, ViewEngine};
use crate::component::info::ViewMethod;
use crate::context::{Metadata, UpdateContext};
use crate::effect::RowUpdate;
use crate::executor::guard::guarded;
use crate::feed::{FeedHandler, HandlerError};
use crate::status::Status;
use crate::storage::{FeedKind, FeedRecord, RowChange, ViewBatch, ViewWrite};

/// Feeds one table from one entity type or one topic.
pub(crate) struct Projector {
    engine: Arc<ViewEngine>,
    table: usize,
    source: Source,
    /// The `type_id` of the records the feed delivers (a topic's records
    /// carry the topic's resolved name).
    type_id: String,
    consumer: String,
    known: Mutex<Known>,
}

/// What the projector knows of the sequence numbers applied before.
enum Known {
    /// Not looked yet.
    Unchecked,
    /// The projection had applied nothing when this run started (a new
    /// view): every applied sequence number is the one this run wrote, kept
    /// here, so building a view from the feed asks the storage nothing.
    Fresh(HashMap<String, u64>),
    /// Ask the storage.
    Stored,
}

/// The most entities [`Known::Fresh`] tracks before asking the storage instead.
const FRESH_CAPACITY: usize = 1_000_000;

impl Projector {
    /// The projection of `source` (whose records carry `type_id`) into
    /// table `table`, stored as `consumer`.
    pub(crate) fn new(
        engine: Arc<ViewEngine>,
        table: usize,
        source: Source,
        type_id: String,
        consumer: String,
    ) -> Projector {
        Projector {
            engine,
            table,
            source,
            type_id,
            consumer,
            known: Mutex::new(Known::Unchecked),
        }
    }

    /// The update method that takes a record of `kind` and message type
    /// `type_name`, if any (none: the record does not change the table, e.g.
    /// a delete without `handle_deletes`).
    fn method_for(&self, kind: FeedKind, type_name: &str) -> Option<&Update> {
        let mut candidates = self
            .engine
            .plans
            .updates
            .iter()
            .filter(|u| u.table == self.table && u.source == self.source);
        if self.source.carries_messages() {
            // A topic's messages go by their `ce-type`; a table fed by one
            // method takes every message of the topic.
            let all: Vec<&Update> = candidates.collect();
            return all
                .iter()
                .find(|u| u.input_type == type_name)
                .or(if all.len() == 1 { all.first() } else { None })
                .copied();
        }
        match kind {
            FeedKind::Delete => candidates.find(|u| u.handle_deletes),
            FeedKind::Event => candidates.find(|u| u.input_type == type_name),
            FeedKind::State => {
                let states: Vec<&Update> = candidates.filter(|u| !u.handle_deletes).collect();
                states
                    .iter()
                    .find(|u| u.input_type == type_name)
                    .or(states.first())
                    .copied()
            }
        }
    }

    fn lock_known(&self) -> Result<std::sync::MutexGuard<'_, Known>, HandlerError> {
        self.known
            .lock()
            .map_err(|_| HandlerError::msg("the projection's bookkeeping is poisoned"))
    }

    /// The stored row of `key`.
    async fn load_row(&self, key: &str) -> Result<Option<Bytes>, HandlerError> {
        let store = self.engine.store()?;
        let table = &self.engine.plans.tables[self.table];
        let rows = store
            .view_query(
                Arc::from(table.sql.select_row.as_str()),
                vec![SqlValue::Text(key.to_string())],
                1,
            )
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|row| match row.into_iter().next() {
                Some(SqlValue::Blob(bytes)) => Some(Bytes::from(bytes)),
                _ => None,
            }))
    }

    async fn apply(&self, records: &[FeedRecord]) -> Result<(), HandlerError> {
        let engine = &self.engine;
        let table = &engine.plans.tables[self.table];
        let mut current: HashMap<&str, Option<Bytes>> = HashMap::new();
        let mut applied: HashMap<&str, u64> = HashMap::new();
        let mut batch = ViewBatch {
            consumer: self.consumer.clone(),
            ..ViewBatch::default()
        };
        let mut changed: Vec<Arc<str>> = Vec::new();
        for record in records {
            let key = record.entity_id.as_str();
            let seq = applied.entry(key).or_default();
            *seq = (*seq).max(record.seq);
            let (input, metadata, type_name) = match self.source {
                Source::Entity(_) => (
                    record.payload.clone(),
                    Metadata::new(),
                    record.type_name.clone(),
                ),
                Source::Topic(_) | Source::Direct { .. } => {
                    let (payload, metadata) =
                        crate::eventing::topic_message(record).map_err(HandlerError::msg)?;
                    let type_name = metadata
                        .get(crate::eventing::cloudevents::TYPE)
                        .unwrap_or("")
                        .to_owned();
                    (payload, metadata, type_name)
                }
            };
            let Some(update) = self.method_for(record.kind, &type_name) else {
                if self.source.carries_messages() {
                    let topic = &self.type_id;
                    tracing::warn!(view = engine.info.service, topic, ce_type = %type_name, "no update method takes this topic message; skipped");
                }
                continue;
            };
            if self.source.carries_messages() && key.is_empty() {
                tracing::warn!(
                    view = engine.info.service,
                    position = record.offset,
                    "a topic message without ce-subject names no row; skipped"
                );
                continue;
            }
            let input = if metadata
                .get(crate::eventing::cloudevents::CONTENT_TYPE)
                .is_some_and(|content| content.starts_with(crate::eventing::cloudevents::JSON))
            {
                let message = crate::http::json::decode_message(update.input.clone(), &input)
                    .map_err(HandlerError::Status)?;
                Bytes::from(prost::Message::encode_to_vec(&message))
            } else {
                input
            };
            let transform = matches!(
                engine.info.methods[update.method].view,
                Some(ViewMethod::Update {
                    transform_updates: true,
                    ..
                })
            );
            let row = match (transform, current.get(key)) {
                (false, _) => None,
                (true, Some(row)) => row.clone(),
                (true, None) => self.load_row(key).await?,
            };
            let ctx = UpdateContext::new(key, metadata);
            let outcome = guarded(engine.info, update.method, || {
                engine
                    .adapter
                    .update(update.method, row.as_deref(), &input, &ctx)
            })
            .and_then(|result| result)
            .map_err(|status| {
                tracing::warn!(
                    view = engine.info.service,
                    table = %table.plan.name,
                    entity = key,
                    seq = record.seq,
                    error = %status,
                    "view update failed; the record will be retried"
                );
                HandlerError::Status(status)
            })?;
            match outcome {
                RowUpdate::Upsert(bytes) => {
                    let message = DynamicMessage::decode(table.row.clone(), bytes.as_ref())
                        .map_err(|e| {
                            HandlerError::Status(Status::internal(format!(
                                "the row for `{key}` does not decode as {}: {e}",
                                table.plan.row_type
                            )))
                        })?;
                    let mut params = vec![
                        SqlValue::Text(key.to_string()),
                        SqlValue::Blob(bytes.to_vec()),
                    ];
                    params.extend(row_values(&message, &table.columns));
                    batch.writes.push(ViewWrite {
                        statement: table.upsert.clone(),
                        params,
                    });
                    current.insert(key, Some(bytes));
                    changed.push(Arc::from(key));
                }
                RowUpdate::Delete => {
                    batch.writes.push(ViewWrite {
                        statement: table.delete.clone(),
                        params: vec![SqlValue::Text(key.to_string())],
                    });
                    current.insert(key, None);
                    changed.push(Arc::from(key));
                }
                RowUpdate::Ignore => {}
            }
        }
        batch.applied = applied
            .into_iter()
            .map(|(entity, seq)| (self.type_id.to_string(), entity.to_string(), seq))
            .collect();
        let table_name: Arc<str> = Arc::from(table.plan.table.as_str());
        batch.changed = changed
            .iter()
            .map(|key| RowChange {
                table: table_name.clone(),
                key: key.clone(),
            })
            .collect();
        let remember: Vec<(String, u64)> = batch
            .applied
            .iter()
            .map(|(_, entity, seq)| (entity.clone(), *seq))
            .collect();
        engine
            .store()?
            .view_write(batch)
            .await
            .inspect_err(|error| {
                tracing::warn!(
                    view = engine.info.service,
                    table = %table.plan.name,
                    %error,
                    "writing view rows failed; the records will be retried"
                );
            })?;
        if let Ok(mut known) = self.known.lock()
            && let Known::Fresh(seqs) = &mut *known
        {
            seqs.extend(remember);
            if seqs.len() > FRESH_CAPACITY {
                *known = Known::Stored;
            }
        }
        if !engine
            .store_announces
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            for key in changed {
                // No live query listening is fine.
                let _ = engine.changes.send(Change {
                    table: self.table,
                    key,
                });
            }
        }
        Ok(())
    }
}

impl FeedHandler for Projector {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.apply(std::slice::from_ref(record)))
    }

    fn handle_batch<'a>(
        &'a self,
        records: &'a [FeedRecord],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.apply(records))
    }

    fn applied_seq<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, HandlerError>> {
        Box::pin(async move {
            let store = self.engine.store()?;
            if type_id == self.type_id {
                let unchecked = matches!(*self.lock_known()?, Known::Unchecked);
                if unchecked {
                    let fresh = !store.view_has_applied(&self.consumer).await?;
                    let mut known = self.lock_known()?;
                    if matches!(*known, Known::Unchecked) {
                        *known = if fresh {
                            Known::Fresh(HashMap::new())
                        } else {
                            Known::Stored
                        };
                    }
                }
                if let Known::Fresh(seqs) = &*self.lock_known()? {
                    return Ok(seqs.get(entity_id).copied());
                }
            }
            Ok(store
                .view_applied_seq(&self.consumer, type_id, entity_id)
                .await?)
        })
    }
}
