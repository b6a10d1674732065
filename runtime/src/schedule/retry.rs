//! When a failed scheduled call is tried again, and when it is given up.

use std::time::Duration;

use crate::feed::Backoff;
use crate::status::{Code, Status};

/// The longest delay between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Side effects: 0.5 s doubling to 30 s.
const OUTBOX: Backoff = Backoff {
    initial: Duration::from_millis(500),
    max: MAX_DELAY,
    factor: 2.0,
    jitter: 0.0,
};
/// Timers: 3 s doubling to 30 s (as in Kalix).
const TIMER: Backoff = Backoff {
    initial: Duration::from_secs(3),
    max: MAX_DELAY,
    factor: 2.0,
    jitter: 0.0,
};

/// What kind of scheduled call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A side effect from the outbox: delivered at least once, so it is
    /// retried as long as the callee could not answer (unavailable,
    /// overloaded, timed out, aborted); an answer, even an error, is a
    /// delivery and ends it.
    Outbox,
    /// A timer: any failure is retried up to its `max_retries`.
    Timer {
        /// How many failed attempts are retried.
        max_retries: u32,
    },
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Give up.
    GiveUp,
}

/// Whether a failure means the callee did not (or may not have) handled the
/// call, so that it should be sent again.
fn undelivered(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::ResourceExhausted | Code::Aborted | Code::DeadlineExceeded
    )
}

/// What follows the `attempts`-th failed attempt (1 after the first).
pub(crate) fn next(kind: Kind, attempts: u32, status: &Status) -> Next {
    match kind {
        Kind::Outbox if undelivered(status) => Next::RetryAfter(OUTBOX.delay(attempts)),
        Kind::Outbox => Next::GiveUp,
        Kind::Timer { max_retries } if attempts <= max_retries => {
            Next::RetryAfter(TIMER.delay(attempts))
        }
        Kind::Timer { .. } => Next::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_back_off_from_three_to_thirty_seconds() {
        let kind = Kind::Timer { max_retries: 10 };
        let failed = Status::internal("boom");
        let delays: Vec<Next> = (1..=6).map(|n| next(kind, n, &failed)).collect();
        let secs = |s| Next::RetryAfter(Duration::from_secs(s));
        assert_eq!(
            delays,
            [secs(3), secs(6), secs(12), secs(24), secs(30), secs(30)]
        );
    }

    #[test]
    fn a_timer_is_given_up_after_its_retries() {
        let kind = Kind::Timer { max_retries: 2 };
        let failed = Status::not_found("gone");
        assert!(matches!(next(kind, 2, &failed), Next::RetryAfter(_)));
        assert_eq!(next(kind, 3, &failed), Next::GiveUp);
        let never = Kind::Timer { max_retries: 0 };
        assert_eq!(next(never, 1, &failed), Next::GiveUp);
    }

    #[test]
    fn a_side_effect_is_retried_until_the_callee_answers() {
        let unavailable = Status::unavailable("down");
        assert_eq!(
            next(Kind::Outbox, 1, &unavailable),
            Next::RetryAfter(Duration::from_millis(500))
        );
        assert_eq!(
            next(Kind::Outbox, 1_000, &unavailable),
            Next::RetryAfter(MAX_DELAY)
        );
        let answered = Status::invalid_argument("no");
        assert_eq!(next(Kind::Outbox, 1, &answered), Next::GiveUp);
    }
}
