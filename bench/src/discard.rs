//! A topic backend that keeps nothing: publishing costs nothing, so a
//! benchmark measures what comes before it.

use std::sync::atomic::{AtomicU64, Ordering};

use plinth::codegen::BoxFuture;
use plinth::eventing::{StoredMessage, TopicMessage, TopicResult, Topics};

/// A topic backend that keeps nothing.
#[derive(Debug, Default)]
pub struct Discard(AtomicU64);

impl Topics for Discard {
    fn publish<'a>(&'a self, _: &'a str, _: TopicMessage) -> BoxFuture<'a, TopicResult<u64>> {
        let position = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        Box::pin(async move { Ok(position) })
    }

    fn read<'a>(
        &'a self,
        _: &'a str,
        _: u64,
        _: usize,
    ) -> BoxFuture<'a, TopicResult<Vec<StoredMessage>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn describe(&self) -> String {
        "discard".to_owned()
    }
}
