//! A started service: where it listens, its dispatcher and subscriptions,
//! and stopping it.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::dispatch::SharedDispatch;
use crate::feed::{ConsumerStatus, StatusSource};

/// A service serving in the background.
#[must_use = "dropping a RunningService leaves it serving until the runtime stops"]
pub struct RunningService {
    pub(super) local_addr: SocketAddr,
    pub(super) admin_addr: Option<SocketAddr>,
    pub(super) dispatch: SharedDispatch,
    pub(super) subscriptions: Vec<StatusSource>,
    pub(super) stop: oneshot::Sender<()>,
    pub(super) task: JoinHandle<()>,
}

impl std::fmt::Debug for RunningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningService")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl RunningService {
    /// The address the service listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The separate address of the admin surface, if one is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The service's dispatcher, for calling methods in-process.
    pub fn dispatch(&self) -> SharedDispatch {
        self.dispatch.clone()
    }

    /// The progress of each subscription consumer (deliveries, duplicates
    /// dropped, failures, lag).
    pub fn subscriptions(&self) -> Vec<ConsumerStatus> {
        self.subscriptions
            .iter()
            .map(StatusSource::status)
            .collect()
    }

    /// Stop accepting connections, let in-flight calls finish (up to the
    /// configured grace period), send the spans still queued for export,
    /// and return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "server task failed");
        }
        // Spans of the last calls are sent before the service is gone.
        crate::telemetry::flush().await;
    }
}
