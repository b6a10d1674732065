//! Delivering a lane's calls one at a time, each until it is delivered or
//! given up (see [`super::retry`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;

use super::retry::{self, Kind, Next};
use super::{ATTEMPT_TIMEOUT, HOLD, Queued, Scheduler};
use crate::component::adapter::ActionReply;
use crate::context::{Caller, Metadata};
use crate::status::Status;
use crate::storage::DueCall;

impl Scheduler {
    /// Deliver the calls of `lane` in order until it is empty.
    pub(super) async fn drain(self: Arc<Self>, lane: String) {
        while let Some(queued) = self.next_in(&lane) {
            self.until_due(&queued).await;
            let key = queued.call.key.clone();
            self.deliver(queued.call).await;
            self.forget(&key);
        }
    }

    /// Wait for a call claimed ahead of its time: until its time has come, or
    /// the clock was moved past its due time.
    async fn until_due(&self, queued: &Queued) {
        loop {
            // Taken before the look at the clock, so that no move is missed.
            let moved = self.clock.moved();
            // A sleep that is already over would still wait for the timer's
            // next tick.
            if queued.at <= tokio::time::Instant::now() || self.clock.now() >= queued.due {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(queued.at) => return,
                () = moved => {}
            }
        }
    }

    /// Try `call` until it is delivered, given up, or gone from storage.
    async fn deliver(&self, mut call: DueCall) {
        let kind = match call.max_retries {
            Some(max_retries) if call.name.is_some() => Kind::Timer { max_retries },
            _ => Kind::Outbox,
        };
        loop {
            let status = match self.attempt(&call).await {
                Ok(()) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    self.remove(&call).await;
                    return;
                }
                Err(status) => status,
            };
            call.attempts = call.attempts.saturating_add(1);
            match retry::next(kind, call.attempts, &status) {
                Next::GiveUp => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    match &call.name {
                        Some(timer) => tracing::error!(
                            timer = %timer,
                            method = %call.path,
                            attempts = call.attempts,
                            %status,
                            "timer failed too often; dropped"
                        ),
                        None => tracing::warn!(
                            method = %call.path,
                            lane = %call.lane,
                            %status,
                            "side effect answered with an error"
                        ),
                    }
                    self.remove(&call).await;
                    return;
                }
                Next::RetryAfter(delay) => {
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(method = %call.path, attempts = call.attempts, %status, ?delay, "scheduled call failed; retrying");
                    let error = status.to_string();
                    // Keep the claim past the retry, and make the attempts visible.
                    match self
                        .store
                        .retry_later(&call.key, call.attempts, &error, delay + HOLD)
                        .await
                    {
                        Ok(true) => {}
                        // Replaced or cancelled meanwhile.
                        Ok(false) => return,
                        Err(error) => {
                            tracing::warn!(%error, method = %call.path, "cannot record a retry")
                        }
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt: the call through the dispatcher, as the runtime; a
    /// streamed reply is read to its end.
    async fn attempt(&self, call: &DueCall) -> Result<(), Status> {
        let Some(dispatch) = self.dispatch.get().and_then(|weak| weak.upgrade()) else {
            return Err(Status::unavailable("the service is shutting down"));
        };
        let mut metadata = Metadata::default();
        metadata.set_caller(Caller::Runtime);
        if let Some(trace) = &call.trace {
            crate::trace::restore(trace, &mut metadata);
        }
        let reply = dispatch.dispatch(&call.path, call.payload.clone(), metadata);
        let outcome = async move {
            match reply.await? {
                ActionReply::Unary(_) => Ok(()),
                ActionReply::Stream(mut stream) => {
                    while let Some(item) = stream.next().await {
                        item?;
                    }
                    Ok(())
                }
            }
        };
        if call.path.starts_with(crate::workflow::DRIVE_PATH) {
            // A workflow step bounds itself by its own timeout (which may be
            // longer than an attempt's) and extends its claim to match.
            return outcome.await;
        }
        match tokio::time::timeout(ATTEMPT_TIMEOUT, outcome).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Status::new(
                crate::status::Code::DeadlineExceeded,
                format!("{} did not answer within {ATTEMPT_TIMEOUT:?}", call.path),
            )),
        }
    }

    /// Remove a finished call from storage. If that fails the call stays
    /// stored and is delivered again once its claim lapses (at least once).
    pub(super) async fn remove(&self, call: &DueCall) {
        if let Err(error) = self.store.complete(vec![call.key.clone()]).await {
            tracing::warn!(%error, method = %call.path, "cannot remove a delivered call; it will be delivered again");
        }
    }
}
