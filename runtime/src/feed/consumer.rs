//! The consumer task: reads the feed after its offset, hands records to the
//! scheduler's jobs, retries failures, stores its low watermark, and stops
//! cleanly on request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::config::ConsumerConfig;
use super::handler::FeedHandler;
use super::job::{self, Report};
use super::progress::Progress;
use super::sched::Scheduler;
use super::status::{ConsumerStatus, StatusCell, StatusSource};
use super::{FeedError, FeedResult};
use crate::storage::{FeedSource, OffsetStore, StorageError, StorageResult};

/// A running consumer. [`ConsumerHandle::shutdown`] stops it cleanly;
/// dropping the handle aborts it at once without storing its offset (like a
/// crash: the records not stored are delivered again by the next start).
#[derive(Debug)]
pub struct ConsumerHandle {
    status: Arc<StatusCell>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<FeedResult<()>>>,
}

impl ConsumerHandle {
    /// A snapshot of the consumer's progress.
    pub fn status(&self) -> ConsumerStatus {
        self.status.snapshot()
    }

    /// A cloneable source of status snapshots, for status endpoints.
    pub fn status_source(&self) -> StatusSource {
        StatusSource(self.status.clone())
    }

    /// Stop reading, let the running handler calls finish, store the offset,
    /// and end the task. Returns the error that stopped the consumer, if one
    /// did.
    pub async fn shutdown(mut self) -> FeedResult<()> {
        // An error means the task already ended; its outcome is below.
        let _ = self.stop.send(true);
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|err| FeedError::Stopped(err.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for ConsumerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.status.running.store(false, Ordering::Relaxed);
        }
    }
}

/// Start a consumer: it resumes after its stored offset (0, the start of the
/// feed, the first time) and runs until shut down.
pub async fn start(
    feed: Arc<dyn FeedSource>,
    offsets: Arc<dyn OffsetStore>,
    config: ConsumerConfig,
    handler: Arc<dyn FeedHandler>,
) -> FeedResult<ConsumerHandle> {
    config.validate()?;
    let offset = offsets.load_offset(&config.name).await?;
    let head = feed.feed_watch();
    let status = Arc::new(StatusCell::new(&config.name, offset, head.clone()));
    let (stop, stopped) = watch::channel(false);
    let lease = config.lease.clone();
    let parts = Parts {
        feed,
        offsets,
        config,
        handler,
        status: status.clone(),
    };
    let task = match lease {
        None => tokio::spawn(parts.runner(offset).run(stopped)),
        Some(lease) => {
            // Standing by until the lease is taken.
            status.running.store(false, Ordering::Relaxed);
            tokio::spawn(super::lease::supervise(parts, lease, stopped))
        }
    };
    Ok(ConsumerHandle {
        status,
        stop,
        task: Some(task),
    })
}

/// What a consumer runs with; a [`Runner`] is made of it each time the
/// consumer (re)starts reading.
pub(super) struct Parts {
    pub(super) feed: Arc<dyn FeedSource>,
    pub(super) offsets: Arc<dyn OffsetStore>,
    pub(super) config: ConsumerConfig,
    pub(super) handler: Arc<dyn FeedHandler>,
    pub(super) status: Arc<StatusCell>,
}

impl Parts {
    /// A runner that resumes after `offset`.
    pub(super) fn runner(&self, offset: u64) -> Runner {
        self.status.stored.store(offset, Ordering::Relaxed);
        self.status.running.store(true, Ordering::Relaxed);
        Runner {
            name: Arc::from(self.config.name.as_str()),
            feed: self.feed.clone(),
            offsets: self.offsets.clone(),
            handler: self.handler.clone(),
            progress: Progress::new(offset),
            sched: Scheduler::new(self.config.dedup_capacity),
            config: self.config.clone(),
            status: self.status.clone(),
            jobs: JoinSet::new(),
            head: self.feed.feed_watch(),
            stored: offset,
            done_since_store: 0,
            last_store: Instant::now(),
            storing: None,
            more: true,
            last_poll: Instant::now(),
            read_failures: 0,
            read_again_at: None,
        }
    }
}

/// An offset being stored: the offset and the write.
type Storing = Pin<Box<dyn Future<Output = (u64, StorageResult<()>)> + Send>>;

