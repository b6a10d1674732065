//! The topic-fed view fixture (`protos/orders.proto`): placed orders on the
//! `orders` topic become rows keyed by the message's `ce-subject`; a
//! cancellation deletes the row.

pub use crate::generated::orders::*;

use plinth::{RowUpdate, Status, UpdateContext};

/// The view's update handlers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orders;

impl OrdersByItemView for Orders {
    fn on_placed(
        &self,
        _row: Option<&OrderRow>,
        input: OrderPlaced,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<OrderRow>, Status> {
        if input.quantity <= 0 {
            return Ok(RowUpdate::Ignore);
        }
        Ok(RowUpdate::Upsert(OrderRow {
            order_id: ctx.subject().to_owned(),
            item: input.item,
            quantity: input.quantity,
        }))
    }

    fn on_cancelled(
        &self,
        _row: Option<&OrderRow>,
        _input: OrderCancelled,
        _ctx: &UpdateContext,
    ) -> Result<RowUpdate<OrderRow>, Status> {
        Ok(RowUpdate::Delete)
    }
}
