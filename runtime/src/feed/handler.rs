//! What a consumer calls: the [`FeedHandler`] trait and its error.

use futures::future::BoxFuture;

use crate::Status;
use crate::storage::{FeedRecord, StorageError};

/// The error a [`FeedHandler`] returns. Whatever the variant, the records are
/// retried with backoff and never skipped.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A user handler failed with a status.
    #[error("handler failed: {0}")]
    Status(#[from] Status),
    /// The storage the handler writes to failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The handler failed for another reason, described by the message.
    #[error("{0}")]
    Failed(String),
    /// The handler panicked; the message is the panic's payload when it is text.
    #[error("handler panicked: {0}")]
    Panicked(String),
}

impl HandlerError {
    /// A failure described by a message.
    pub fn msg(message: impl std::fmt::Display) -> HandlerError {
        HandlerError::Failed(message.to_string())
    }
}

/// How a consumer hands records to its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// One record per [`FeedHandler::handle`] call; a failure retries from the
    /// failed record (the ones before it stay done). Suits action
    /// subscriptions, whose handlers have effects outside the storage.
    #[default]
    Single,
    /// Several records, possibly of several entities, per
    /// [`FeedHandler::handle_batch`] call, which must apply all of them or
    /// none (one transaction). A failed batch is split by entity and each
    /// entity retried alone, so one failing entity holds back only itself.
    /// Suits view projectors writing rows and their dedup sequence numbers in
    /// one transaction.
    Batch,
}

/// Consumes change-feed records. Records of one entity arrive strictly in
/// sequence order; records of different entities may be handled concurrently.
/// Delivery is at least once: after a restart, records handled before the
/// last stored offset may come again, unless [`FeedHandler::applied_seq`]
/// says they were applied.
pub trait FeedHandler: Send + Sync + 'static {
    /// Handle one record ([`Delivery::Single`]). An error retries this record
    /// after a backoff; later records of the same entity wait for it.
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Handle several records, all or nothing ([`Delivery::Batch`]). They are
    /// in offset order, so the records of each entity are in sequence order.
    /// The default hands them to [`FeedHandler::handle`] one by one, which is
    /// not all or nothing: records before a failure may be delivered again.
    fn handle_batch<'a>(
        &'a self,
        records: &'a [FeedRecord],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            for record in records {
                self.handle(record).await?;
            }
            Ok(())
        })
    }

    /// The dedup hook: the highest sequence number of the entity already
    /// applied downstream, if the handler keeps it (a view stores it with its
    /// rows). Asked once per entity per run, before the entity's first record;
    /// records with a sequence number at or below it are dropped as
    /// duplicates. The default knows nothing (`None`): only the in-memory
    /// bookkeeping of the current run deduplicates.
    fn applied_seq<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, HandlerError>> {
        let _ = (type_id, entity_id);
        Box::pin(async { Ok(None) })
    }
}