/// The consumer task's state.
pub(super) struct Runner {
    name: Arc<str>,
    feed: Arc<dyn FeedSource>,
    offsets: Arc<dyn OffsetStore>,
    handler: Arc<dyn FeedHandler>,
    config: ConsumerConfig,
    progress: Progress,
    sched: Scheduler,
    status: Arc<StatusCell>,
    jobs: JoinSet<Report>,
    /// Commit notifications; `None` when the backend has none or stopped.
    head: Option<watch::Receiver<u64>>,
    stored: u64,
    done_since_store: usize,
    last_store: Instant,
    storing: Option<Storing>,
    /// Whether the feed may hold records not read yet.
    more: bool,
    last_poll: Instant,
    read_failures: u32,
    read_again_at: Option<Instant>,
}

impl Runner {
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) -> FeedResult<()> {
        let mut outcome = Ok(());
        let mut stopping = false;
        loop {
            let now = Instant::now();
            if !stopping && let Err(err) = self.read(now).await {
                // The storage is gone: nothing more to read or store.
                outcome = Err(FeedError::Storage(err));
                stopping = true;
            }
            let next_retry = self.sched.due_retries(now);
            if !stopping {
                self.dispatch();
            }
            self.maybe_store(now);
            self.publish();
            if stopping && self.jobs.is_empty() {
                break;
            }
            let wake = self.next_wake(now, next_retry);
            let storing = async {
                match self.storing.as_mut() {
                    Some(storing) => Some(storing.await),
                    None => std::future::pending().await,
                }
            };
            let head_changed = async {
                match self.head.as_mut() {
                    Some(head) if !stopping => head.changed().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(joined) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok(report) = joined {
                        self.complete(report);
                    }
                    // A job cannot panic (handler panics are caught); an
                    // aborted job only happens when this task is aborted.
                }
                stored = storing => {
                    self.storing = None;
                    if let Some((offset, result)) = stored {
                        self.stored_offset(offset, result);
                    }
                }
                changed = head_changed => {
                    match (changed, self.head.as_ref()) {
                        (Ok(()), Some(head)) => {
                            let head = *head.borrow();
                            self.progress.observe_head(head, Instant::now());
                        }
                        // The storage stopped notifying: poll from now on.
                        _ => self.head = None,
                    }
                    self.more = true;
                }
                _ = stop.changed(), if !stopping => stopping = true,
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        self.finish().await;
        outcome
    }

    /// Read the next records when there may be some and room for them.
    async fn read(&mut self, now: Instant) -> StorageResult<()> {
        // The fallback poll: look even without a notification.
        let polled = now.duration_since(self.last_poll) >= self.config.poll_interval;
        if polled {
            self.more = true;
            self.last_poll = now;
        }
        if self.read_again_at.is_some_and(|at| at > now) {
            return Ok(());
        }
        self.read_again_at = None;
        let room = self
            .config
            .max_buffered
            .saturating_sub(self.sched.buffered());
        if !self.more || room == 0 {
            // With a full buffer, a finished job wakes the loop.
            return Ok(());
        }
        let head = self.head.as_mut().map(|head| *head.borrow_and_update());
        let after = self.progress.cursor();
        if let Some(head) = head {
            self.progress.observe_head(head, now);
            self.status.seen_head.fetch_max(head, Ordering::Relaxed);
            if head <= after && !polled {
                self.more = false;
                return Ok(());
            }
        }
        let limit = room.min(self.config.read_batch);
        let records = match self
            .feed
            .read_feed(after, &self.config.type_ids, limit)
            .await
        {
            Ok(records) => records,
            Err(StorageError::Closed) => return Err(StorageError::Closed),
            Err(err) => {
                self.read_failures = self.read_failures.saturating_add(1);
                let delay = self.config.backoff.delay(self.read_failures);
                tracing::warn!(
                    consumer = %self.name, error = %err, retry_in_ms = delay.as_millis() as u64,
                    "cannot read the change feed"
                );
                self.read_again_at = Some(now + delay);
                return Ok(());
            }
        };
        self.read_failures = 0;
        self.read_again_at = None;
        let full = records.len() >= limit;
        if head.is_none()
            && let Some(last) = records.last()
        {
            self.progress.observe_head(last.offset, now);
            self.status
                .seen_head
                .fetch_max(last.offset, Ordering::Relaxed);
        }
        for record in records {
            self.progress.read(record.offset);
            match self.config.slice {
                // Another slice's record: nothing to do here.
                Some(slice) if !slice.contains(&record.type_id, &record.entity_id) => {
                    self.progress.done(record.offset);
                }
                _ => self.sched.push(record),
            }
        }
        if !full && let Some(head) = head {
            self.progress.caught_up(head);
        }
        self.more = full;
        Ok(())
    }

    /// Start jobs while slots are free.
    fn dispatch(&mut self) {
        while self.jobs.len() < self.config.concurrency {
            let Some(job) = self
                .sched
                .next_job(self.config.delivery, self.config.max_batch)
            else {
                break;
            };
            let handler = self.handler.clone();
            self.jobs
                .spawn(job::run(handler, self.config.delivery, job));
        }
    }

    /// Take a finished job's outcome.
    fn complete(&mut self, report: Report) {
        let failed = report.error.as_ref().map(|err| {
            (
                err.to_string(),
                report.job.records.get(report.done).cloned(),
            )
        });
        let several = report.job.entities.len() > 1;
        let backoff = self.config.backoff;
        let completion = self
            .sched
            .complete(report, Instant::now(), |attempt| backoff.delay(attempt));
        for record in &completion.done {
            self.progress.done(record.offset);
        }
        self.done_since_store += completion.done.len();
        let handled = (completion.done.len() - completion.duplicates) as u64;
        self.status.delivered.fetch_add(handled, Ordering::Relaxed);
        let duplicates = completion.duplicates as u64;
        self.status
            .duplicates
            .fetch_add(duplicates, Ordering::Relaxed);
        if let Some((error, record)) = failed {
            self.status.failures.fetch_add(1, Ordering::Relaxed);
            let (type_id, entity_id, seq, offset) = record
                .map(|r| (r.type_id, r.entity_id, r.seq, r.offset))
                .unwrap_or_default();
            match completion.retry {
                Some((attempt, delay)) => tracing::warn!(
                    consumer = %self.name, type_id, entity_id, seq, offset, attempt,
                    retry_in_ms = delay.as_millis() as u64, error,
                    "feed handler failed; retrying the record, later records of the entity wait"
                ),
                None if several => tracing::warn!(
                    consumer = %self.name, type_id, entity_id, seq, offset, error,
                    "feed batch failed; retrying its entities one by one"
                ),
                None => {}
            }
        }
    }

    /// Start storing the watermark when enough records or time passed.
    fn maybe_store(&mut self, now: Instant) {
        let watermark = self.progress.watermark();
        let due = self.done_since_store >= self.config.store_every
            || now.duration_since(self.last_store) >= self.config.store_interval;
        if self.storing.is_some() || watermark <= self.stored || !due {
            return;
        }
        self.done_since_store = 0;
        self.last_store = now;
        let (offsets, name) = (self.offsets.clone(), self.name.clone());
        self.storing = Some(Box::pin(async move {
            let result = offsets.store_offset(&name, watermark).await;
            (watermark, result)
        }));
    }

    /// Take the outcome of storing `offset`.
    fn stored_offset(&mut self, offset: u64, result: StorageResult<()>) {
        match result {
            Ok(()) => {
                self.stored = self.stored.max(offset);
                self.status.stored.store(self.stored, Ordering::Relaxed);
            }
            Err(err) => tracing::warn!(
                consumer = %self.name, offset, error = %err,
                "cannot store the consumer offset; trying again later"
            ),
        }
    }

    /// When the loop must look again without being woken.
    fn next_wake(&self, now: Instant, next_retry: Option<Instant>) -> Instant {
        let mut wake = self.last_poll + self.config.poll_interval;
        if self.storing.is_none() && self.progress.watermark() > self.stored {
            wake = wake.min(self.last_store + self.config.store_interval);
        }
        for at in [next_retry, self.read_again_at].into_iter().flatten() {
            wake = wake.min(at);
        }
        wake.max(now)
    }

    /// Copy the progress into the status counters.
    fn publish(&mut self) {
        let status = &self.status;
        status
            .watermark
            .store(self.progress.watermark(), Ordering::Relaxed);
        status
            .last_done
            .store(self.progress.last_done(), Ordering::Relaxed);
        status
            .cursor
            .store(self.progress.cursor(), Ordering::Relaxed);
        let outstanding = self.progress.outstanding() as u64;
        status.outstanding.store(outstanding, Ordering::Relaxed);
        let retrying = self.sched.retrying() as u64;
        status.retrying.store(retrying, Ordering::Relaxed);
        let in_flight = self.jobs.len() as u64;
        status.in_flight.store(in_flight, Ordering::Relaxed);
        status.set_pending_since(self.progress.oldest_undelivered_since());
    }

    /// Store the final watermark once the running jobs are done.
    async fn finish(&mut self) {
        if let Some(storing) = self.storing.take() {
            let (offset, result) = storing.await;
            self.stored_offset(offset, result);
        }
        let watermark = self.progress.watermark();
        if watermark > self.stored {
            let result = self.offsets.store_offset(&self.name, watermark).await;
            self.stored_offset(watermark, result);
        }
        self.publish();
        self.status.running.store(false, Ordering::Relaxed);
    }
}
