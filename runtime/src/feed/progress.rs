//! Where a consumer stands in the feed: the read cursor, the records read but
//! not yet done, the low watermark that is safe to store, and when the oldest
//! undelivered record appeared.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

/// The most head observations kept for the age of the oldest undelivered
/// record; beyond it the newest ones are merged (which can only make the age
/// look older, never younger).
const MAX_SAMPLES: usize = 1024;

/// A consumer's position in the feed.
#[derive(Debug)]
pub(super) struct Progress {
    /// Every record of the consumer's types at or below it has been read.
    cursor: u64,
    /// Offsets read and not yet done.
    outstanding: BTreeSet<u64>,
    /// The highest offset done.
    last_done: u64,
    /// `(head, first seen)`: the feed reached `head` at the latest at that
    /// instant; increasing in both.
    samples: VecDeque<(u64, Instant)>,
}

impl Progress {
    /// Start after `offset` (the stored offset).
    pub(super) fn new(offset: u64) -> Progress {
        Progress {
            cursor: offset,
            outstanding: BTreeSet::new(),
            last_done: offset,
            samples: VecDeque::new(),
        }
    }

    /// Where the next read starts (exclusive).
    pub(super) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The highest offset done.
    pub(super) fn last_done(&self) -> u64 {
        self.last_done
    }

    /// How many records were read and are not done.
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// A record was read.
    pub(super) fn read(&mut self, offset: u64) {
        self.outstanding.insert(offset);
        self.cursor = self.cursor.max(offset);
    }

    /// A read found every record up to `head` (the feed head seen before the
    /// read started): positions up to it hold nothing more for this consumer.
    pub(super) fn caught_up(&mut self, head: u64) {
        self.cursor = self.cursor.max(head);
    }

    /// A record was handled (or dropped as a duplicate).
    pub(super) fn done(&mut self, offset: u64) {
        self.outstanding.remove(&offset);
        self.last_done = self.last_done.max(offset);
    }

    /// The low watermark: every record at or below it is done, so storing it
    /// re-delivers after a crash only records not known done.
    pub(super) fn watermark(&self) -> u64 {
        match self.outstanding.first() {
            Some(first) => first - 1,
            None => self.cursor,
        }
    }

    /// The feed head was seen at `head` at `now`.
    pub(super) fn observe_head(&mut self, head: u64, now: Instant) {
        if head <= self.watermark() {
            return;
        }
        let full = self.samples.len() >= MAX_SAMPLES;
        match self.samples.back_mut() {
            Some((last, _)) if head <= *last => {}
            Some((last, _)) if full => *last = head,
            _ => self.samples.push_back((head, now)),
        }
    }

    /// Since when the oldest undelivered record is known to exist, if any.
    pub(super) fn oldest_undelivered_since(&mut self) -> Option<Instant> {
        let watermark = self.watermark();
        while self
            .samples
            .front()
            .is_some_and(|(head, _)| *head <= watermark)
        {
            self.samples.pop_front();
        }
        self.samples.front().map(|(_, since)| *since)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_watermark_stops_below_the_first_record_not_done() {
        let mut progress = Progress::new(10);
        assert_eq!(progress.watermark(), 10);
        for offset in [11, 12, 14, 15] {
            progress.read(offset);
        }
        assert_eq!(progress.watermark(), 10);
        progress.done(12);
        progress.done(14);
        assert_eq!((progress.watermark(), progress.last_done()), (10, 14));
        progress.done(11);
        assert_eq!(progress.watermark(), 14);
        progress.done(15);
        assert_eq!(progress.watermark(), 15);
        // A read that found nothing more up to the head moves past other types.
        progress.caught_up(20);
        assert_eq!((progress.watermark(), progress.cursor()), (20, 20));
    }

    #[test]
    fn the_oldest_undelivered_record_dates_from_when_it_was_seen() {
        let start = Instant::now();
        let later = start + Duration::from_millis(5);
        let mut progress = Progress::new(0);
        progress.observe_head(3, start);
        progress.observe_head(6, later);
        assert_eq!(progress.oldest_undelivered_since(), Some(start));
        for offset in 1..=6 {
            progress.read(offset);
        }
        for offset in 1..=3 {
            progress.done(offset);
        }
        assert_eq!(progress.oldest_undelivered_since(), Some(later));
        for offset in 4..=6 {
            progress.done(offset);
        }
        assert_eq!(progress.oldest_undelivered_since(), None);
        assert_eq!(progress.outstanding(), 0);
    }
}
