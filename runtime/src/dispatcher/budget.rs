//! How many calls may be in flight: unary calls and streaming calls on
//! separate budgets, so that long-lived watches can never take the slots
//! unary calls need, and neither can grow without bound.
//!
//! At shutdown the streams end first ([`Budgets::end_streams`]): each open
//! stream sends one last `UNAVAILABLE` item (a gRPC status, an NDJSON error
//! line, an SSE `error` event) and closes, so its client knows to reconnect
//! elsewhere and its connection can close within the grace period.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};

use crate::status::Status;

/// The unary and streaming call budgets of a dispatcher.
pub(crate) struct Budgets {
    unary: Arc<Semaphore>,
    max_unary: u32,
    streams: Arc<Semaphore>,
    max_streams: u32,
    ending: watch::Sender<bool>,
}

/// A slot in one of the budgets, held for the length of the call.
pub(crate) type Slot = OwnedSemaphorePermit;

impl Budgets {
    /// Budgets of `max_unary` unary and `max_streams` streaming calls.
    pub(crate) fn new(max_unary: usize, max_streams: usize) -> Budgets {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).max(1);
        let (max_unary, max_streams) = (clamp(max_unary), clamp(max_streams));
        Budgets {
            unary: Arc::new(Semaphore::new(max_unary as usize)),
            max_unary,
            streams: Arc::new(Semaphore::new(max_streams as usize)),
            max_streams,
            ending: watch::channel(false).0,
        }
    }

    /// A slot for a call, streaming or not; refused with `RESOURCE_EXHAUSTED`
    /// (HTTP 503) when its budget is spent and `UNAVAILABLE` when shutting down.
    pub(crate) fn acquire(&self, path: &str, streaming: bool) -> Result<Slot, Status> {
        let budget = if streaming {
            &self.streams
        } else {
            &self.unary
        };
        match budget.clone().try_acquire_owned() {
            Ok(slot) => Ok(slot),
            Err(TryAcquireError::NoPermits) => {
                let what = if streaming { "streams" } else { "calls" };
                tracing::debug!(path, "{what} budget spent; call refused");
                Err(
                    Status::resource_exhausted(format!("too many {what} open; retry later"))
                        .with_http_status(503),
                )
            }
            Err(TryAcquireError::Closed) => {
                Err(Status::unavailable("the service is shutting down"))
            }
        }
    }

    /// The stream, holding `slot` until it is dropped and ending with
    /// `UNAVAILABLE` when the streams are told to end.
    pub(crate) fn bound(
        &self,
        stream: BoxStream<'static, Result<bytes::Bytes, Status>>,
        slot: Slot,
    ) -> BoxStream<'static, Result<bytes::Bytes, Status>> {
        let mut ending = self.ending.subscribe();
        let ended = self.ending.subscribe();
        let until = async move {
            let _ = ending.wait_for(|ending| *ending).await;
        };
        let last = futures::stream::once(async move {
            (*ended.borrow()).then(|| {
                Err(Status::unavailable(
                    "the service is shutting down; reconnect to go on",
                ))
            })
        })
        .filter_map(futures::future::ready);
        stream
            .take_until(until)
            .chain(last)
            .map(move |item| {
                let _slot = &slot;
                item
            })
            .boxed()
    }

    /// End every open stream and refuse new ones.
    pub(crate) fn end_streams(&self) {
        self.streams.close();
        self.ending.send_replace(true);
    }

    /// Wait until no call is in flight or `timeout` passes; returns whether
    /// everything drained. New calls are refused afterwards.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        self.end_streams();
        let unary = self.unary.clone().acquire_many_owned(self.max_unary);
        let drained = tokio::time::timeout(timeout, async {
            let unary = unary.await;
            // The stream budget is closed: wait for its slots to come back.
            while self.streams.available_permits() < self.max_streams as usize {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            unary.is_ok()
        })
        .await
        .unwrap_or(false);
        self.unary.close();
        drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endless() -> BoxStream<'static, Result<bytes::Bytes, Status>> {
        futures::stream::pending().boxed()
    }

    #[test]
    fn streams_and_unary_calls_have_separate_budgets() {
        let budgets = Budgets::new(1, 2);
        let _a = budgets.acquire("/s/Watch", true).unwrap();
        let _b = budgets.acquire("/s/Watch", true).unwrap();
        let refused = budgets.acquire("/s/Watch", true).unwrap_err();
        assert_eq!(refused.code(), crate::status::Code::ResourceExhausted);
        let unary = budgets.acquire("/s/Get", false).unwrap();
        assert!(budgets.acquire("/s/Get", false).is_err());
        drop(unary);
        assert!(budgets.acquire("/s/Get", false).is_ok());
    }

    #[tokio::test]
    async fn a_stream_holds_its_slot_until_dropped() {
        let budgets = Budgets::new(1, 1);
        let slot = budgets.acquire("/s/Watch", true).unwrap();
        let stream = budgets.bound(endless(), slot);
        assert!(budgets.acquire("/s/Watch", true).is_err());
        drop(stream);
        assert!(budgets.acquire("/s/Watch", true).is_ok());
    }

    #[tokio::test]
    async fn ending_streams_sends_unavailable_then_closes() {
        let budgets = Budgets::new(1, 1);
        let slot = budgets.acquire("/s/Watch", true).unwrap();
        let mut stream = budgets.bound(endless(), slot);
        budgets.end_streams();
        let last = stream.next().await.expect("a last item").unwrap_err();
        assert_eq!(last.code(), crate::status::Code::Unavailable);
        assert!(stream.next().await.is_none());
        let refused = budgets.acquire("/s/Watch", true).unwrap_err();
        assert_eq!(refused.code(), crate::status::Code::Unavailable);
    }

    #[tokio::test]
    async fn a_stream_that_ends_by_itself_sends_nothing_more() {
        let budgets = Budgets::new(1, 1);
        let slot = budgets.acquire("/s/Watch", true).unwrap();
        let items = futures::stream::iter([Ok(bytes::Bytes::from_static(b"x"))]).boxed();
        let all: Vec<_> = budgets.bound(items, slot).collect().await;
        assert_eq!(all.len(), 1);
        assert!(all[0].is_ok());
    }

    #[tokio::test]
    async fn drain_waits_for_unary_calls_and_ends_streams() {
        let budgets = Arc::new(Budgets::new(2, 2));
        let call = budgets.acquire("/s/Get", false).unwrap();
        let slot = budgets.acquire("/s/Watch", true).unwrap();
        let stream = budgets.bound(endless(), slot);
        let drained = tokio::spawn({
            let budgets = budgets.clone();
            async move { budgets.drain(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!drained.is_finished(), "a unary call is still in flight");
        drop(call);
        drop(stream);
        assert!(drained.await.unwrap());
        assert!(budgets.acquire("/s/Get", false).is_err());
    }
}
