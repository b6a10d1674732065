//! Startup triggers: action methods marked `trigger = { on: STARTUP }` are
//! called by the runtime once each time a process of the service starts,
//! with an empty input and the runtime as the caller.
//!
//! A failing call is retried with exponential backoff (0.5 s doubling to
//! 30 s) up to the method's `max_retries`, then given up with an error line
//! naming the method. Calls run beside serving, so a slow or failing trigger
//! never holds the port closed; they stop at shutdown.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::component::adapter::ActionReply;
use crate::context::{Caller, Metadata};
use crate::dispatch::SharedDispatch;

const MAX_DELAY: Duration = Duration::from_secs(30);
/// 0.5 s doubling to 30 s.
const BACKOFF: crate::feed::Backoff = crate::feed::Backoff {
    initial: Duration::from_millis(500),
    max: MAX_DELAY,
    factor: 2.0,
    jitter: 0.0,
};

/// The delay before retry `attempt` (0 for the first retry).
fn backoff(attempt: u32) -> Duration {
    BACKOFF.delay(attempt.saturating_add(1))
}

/// Start calling every triggered method of the service's components; the
/// tasks end when their calls succeed or give up.
pub(crate) fn start(dispatch: &SharedDispatch) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for component in dispatch.components() {
        for method in component.methods {
            let Some(trigger) = method.trigger else {
                continue;
            };
            let dispatch = dispatch.clone();
            let path = method.path;
            tasks.push(tokio::spawn(async move {
                run(dispatch, path, trigger.max_retries).await;
            }));
        }
    }
    tasks
}

/// Call `path` until it succeeds or has failed `1 + max_retries` times.
async fn run(dispatch: SharedDispatch, path: &'static str, max_retries: u32) {
    let mut attempt = 0;
    loop {
        let mut metadata = Metadata::default();
        metadata.set_caller(Caller::Runtime);
        let outcome = match dispatch.dispatch(path, Bytes::new(), metadata).await {
            Ok(ActionReply::Unary(_)) => Ok(()),
            Ok(ActionReply::Stream(stream)) => {
                // Drained so that the call runs to its end.
                let failed = stream.filter_map(|item| async move { item.err() });
                match Box::pin(failed).next().await {
                    Some(status) => Err(status),
                    None => Ok(()),
                }
            }
            Err(status) => Err(status),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(method = path, attempts = attempt + 1, "startup trigger ran");
                return;
            }
            Err(status) if attempt >= max_retries => {
                tracing::error!(
                    method = path,
                    attempts = attempt + 1,
                    %status,
                    "startup trigger failed; giving up"
                );
                return;
            }
            Err(status) => {
                let delay = backoff(attempt);
                tracing::warn!(method = path, attempt = attempt + 1, %status, retry_in_ms = delay.as_millis() as u64, "startup trigger failed; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_half_a_second_to_thirty() {
        let delays: Vec<u128> = (0..8).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(backoff(200), MAX_DELAY);
    }
}
