//! Starting a consumer on a storage that several processes may share: alone,
//! one consumer; shared, its slices, each run under its own lease by one live
//! process at a time, spread over the processes by their fair shares.

use std::sync::Arc;
use std::time::Duration;

use super::config::{ConsumerConfig, LeaseConfig, Slice};
use super::handler::FeedHandler;
use super::share::{Membership, Share};
use super::{ConsumerHandle, FeedResult};
use crate::storage::{FeedSource, OffsetStore};

/// How the consumers of a process share their work with the other processes
/// on the same storage.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// This process's membership, which sets its fair share.
    pub membership: Arc<Membership>,
    /// Into how many slices each consumer is split.
    pub slices: u32,
    /// The ttl of the slices' leases.
    pub ttl: Duration,
}

/// The consumer name of slice `index` of `count`: its offset key and lease.
fn slice_name(name: &str, index: u32, count: u32) -> String {
    format!("{name}/slice-{index}-of-{count}")
}

/// Start the consumer `config`: as it is without `sharing`; with it, as
/// `sharing.slices` consumers (one per slice, each named after its slice).
pub async fn start_group(
    feed: Arc<dyn FeedSource>,
    offsets: Arc<dyn OffsetStore>,
    config: ConsumerConfig,
    handler: Arc<dyn FeedHandler>,
    sharing: Option<&Sharing>,
) -> FeedResult<Vec<ConsumerHandle>> {
    let Some(sharing) = sharing else {
        return Ok(vec![super::start(feed, offsets, config, handler).await?]);
    };
    let count = sharing.slices.max(1);
    let share = Share::new(count, sharing.membership.clone());
    let mut handles = Vec::with_capacity(count as usize);
    for index in 0..count {
        let mut slice = config.clone();
        slice.name = slice_name(&config.name, index, count);
        slice.slice = Some(Slice { index, count });
        let mut lease = LeaseConfig::new(sharing.ttl);
        lease.share = Some(share.clone());
        slice.lease = Some(lease);
        handles.push(super::start(feed.clone(), offsets.clone(), slice, handler.clone()).await?);
    }
    Ok(handles)
}
