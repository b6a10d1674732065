//! Sharing a consumer's slices fairly among the live processes of a service.
//!
//! - Membership: each process holds the lease `member/<process>` in the
//!   shared storage, renewed every `ttl / 3`, and counts the members whose
//!   lease is live; a process that dies drops out once its lease expires.
//! - Fair share: a consumer of `n` slices lets a process hold at most
//!   `ceil(n / members)` of them. A process under its share takes free
//!   slices; one over it (because a process joined) gives up its extra
//!   slices, one per renewal, so a new process gets work within a few
//!   seconds. The shares of the live members always add up to at least `n`,
//!   so every slice finds a holder once the dead members' leases expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::storage::OffsetStore;

/// The prefix of the members' leases.
const MEMBER_PREFIX: &str = "member/";

/// This process's membership among the processes on one storage.
pub struct Membership {
    name: String,
    offsets: Option<Arc<dyn OffsetStore>>,
    members: AtomicU32,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("name", &self.name)
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// Join: hold this process's member lease for `ttl`, renew it in the
    /// background and keep the count of live members.
    pub async fn join(offsets: Arc<dyn OffsetStore>, ttl: Duration) -> Arc<Membership> {
        let name = format!("{MEMBER_PREFIX}{}", uuid::Uuid::new_v4());
        let membership = Arc::new(Membership {
            name: name.clone(),
            offsets: Some(offsets.clone()),
            members: AtomicU32::new(1),
            task: std::sync::Mutex::new(None),
        });
        refresh(&membership, offsets.as_ref(), &name, ttl).await;
        let weak = Arc::downgrade(&membership);
        let every = (ttl / 3).max(Duration::from_millis(10));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(membership) = weak.upgrade() else {
                    break;
                };
                refresh(&membership, offsets.as_ref(), &name, ttl).await;
            }
        });
        if let Ok(mut slot) = membership.task.lock() {
            *slot = Some(task);
        }
        membership
    }

    /// A membership of a fixed count, for tests of the share.
    #[cfg(test)]
    fn fixed(members: u32) -> Arc<Membership> {
        Arc::new(Membership {
            name: "member/test".into(),
            offsets: None,
            members: AtomicU32::new(members),
            task: std::sync::Mutex::new(None),
        })
    }

    /// How many processes were live at the last count (at least 1).
    pub fn members(&self) -> u32 {
        self.members.load(Ordering::Relaxed).max(1)
    }

    /// Leave cleanly: stop renewing and release the member lease, so the
    /// other processes count one member less at once.
    pub async fn leave(&self) {
        if let Ok(mut slot) = self.task.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
        if let Some(offsets) = &self.offsets
            && let Err(error) = offsets.release_lease(&self.name, &self.name).await
        {
            tracing::warn!(%error, "cannot release this process's membership");
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.task.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
    }
}

/// Renew the member lease and count the live members; on a storage error the
/// last count stays.
async fn refresh(membership: &Membership, offsets: &dyn OffsetStore, name: &str, ttl: Duration) {
    if let Err(error) = offsets.claim_lease(name, name, ttl).await {
        tracing::warn!(%error, "cannot renew this process's membership");
        return;
    }
    match offsets.count_leases(MEMBER_PREFIX).await {
        Ok(count) => {
            let count = u32::try_from(count).unwrap_or(u32::MAX).max(1);
            membership.members.store(count, Ordering::Relaxed);
        }
        Err(error) => tracing::warn!(%error, "cannot count the live processes"),
    }
}

/// How many of one consumer's slices this process holds, against its fair
/// share.
#[derive(Debug)]
pub struct Share {
    slices: u32,
    held: AtomicU32,
    membership: Arc<Membership>,
}

impl Share {
    /// The share of a consumer split into `slices`.
    pub fn new(slices: u32, membership: Arc<Membership>) -> Arc<Share> {
        Arc::new(Share {
            slices: slices.max(1),
            held: AtomicU32::new(0),
            membership,
        })
    }

    /// The most slices this process should hold.
    fn fair(&self) -> u32 {
        self.slices.div_ceil(self.membership.members())
    }

    /// Count one more slice held, if that stays within the fair share.
    pub(super) fn reserve(&self) -> bool {
        let fair = self.fair();
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < fair).then_some(held + 1)
            })
            .is_ok()
    }

    /// Count one slice less, if more than the fair share is held: `true`
    /// tells the caller to give its slice up.
    pub(super) fn give_up(&self) -> bool {
        let fair = self.fair();
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held > fair).then(|| held - 1)
            })
            .is_ok()
    }

    /// Count one slice less (a reserved slice was not taken, or was let go).
    pub(super) fn unreserve(&self) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_sub(1)
            });
    }

    /// How many slices are held now.
    #[cfg(test)]
    fn held(&self) -> u32 {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alone_a_process_takes_every_slice_and_no_more() {
        let share = Share::new(4, Membership::fixed(1));
        assert!((0..4).all(|_| share.reserve()));
        assert!(!share.reserve());
        assert!(!share.give_up());
        assert_eq!(share.held(), 4);
    }

    #[test]
    fn when_a_process_joins_the_extra_slices_are_given_up() {
        let membership = Membership::fixed(1);
        let share = Share::new(4, membership.clone());
        (0..4).for_each(|_| assert!(share.reserve()));
        membership.members.store(3, Ordering::Relaxed);
        // ceil(4 / 3) = 2: two slices go, the rest stay.
        assert!(share.give_up());
        assert!(share.give_up());
        assert!(!share.give_up());
        assert!(!share.reserve());
        assert_eq!(share.held(), 2);
    }

    #[test]
    fn when_a_process_leaves_the_survivors_may_take_more() {
        let membership = Membership::fixed(2);
        let share = Share::new(4, membership.clone());
        (0..2).for_each(|_| assert!(share.reserve()));
        assert!(!share.reserve());
        membership.members.store(1, Ordering::Relaxed);
        assert!(share.reserve());
        share.unreserve();
        assert_eq!(share.held(), 2);
    }
}
