//! The clock: the one source of wall-clock time for what a service does by
//! the time of day — when timers and workflow timeouts are due, the
//! CloudEvents `ce-time` of published messages, the expiry of bearer tokens
//! and of leases kept in SQLite.
//!
//! A service uses [`SystemClock`] unless it is given another
//! ([`Service::clock`](crate::Service::clock)); tests use a [`ManualClock`]
//! and move it by hand, so that a one-hour timer fires in a millisecond.
//! Elapsed-time limits on real work (a step's timeout, a connection's idle
//! timeout, a request's deadline) bound real waiting and keep to real time.
//! PostgreSQL keeps due times and leases by the database server's clock, so
//! that processes with skewed clocks agree.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

/// A source of wall-clock time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> SystemTime;

    /// Resolves when the clock is moved by hand (never, for a clock that
    /// follows real time), so that what waits for a due time looks again.
    fn moved(&self) -> BoxFuture<'static, ()> {
        Box::pin(futures::future::pending())
    }
}

/// Milliseconds since the Unix epoch by `clock` (0 before it).
pub fn unix_millis(clock: &dyn Clock) -> i64 {
    let since = clock
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The clock a service uses unless told otherwise.
pub(crate) fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that stands still until moved: [`ManualClock::advance`] and
/// [`ManualClock::set`]. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    now: Mutex<SystemTime>,
    moved: tokio::sync::watch::Sender<u64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn at(start: SystemTime) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualInner {
                now: Mutex::new(start),
                moved: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// A clock standing at the machine's time now.
    pub fn new() -> ManualClock {
        ManualClock::at(SystemTime::now())
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.inner.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
        drop(now);
        self.inner.moved.send_modify(|n| *n += 1);
    }

    /// Set the clock to `to` (backwards too).
    pub fn set(&self, to: SystemTime) {
        *self.inner.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
        self.inner.moved.send_modify(|n| *n += 1);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.inner.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn moved(&self) -> BoxFuture<'static, ()> {
        let mut moved = self.inner.moved.subscribe();
        moved.mark_unchanged();
        Box::pin(async move {
            if moved.changed().await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_told_and_says_so() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        assert_eq!(unix_millis(&clock), 1_000_000);
        let moved = clock.moved();
        let shared = clock.clone();
        shared.advance(Duration::from_secs(3600));
        tokio::time::timeout(Duration::from_secs(5), moved)
            .await
            .expect("moving the clock wakes its waiters");
        assert_eq!(clock.now(), start + Duration::from_secs(3600));
        clock.set(start);
        assert_eq!(shared.now(), start);
        // The system clock never reports a move.
        let never = SystemClock.moved();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), never)
                .await
                .is_err()
        );
    }
}
