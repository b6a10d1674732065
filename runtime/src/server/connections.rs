//! The open connections of the port, and what a client may hold with them.
//!
//! Guarantees:
//! - **A cap that never stops accepting.** At most `cap` connections are open.
//!   A new connection over the cap closes the connection that has been idle
//!   longest (nothing in flight) and is served; only when every connection
//!   has a call in flight is the new one refused, and even then the accept
//!   loop goes on.
//! - **Idle connections end.** A connection with nothing in flight for the
//!   idle timeout is closed, whatever protocol it speaks and even before it
//!   has sent a byte.
//! - **Shutdown in two steps.** [`Registry::close_all`] asks every
//!   connection to finish what is in flight and close; [`Registry::abort_all`]
//!   drops the ones still open.
//!
//! A call is in flight from when its request head is read until its response
//! body has been sent or dropped ([`InFlight`]), so an open stream keeps its
//! connection busy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What a connection is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Close {
    /// Keep serving.
    Open,
    /// Finish the calls in flight, then close (HTTP/2 sends GOAWAY).
    Gracefully,
    /// Close at once.
    Now,
}

/// One open connection, as the registry sees it.
#[derive(Debug)]
pub(crate) struct Conn {
    id: u64,
    in_flight: AtomicUsize,
    /// Milliseconds since the registry's epoch when the connection last had
    /// nothing in flight.
    idle_since: AtomicU64,
    close: watch::Sender<Close>,
    epoch: Instant,
}

impl Conn {
    /// Count a call in flight until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { conn: self.clone() }
    }

    /// Changes to what the connection is asked to do.
    pub(crate) fn close_signal(&self) -> watch::Receiver<Close> {
        self.close.subscribe()
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    fn idle_for(&self, now: Instant) -> Duration {
        let since = Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        now.saturating_duration_since(self.epoch + since)
    }

    fn ask(&self, close: Close) {
        self.close.send_if_modified(|current| {
            let raise = close > *current;
            if raise {
                *current = close;
            }
            raise
        });
    }
}

/// A call in flight on a connection; dropping it ends the call.
#[derive(Debug)]
pub(crate) struct InFlight {
    conn: Arc<Conn>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.conn.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = self.conn.epoch.elapsed().as_millis();
            self.conn
                .idle_since
                .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Release);
        }
    }
}

/// Whether a new connection may be served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Under the cap.
    Admitted,
    /// At the cap: the longest-idle connection was asked to close.
    Evicted,
    /// At the cap with every connection busy: refuse the new one.
    Refused,
}

/// The open connections of one listener.
#[derive(Debug)]
pub(crate) struct Registry {
    cap: usize,
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    count: watch::Sender<usize>,
}

impl Registry {
    /// A registry holding at most `cap` connections (at least one).
    pub(crate) fn new(cap: usize) -> Arc<Registry> {
        Arc::new(Registry {
            cap: cap.max(1),
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            count: watch::channel(0).0,
        })
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        *self.count.borrow()
    }

    /// Whether a new connection may be served, making room if needed.
    pub(crate) fn admit(&self) -> Admission {
        if self.len() < self.cap {
            Admission::Admitted
        } else if self.evict_longest_idle() {
            Admission::Evicted
        } else {
            Admission::Refused
        }
    }

    /// Close the connection idle longest; false if every one is busy.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        let now = Instant::now();
        let open = self.lock();
        let longest_idle = open
            .values()
            .filter(|conn| conn.is_idle() && *conn.close.borrow() == Close::Open)
            .max_by_key(|conn| conn.idle_for(now));
        match longest_idle {
            Some(conn) => {
                conn.ask(Close::Now);
                true
            }
            None => false,
        }
    }

    /// Register a new connection; [`Registry::remove`] it when it ends.
    pub(crate) fn register(&self) -> Arc<Conn> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let conn = Arc::new(Conn {
            id,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            close: watch::channel(Close::Open).0,
            epoch: self.epoch,
        });
        let mut open = self.lock();
        open.insert(id, conn.clone());
        self.count.send_replace(open.len());
        conn
    }

    /// Forget a connection that ended.
    pub(crate) fn remove(&self, conn: &Conn) {
        let mut open = self.lock();
        open.remove(&conn.id);
        self.count.send_replace(open.len());
    }

    /// Close every connection idle for at least `timeout`; returns how many.
    pub(crate) fn close_idle(&self, timeout: Duration) -> usize {
        let now = Instant::now();
        let open = self.lock();
        let mut closed = 0;
        for conn in open.values() {
            if conn.is_idle()
                && conn.idle_for(now) >= timeout
                && *conn.close.borrow() == Close::Open
            {
                conn.ask(Close::Now);
                closed += 1;
            }
        }
        closed
    }

    /// Ask every connection to finish its calls and close.
    pub(crate) fn close_all(&self) {
        for conn in self.lock().values() {
            conn.ask(Close::Gracefully);
        }
    }

    /// Close every connection still open at once.
    pub(crate) fn abort_all(&self) {
        for conn in self.lock().values() {
            conn.ask(Close::Now);
        }
    }

    /// Wait until no connection is open.
    pub(crate) async fn closed(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // The map holds no invariant a panicking holder could break.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_the_cap_connections_are_admitted() {
        let registry = Registry::new(2);
        assert_eq!(registry.admit(), Admission::Admitted);
        let _a = registry.register();
        assert_eq!(registry.admit(), Admission::Admitted);
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_is_closed() {
        let registry = Registry::new(2);
        let older = registry.register();
        std::thread::sleep(Duration::from_millis(5));
        let newer = registry.register();
        assert_eq!(registry.admit(), Admission::Evicted);
        assert_eq!(*older.close_signal().borrow(), Close::Now);
        assert_eq!(*newer.close_signal().borrow(), Close::Open);
    }

    #[test]
    fn busy_connections_are_never_evicted() {
        let registry = Registry::new(1);
        let busy = registry.register();
        let call = busy.begin();
        assert_eq!(registry.admit(), Admission::Refused);
        assert_eq!(*busy.close_signal().borrow(), Close::Open);
        drop(call);
        assert_eq!(registry.admit(), Admission::Evicted);
    }

    #[test]
    fn idle_timeout_closes_only_idle_connections() {
        let registry = Registry::new(8);
        let idle = registry.register();
        let busy = registry.register();
        let _call = busy.begin();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(registry.close_idle(Duration::from_millis(10)), 1);
        assert_eq!(*idle.close_signal().borrow(), Close::Now);
        assert_eq!(*busy.close_signal().borrow(), Close::Open);
        assert_eq!(registry.close_idle(Duration::from_secs(60)), 0);
    }

    #[test]
    fn a_graceful_close_can_become_immediate_but_not_back() {
        let registry = Registry::new(8);
        let conn = registry.register();
        registry.close_all();
        assert_eq!(*conn.close_signal().borrow(), Close::Gracefully);
        registry.abort_all();
        assert_eq!(*conn.close_signal().borrow(), Close::Now);
        registry.close_all();
        assert_eq!(*conn.close_signal().borrow(), Close::Now);
    }

    #[tokio::test]
    async fn closed_waits_for_the_last_connection() {
        let registry = Registry::new(8);
        let conn = registry.register();
        let waiter = tokio::spawn({
            let registry = registry.clone();
            async move { registry.closed().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        registry.remove(&conn);
        waiter.await.unwrap();
        assert_eq!(registry.len(), 0);
    }
}
