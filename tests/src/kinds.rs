//! The JSON-kinds fixture (`protos/kinds.proto`): an action echoing a message
//! with every kind of field.

pub use crate::generated::kinds::*;

use futures::StreamExt as _;
use plinth::{ActionContext, ReplyStream, Status};

/// Echoes its input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl KindsAction for Echo {
    async fn echo(&self, request: Everything, _ctx: ActionContext) -> Result<Everything, Status> {
        Ok(request)
    }

    async fn echo_thrice(
        &self,
        request: Everything,
        _ctx: ActionContext,
    ) -> Result<ReplyStream<Everything>, Status> {
        Ok(
            futures::stream::iter(vec![Ok(request.clone()), Ok(request.clone()), Ok(request)])
                .boxed(),
        )
    }
}
