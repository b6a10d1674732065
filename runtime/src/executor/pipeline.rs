//! Pipelined commits for one entity.
//!
//! When this process is the only writer of its storage, a command to an
//! entity does not hold the entity while its write commits. Under the
//! entity's lock it runs on the cached state, queues its write (fenced by the
//! sequence number the state will have once every earlier queued write of the
//! entity committed), and makes the new state the cached one; then it lets the
//! next command of the entity in and waits, outside the lock, until its write
//! is durable. So a busy entity's commands join the same (or the next) batch
//! of the storage's writer instead of waiting for one commit each.
//!
//! The rule, which keeps every guarantee of one-command-at-a-time:
//!
//! - commands to one entity still run one at a time, in arrival order, each
//!   on the state its predecessor produced, and their writes are queued in
//!   that order, which is the order the storage commits them in;
//! - nothing is acknowledged before it is durable: a command that wrote
//!   replies once its own write committed (which, by the fences, means every
//!   earlier one committed too), and a command that wrote nothing (a read, a
//!   rejection, schedule changes alone) first waits for the last write its
//!   state was built on — the tail kept here;
//! - if a write fails, every command applied on top of it fails: their
//!   writes are fenced by a sequence number the failed write never produced,
//!   so the storage refuses them, and their replies wait for it; the next
//!   command that finds the failed write at the tail reloads the entity from
//!   storage, once every queued write of it has been decided;
//! - a rejected command (an error effect) changes nothing and queues nothing.
//!
//! A queued write that loses its fence although no earlier write of the
//! entity failed means something else wrote the entity behind this process's
//! back, which a storage it alone writes rules out: the command fails with
//! `UNAVAILABLE` and the entity reloads, as after any failed write, instead
//! of running again (its successors already ran on its state).
//!
//! With a storage other processes write too ([`ExecutorSettings::validate`]),
//! commands hold the entity until their commit, as before: a write that loses
//! its fence to another process runs again on the stored state, and only the
//! command holding the entity may do that without reordering its successors.
//!
//! [`ExecutorSettings::validate`]: super::ExecutorSettings::validate

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

use crate::component::info::ComponentInfo;
use crate::status::Status;
use crate::storage::{QueuedWrite, StorageError};

type Outcome = Result<u64, Arc<StorageError>>;

/// The outcome of a queued write, shared by the command that queued it and
/// the later commands whose state was built on it.
#[derive(Clone)]
pub(crate) struct Pending(Shared<BoxFuture<'static, Outcome>>);

impl Pending {
    /// Share the outcome of `queued`.
    pub(crate) fn new(queued: QueuedWrite) -> Pending {
        Pending(
            queued
                .map(|outcome| outcome.map_err(Arc::new))
                .boxed()
                .shared(),
        )
    }

    /// Wait until the write is durable; its failure is the caller's, as the
    /// status a caller sees.
    pub(crate) async fn durable(
        self,
        info: &ComponentInfo,
        entity_id: &str,
    ) -> Result<u64, Status> {
        self.0
            .await
            .map_err(|error| super::storage_status(info, entity_id, &error))
    }
}

/// The last queued write a cached state was built on, until it is durable.
#[derive(Default)]
pub(crate) struct Tail(Option<Pending>);

impl Tail {
    /// The state was built on a write that failed: it must be reloaded.
    /// (Earlier writes of the entity were decided before it, in queue order.)
    pub(crate) fn broken(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|pending| matches!(pending.0.peek(), Some(Err(_))))
    }

    /// A write was queued on top of the state.
    pub(crate) fn push(&mut self, pending: Pending) {
        self.0 = Some(pending);
    }

    /// What a reply computed from the state must wait for: the last write,
    /// unless it is known to be durable already.
    pub(crate) fn to_wait_for(&self) -> Option<Pending> {
        self.0
            .as_ref()
            .filter(|pending| !matches!(pending.0.peek(), Some(Ok(_))))
            .cloned()
    }
}

/// Wait for `tail` (see [`Tail::to_wait_for`]), if there is one.
pub(crate) async fn settle(
    tail: Option<Pending>,
    info: &ComponentInfo,
    entity_id: &str,
) -> Result<(), Status> {
    match tail {
        Some(pending) => pending.durable(info, entity_id).await.map(drop),
        None => Ok(()),
    }
}
