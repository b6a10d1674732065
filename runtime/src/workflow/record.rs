//! What the runtime stores about a workflow beside its state (the entity's
//! `meta`), and the payload of the scheduled calls that drive it.

use bytes::Bytes;
use prost::Message;

/// Where a workflow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkflowStatus {
    /// No command has moved it yet.
    NotStarted,
    /// A step is running (or due to run, or being retried).
    Running,
    /// Waiting for a command.
    Paused,
    /// Ended: no step runs again.
    Ended,
    /// Ended and its state deleted.
    Deleted,
}

impl WorkflowStatus {
    fn code(self) -> i32 {
        match self {
            WorkflowStatus::NotStarted => 0,
            WorkflowStatus::Running => 1,
            WorkflowStatus::Paused => 2,
            WorkflowStatus::Ended => 3,
            WorkflowStatus::Deleted => 4,
        }
    }

    fn of(code: i32) -> WorkflowStatus {
        match code {
            1 => WorkflowStatus::Running,
            2 => WorkflowStatus::Paused,
            3 => WorkflowStatus::Ended,
            4 => WorkflowStatus::Deleted,
            _ => WorkflowStatus::NotStarted,
        }
    }

    /// The status as a word (`running`, `paused`, ...), for status pages.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::NotStarted => "not_started",
            WorkflowStatus::Running => "running",
            WorkflowStatus::Paused => "paused",
            WorkflowStatus::Ended => "ended",
            WorkflowStatus::Deleted => "deleted",
        }
    }

    /// Whether it ended (or was deleted).
    pub fn is_finished(self) -> bool {
        matches!(self, WorkflowStatus::Ended | WorkflowStatus::Deleted)
    }
}

/// Where a workflow is, as its command handlers see it
/// ([`WorkflowContext::position`](super::WorkflowContext::position)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowPosition {
    /// Its status.
    pub status: WorkflowStatus,
    /// The running step (or the last one that ran, once paused or ended).
    pub step: Option<String>,
    /// Failed attempts of the running step so far.
    pub attempts: u32,
    /// Whether the workflow's timeout fired.
    pub timed_out: bool,
}

/// The stored form (encoded into the entity's `meta`).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Record {
    #[prost(int32, tag = "1")]
    pub(crate) status: i32,
    #[prost(string, tag = "2")]
    pub(crate) step: String,
    #[prost(bytes = "bytes", tag = "3")]
    pub(crate) input: Bytes,
    #[prost(uint32, tag = "4")]
    pub(crate) attempts: u32,
    /// Increases with every move; a scheduled step call carries the token of
    /// the move that scheduled it, and one with an older token is void.
    #[prost(uint64, tag = "5")]
    pub(crate) token: u64,
    #[prost(bool, tag = "6")]
    pub(crate) timed_out: bool,
    /// The retries the running step gets before its failover (`u32::MAX`
    /// with `unlimited`: no recovery, retried until it succeeds).
    #[prost(uint32, tag = "7")]
    pub(crate) max_retries: u32,
    #[prost(bool, tag = "8")]
    pub(crate) unlimited: bool,
}

impl Record {
    pub(crate) fn status(&self) -> WorkflowStatus {
        WorkflowStatus::of(self.status)
    }

    pub(crate) fn set_status(&mut self, status: WorkflowStatus) {
        self.status = status.code();
    }

    pub(crate) fn position(&self) -> WorkflowPosition {
        WorkflowPosition {
            status: self.status(),
            step: (!self.step.is_empty()).then(|| self.step.clone()),
            attempts: self.attempts,
            timed_out: self.timed_out,
        }
    }

    pub(crate) fn decode_meta(meta: Option<&[u8]>) -> Record {
        meta.and_then(|bytes| Record::decode(bytes).ok())
            .unwrap_or_default()
    }
}

/// What a scheduled call driving a workflow says.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Drive {
    #[prost(string, tag = "1")]
    pub(crate) entity_id: String,
    /// The token of the move that scheduled a step; 0 for the workflow timeout.
    #[prost(uint64, tag = "2")]
    pub(crate) token: u64,
    #[prost(bool, tag = "3")]
    pub(crate) timeout: bool,
    /// The key of the scheduled row (to extend its claim for a long step).
    #[prost(string, tag = "4")]
    pub(crate) key: String,
}
