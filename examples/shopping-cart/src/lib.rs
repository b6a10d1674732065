//! An event-sourced shopping cart: items are added and removed until the cart
//! is checked out. Commands validate and emit events; the state is only ever
//! changed by folding events. A view ([`CartSummaries`]) keeps a summary row
//! per cart, computed from the events.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use std::time::{SystemTime, UNIX_EPOCH};

use plinth::{CommandContext, EventEffect, RowUpdate, Status, UpdateContext};
use shopping::cart::api::{
    AddLineItem, Cart, CheckoutCart, GetShoppingCart, LineItem, RemoveLineItem, ShoppingCartEntity,
    ShoppingCartEntityEffect,
};
use shopping::cart::domain::{self, CartState, CheckedOut, ItemAdded, ItemRemoved};
use shopping::cart::view::{CartSummary, CartSummaryView, SummaryLine};

/// The cart's business rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShoppingCart;

fn checked_out(ctx: &CommandContext) -> Status {
    Status::failed_precondition(format!("cart {} is already checked out", ctx.entity_id()))
}

fn to_api(state: &CartState) -> Cart {
    Cart {
        items: state
            .items
            .iter()
            .map(|item| LineItem {
                product_id: item.product_id.clone(),
                name: item.name.clone(),
                quantity: item.quantity,
            })
            .collect(),
        checked_out: state.checked_out,
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

impl ShoppingCartEntity for ShoppingCart {
    fn add_item(
        &self,
        state: &CartState,
        command: AddLineItem,
        ctx: &CommandContext,
    ) -> ShoppingCartEntityEffect<()> {
        if state.checked_out {
            return EventEffect::error(checked_out(ctx));
        }
        if command.product_id.is_empty() {
            return EventEffect::error(Status::invalid_argument("product_id must not be empty"));
        }
        if command.quantity <= 0 {
            return EventEffect::error(Status::invalid_argument(format!(
                "quantity must be greater than zero, not {}",
                command.quantity
            )));
        }
        let item = domain::LineItem {
            product_id: command.product_id,
            name: command.name,
            quantity: command.quantity,
        };
        EventEffect::emit(ItemAdded { item: Some(item) }).then_reply(|_| ())
    }

    fn remove_item(
        &self,
        state: &CartState,
        command: RemoveLineItem,
        ctx: &CommandContext,
    ) -> ShoppingCartEntityEffect<()> {
        if state.checked_out {
            return EventEffect::error(checked_out(ctx));
        }
        if !state
            .items
            .iter()
            .any(|item| item.product_id == command.product_id)
        {
            return EventEffect::error(Status::not_found(format!(
                "product {} is not in cart {}",
                command.product_id,
                ctx.entity_id()
            )));
        }
        EventEffect::emit(ItemRemoved {
            product_id: command.product_id,
        })
        .then_reply(|_| ())
    }

    fn checkout(
        &self,
        state: &CartState,
        _command: CheckoutCart,
        ctx: &CommandContext,
    ) -> ShoppingCartEntityEffect<()> {
        if state.checked_out {
            return EventEffect::error(checked_out(ctx));
        }
        if state.items.is_empty() {
            return EventEffect::error(Status::failed_precondition(
                "an empty cart cannot be checked out",
            ));
        }
        EventEffect::emit(CheckedOut {
            checked_out_at_millis: now_millis(),
        })
        .then_reply(|_| ())
    }

    fn get_cart(
        &self,
        state: &CartState,
        _command: GetShoppingCart,
        _ctx: &CommandContext,
    ) -> ShoppingCartEntityEffect<Cart> {
        EventEffect::reply(to_api(state))
    }

    fn apply_item_added(&self, state: &mut CartState, event: &ItemAdded) {
        let Some(added) = &event.item else { return };
        match state
            .items
            .iter_mut()
            .find(|item| item.product_id == added.product_id)
        {
            Some(item) => item.quantity += added.quantity,
            None => state.items.push(added.clone()),
        }
    }

    fn apply_item_removed(&self, state: &mut CartState, event: &ItemRemoved) {
        state
            .items
            .retain(|item| item.product_id != event.product_id);
    }

    fn apply_checked_out(&self, state: &mut CartState, _event: &CheckedOut) {
        state.checked_out = true;
    }
}

/// Computes the cart summaries of the `CartSummaryView` from cart events.
#[derive(Debug, Clone, Copy, Default)]
pub struct CartSummaries;

/// The summary row of a cart before its first event.
fn summary_of(row: Option<&CartSummary>, ctx: &UpdateContext) -> CartSummary {
    row.cloned().unwrap_or_else(|| CartSummary {
        cart_id: ctx.subject().to_string(),
        ..CartSummary::default()
    })
}

/// Recompute the derived fields of a summary from its lines.
fn totals(mut summary: CartSummary) -> CartSummary {
    summary.product_ids = summary.lines.iter().map(|l| l.product_id.clone()).collect();
    summary.total_quantity = summary.lines.iter().map(|l| l.quantity).sum();
    summary
}

impl CartSummaryView for CartSummaries {
    fn on_item_added(
        &self,
        row: Option<&CartSummary>,
        input: ItemAdded,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        let Some(added) = input.item else {
            return Ok(RowUpdate::Ignore);
        };
        let mut summary = summary_of(row, ctx);
        match summary
            .lines
            .iter_mut()
            .find(|l| l.product_id == added.product_id)
        {
            Some(line) => line.quantity += added.quantity,
            None => summary.lines.push(SummaryLine {
                product_id: added.product_id,
                quantity: added.quantity,
            }),
        }
        Ok(RowUpdate::Upsert(totals(summary)))
    }

    fn on_item_removed(
        &self,
        row: Option<&CartSummary>,
        input: ItemRemoved,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        let mut summary = summary_of(row, ctx);
        summary.lines.retain(|l| l.product_id != input.product_id);
        Ok(RowUpdate::Upsert(totals(summary)))
    }

    fn on_checked_out(
        &self,
        row: Option<&CartSummary>,
        _input: CheckedOut,
        ctx: &UpdateContext,
    ) -> Result<RowUpdate<CartSummary>, Status> {
        let mut summary = summary_of(row, ctx);
        summary.checked_out = true;
        Ok(RowUpdate::Upsert(summary))
    }
}

#[cfg(test)]
mod tests {
    use plinth::Code;

    use super::shopping::cart::api::{SHOPPING_CART_ENTITY_INFO, ShoppingCartEntityTestKit};
    use super::shopping::cart::view::CartSummaryViewTestKit;
    use super::*;

    fn add(product: &str, quantity: i32) -> AddLineItem {
        AddLineItem {
            cart_id: "cart-1".into(),
            product_id: product.into(),
            name: product.to_uppercase(),
            quantity,
        }
    }

    fn remove(product: &str) -> RemoveLineItem {
        RemoveLineItem {
            cart_id: "cart-1".into(),
            product_id: product.into(),
        }
    }

    fn get() -> GetShoppingCart {
        GetShoppingCart {
            cart_id: "cart-1".into(),
        }
    }

    fn checkout() -> CheckoutCart {
        CheckoutCart {
            cart_id: "cart-1".into(),
        }
    }

    #[test]
    fn adding_an_item_emits_item_added() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        let mut result = cart.add_item(add("apple", 2));
        let added = result.next_event::<ItemAdded>().item.expect("an item");
        assert_eq!((added.product_id.as_str(), added.quantity), ("apple", 2));
        assert_eq!(result.state().items.len(), 1);
    }

    #[test]
    fn adding_items_accumulates_quantities() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        cart.add_item(add("apple", 2));
        cart.add_item(add("pear", 1));
        cart.add_item(add("apple", 3));
        assert_eq!(cart.all_events().len(), 3);
        let reply = cart.get_cart(get()).into_reply();
        assert_eq!(reply.items.len(), 2);
        assert_eq!(
            (reply.items[0].product_id.as_str(), reply.items[0].quantity),
            ("apple", 5)
        );
        assert_eq!(reply.items[1].name, "PEAR");
    }

    #[test]
    fn quantities_must_be_positive() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        for quantity in [0, -4] {
            let result = cart.add_item(add("apple", quantity));
            assert_eq!(result.error().code(), Code::InvalidArgument);
            assert!(!result.did_emit_events());
        }
        assert!(cart.all_events().is_empty());
    }

    #[test]
    fn removing_needs_the_item() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        cart.add_item(add("apple", 1));
        assert_eq!(
            cart.remove_item(remove("pear")).error().code(),
            Code::NotFound
        );
        let mut removed = cart.remove_item(remove("apple"));
        assert_eq!(removed.next_event::<ItemRemoved>().product_id, "apple");
        assert!(cart.state().items.is_empty());
    }

    #[test]
    fn a_checked_out_cart_cannot_change() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        let empty = cart.checkout(checkout());
        assert_eq!(empty.error().code(), Code::FailedPrecondition);

        cart.add_item(add("apple", 1));
        cart.checkout(checkout()).next_event::<CheckedOut>();
        assert!(cart.state().checked_out);

        assert_eq!(
            cart.add_item(add("pear", 1)).error().code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            cart.checkout(checkout()).error().code(),
            Code::FailedPrecondition
        );
        assert_eq!(cart.state().items.len(), 1);
    }

    #[test]
    fn a_restart_rebuilds_the_same_cart_from_its_events() {
        let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
        cart.given(vec![
            ItemAdded {
                item: Some(domain::LineItem {
                    product_id: "apple".into(),
                    name: "APPLE".into(),
                    quantity: 4,
                }),
            }
            .into(),
        ]);
        cart.remove_item(remove("apple"));
        cart.add_item(add("pear", 2));
        assert_eq!(&cart.recovered_state(), cart.state());
        assert_eq!(cart.state().items[0].product_id, "pear");
    }

    #[test]
    fn the_summary_view_follows_the_cart() {
        let mut view = CartSummaryViewTestKit::of(CartSummaries);
        let line = |product: &str, quantity| domain::LineItem {
            product_id: product.into(),
            name: product.to_uppercase(),
            quantity,
        };
        view.on_item_added(
            "cart-1",
            ItemAdded {
                item: Some(line("apple", 2)),
            },
        );
        let row = view
            .on_item_added(
                "cart-1",
                ItemAdded {
                    item: Some(line("pear", 1)),
                },
            )
            .row()
            .cloned()
            .expect("a row");
        assert_eq!(row.total_quantity, 3);
        view.on_item_removed(
            "cart-1",
            ItemRemoved {
                product_id: "apple".into(),
            },
        );
        let row = view.row("cart-1").expect("a row");
        assert_eq!(row.total_quantity, 1);
        assert!(view.row("cart-2").is_none());
    }

    #[test]
    fn the_read_has_an_additional_binding_for_the_items() {
        let (_, get) = SHOPPING_CART_ENTITY_INFO
            .method_by_path("/shopping.cart.api.ShoppingCartService/GetCart")
            .unwrap();
        assert_eq!(get.http.len(), 2);
        assert_eq!(get.http[0].template.source, "/carts/{cart_id}");
        assert_eq!(get.http[1].response_body, Some("items"));
        let (_, checkout) = SHOPPING_CART_ENTITY_INFO
            .method_by_path("/shopping.cart.api.ShoppingCartService/Checkout")
            .unwrap();
        assert_eq!(checkout.http[0].template.verb, Some("checkout"));
    }
}
