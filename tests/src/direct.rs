//! The direct-stream fixtures: a shop (`protos/shop.proto`) whose item
//! changes form the direct event stream `item_events`, and a catalog
//! (`protos/catalog.proto`) that reads it into an action and a view.

pub use crate::generated::catalog;
pub use crate::generated::shop;
pub use crate::generated::shop::public::ItemPublished;

use std::sync::{Arc, Mutex};

use plinth::{ActionContext, CommandContext, Effect, RowUpdate, Status, UpdateContext};

/// The shop's items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Items;

impl shop::ItemEntity for Items {
    fn put(
        &self,
        _state: &shop::ItemState,
        command: shop::PutItem,
        _ctx: &CommandContext,
    ) -> Effect<shop::ItemState, ()> {
        Effect::update(shop::ItemState {
            item_id: command.item_id,
            name: command.name,
            price_cents: command.price_cents,
        })
        .then_reply(())
    }
}

/// Turns item states into their public messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Publisher;

impl shop::ItemEventsAction for Publisher {
    async fn on_item(
        &self,
        message: shop::ItemState,
        _ctx: ActionContext,
    ) -> Result<ItemPublished, Status> {
        Ok(ItemPublished {
            item_id: message.item_id,
            name: message.name,
            price_cents: message.price_cents,
        })
    }
}

/// What the catalog's follower received: the item and its `ce-subject`.
pub type Received = Arc<Mutex<Vec<(ItemPublished, String)>>>;

/// Notes every published item.
#[derive(Debug, Clone, Default)]
pub struct Follower(pub Received);

impl catalog::ItemFollowerAction for Follower {
    async fn on_item(&self, message: ItemPublished, ctx: ActionContext) -> Result<(), Status> {
        let subject = ctx.event_subject().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push((message, subject));
        Ok(())
    }
}

/// The catalog view's rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogRows;

impl catalog::CatalogView for CatalogRows {
    fn on_item(
        &self,
        _row: Option<&catalog::CatalogRow>,
        input: ItemPublished,
        _ctx: &UpdateContext,
    ) -> Result<RowUpdate<catalog::CatalogRow>, Status> {
        Ok(RowUpdate::Upsert(catalog::CatalogRow {
            item_id: input.item_id,
            name: input.name,
            price_cents: input.price_cents,
        }))
    }
}
