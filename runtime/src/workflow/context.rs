//! What a workflow command handler knows besides its command.

use std::ops::Deref;

use super::record::WorkflowPosition;
use crate::context::CommandContext;

/// The context of a workflow command: everything of a [`CommandContext`]
/// (the workflow id, metadata, caller, timers committed with the effect)
/// and where the workflow is.
#[derive(Debug, Clone)]
pub struct WorkflowContext {
    command: CommandContext,
    position: WorkflowPosition,
}

impl WorkflowContext {
    /// A context for a command to the workflow `command.entity_id()` at
    /// `position` (the runtime builds these; tests may too).
    pub fn new(command: CommandContext, position: WorkflowPosition) -> WorkflowContext {
        WorkflowContext { command, position }
    }

    /// Where the workflow is: not started, running a step, paused, ended.
    pub fn position(&self) -> &WorkflowPosition {
        &self.position
    }
}

impl Deref for WorkflowContext {
    type Target = CommandContext;

    fn deref(&self) -> &CommandContext {
        &self.command
    }
}
