//! Requests sent together on one connection, in a given order.
//!
//! tokio-postgres sends a request when its future is first polled, and the
//! server runs a connection's requests in the order they arrived; futures
//! polled together therefore go out together (pipelined) and cost one round
//! trip. [`in_order`] polls each future once, in the given order, before it
//! waits for them all, so the requests go out in exactly that order however
//! the waiting polls them afterwards.

use std::pin::Pin;
use std::task::Poll;

use futures::future::{BoxFuture, MaybeDone, join_all, maybe_done, poll_fn};

/// Run `futures` together, their requests sent in order; their outputs, in
/// the same order.
pub(super) async fn in_order<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut futures: Vec<MaybeDone<BoxFuture<'_, T>>> =
        futures.into_iter().map(maybe_done).collect();
    poll_fn(|cx| {
        for future in &mut futures {
            // Pending or done, its request is sent now.
            let _ = Pin::new(future).poll(cx);
        }
        Poll::Ready(())
    })
    .await;
    join_all(futures.iter_mut().map(Pin::new)).await;
    futures
        .iter_mut()
        .filter_map(|future| Pin::new(future).take_output())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn first_polls_follow_the_given_order_and_outputs_keep_it() {
        let polled = Arc::new(Mutex::new(Vec::new()));
        let futures: Vec<BoxFuture<'_, usize>> = (0..100usize)
            .map(|i| {
                let polled = polled.clone();
                Box::pin(async move {
                    polled.lock().unwrap().push(i);
                    // Later ones finish first.
                    tokio::time::sleep(std::time::Duration::from_micros(100 - i as u64)).await;
                    i
                }) as BoxFuture<'_, usize>
            })
            .collect();
        let outputs = in_order(futures).await;
        assert_eq!(outputs, (0..100).collect::<Vec<_>>());
        assert_eq!(*polled.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }
}
