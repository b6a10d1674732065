//! Running a consumer under a lease, so that among several processes on one
//! storage one at a time runs it.
//!
//! - Standby: without the lease, the consumer tries to take it every
//!   `ttl / 3`; it takes it once the holder releases it (a clean stop) or it
//!   expires (the holder died or lost the storage).
//! - Active: it loads the stored offset (the previous holder may have moved
//!   it), runs a fresh runner from there and renews the lease every `ttl / 3`.
//!   When a renewal says another holder has it, or renewals keep failing for
//!   two thirds of the ttl, the runner is stopped (storing its offset, which
//!   never moves back) before the lease can expire, and it goes back to
//!   standby.
//! - Fair share: with [`LeaseConfig::share`], a slice is taken only while
//!   this process holds fewer slices of the consumer than its fair share,
//!   and an active slice over the share (a process joined) is given up at a
//!   renewal: its runner stops, storing its offset, and the lease is
//!   released for the newcomer.
//! - Records handled by a holder that lost its lease late may be handled
//!   again by the next one: delivery stays at least once, deduplicated by
//!   `(entity, seq)` where the handler records what it applied.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::LeaseConfig;
use super::consumer::Parts;
use super::{FeedError, FeedResult};
use crate::storage::StorageError;

/// Aborts the runner if the supervising task is dropped or aborted (a
/// simulated crash), as dropping a consumer handle aborts a plain consumer.
struct AbortOnDrop(JoinHandle<FeedResult<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The lease a consumer runs under.
fn lease_name(consumer: &str) -> String {
    format!("consumer/{consumer}")
}

/// Supervise the consumer of `parts`: wait for the lease, run while holding
/// it, and stop cleanly (releasing it) when `stop` is set.
pub(super) async fn supervise(
    parts: Parts,
    lease: LeaseConfig,
    mut stop: watch::Receiver<bool>,
) -> FeedResult<()> {
    let name = lease_name(&parts.config.name);
    let every = (lease.ttl / 3).max(Duration::from_millis(10));
    loop {
        if !acquire(&parts, &name, &lease, every, &mut stop).await? {
            return Ok(());
        }
        let offset = match parts.offsets.load_offset(&parts.config.name).await {
            Ok(offset) => offset,
            Err(StorageError::Closed) => return Err(FeedError::Storage(StorageError::Closed)),
            Err(error) => {
                tracing::warn!(consumer = %parts.config.name, %error, "cannot load the offset; retrying");
                let _ = parts.offsets.release_lease(&name, &lease.holder).await;
                unreserve(&lease);
                tokio::time::sleep(every).await;
                continue;
            }
        };
        tracing::info!(consumer = %parts.config.name, offset, "took the consumer's lease");
        let (runner_stop, runner_stopped) = watch::channel(false);
        let mut task = AbortOnDrop(tokio::spawn(parts.runner(offset).run(runner_stopped)));
        let mut renewed = Instant::now();
        let outcome = loop {
            tokio::select! {
                joined = &mut task.0 => break Some(flatten(joined)),
                _ = stop.changed() => {
                    let _ = runner_stop.send(true);
                    let outcome = flatten((&mut task.0).await);
                    let _ = parts.offsets.release_lease(&name, &lease.holder).await;
                    unreserve(&lease);
                    return outcome;
                }
                () = tokio::time::sleep(every) => {
                    if lease.share.as_ref().is_some_and(|share| share.give_up()) {
                        tracing::info!(consumer = %parts.config.name, "giving the slice up to another process");
                        let _ = runner_stop.send(true);
                        let _ = (&mut task.0).await;
                        let _ = parts.offsets.release_lease(&name, &lease.holder).await;
                        break None;
                    }
                    let lost = match parts.offsets.claim_lease(&name, &lease.holder, lease.ttl).await {
                        Ok(true) => {
                            renewed = Instant::now();
                            false
                        }
                        Ok(false) => true,
                        Err(error) => {
                            tracing::warn!(consumer = %parts.config.name, %error, "cannot renew the lease");
                            renewed.elapsed() >= lease.ttl * 2 / 3
                        }
                    };
                    if lost {
                        tracing::warn!(consumer = %parts.config.name, "lost the consumer's lease; standing by");
                        let _ = runner_stop.send(true);
                        let _ = (&mut task.0).await;
                        unreserve(&lease);
                        break None;
                    }
                }
            }
        };
        if let Some(outcome) = outcome {
            // The runner ended by itself: the storage is gone.
            let _ = parts.offsets.release_lease(&name, &lease.holder).await;
            unreserve(&lease);
            return outcome;
        }
    }
}

/// Wait until the lease is taken (`true`) or `stop` is set (`false`).
async fn acquire(
    parts: &Parts,
    name: &str,
    lease: &LeaseConfig,
    every: Duration,
    stop: &mut watch::Receiver<bool>,
) -> FeedResult<bool> {
    loop {
        if *stop.borrow() {
            return Ok(false);
        }
        // Within the fair share only (always, without a share).
        if lease.share.as_ref().is_none_or(|share| share.reserve()) {
            match parts
                .offsets
                .claim_lease(name, &lease.holder, lease.ttl)
                .await
            {
                Ok(true) => return Ok(true),
                Ok(false) => unreserve(lease),
                Err(StorageError::Closed) => {
                    unreserve(lease);
                    return Err(FeedError::Storage(StorageError::Closed));
                }
                Err(error) => {
                    unreserve(lease);
                    tracing::warn!(consumer = %parts.config.name, %error, "cannot take the lease; retrying");
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return Ok(false),
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Count a slice less in the fair share, if there is one.
fn unreserve(lease: &LeaseConfig) {
    if let Some(share) = &lease.share {
        share.unreserve();
    }
}

fn flatten(joined: Result<FeedResult<()>, tokio::task::JoinError>) -> FeedResult<()> {
    joined.map_err(|error| FeedError::Stopped(error.to_string()))?
}
