//! The JSON-kinds fixture (`protos/kinds.proto`): an action echoing a message
//! with every kind of field.

pub use crate::generated::kinds::*;

use plinth::{ActionContext, Status};

/// Echoes its input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl KindsAction for Echo {
    async fn echo(&self, request: Everything, _ctx: ActionContext) -> Result<Everything, Status> {
        Ok(request)
    }
}
