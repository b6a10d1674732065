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
    use plinth::codegen::{EventSet, EventSourcedAdapter};

    use super::shopping::cart::api::{
        SHOPPING_CART_ENTITY_INFO, ShoppingCartEntityComponent, ShoppingCartEntityEvent,
    };
    use super::*;

    fn ctx() -> CommandContext {
        CommandContext::new("cart-1")
    }

    fn add(product: &str, quantity: i32) -> AddLineItem {
        AddLineItem {
            cart_id: "cart-1".into(),
            product_id: product.into(),
            name: product.to_uppercase(),
            quantity,
        }
    }

    /// Run a command and fold its events into `state`, as the runtime does.
    fn run(
        state: &mut CartState,
        command: impl FnOnce(&CartState) -> ShoppingCartEntityEffect<()>,
    ) -> Result<(), Status> {
        let effect = command(state);
        if let Some(status) = effect.error_status() {
            return Err(status.clone());
        }
        for event in effect.events() {
            ShoppingCartEntityComponent::new(ShoppingCart).apply(state, event);
        }
        Ok(())
    }

    #[test]
    fn adding_items_accumulates_quantities() {
        let mut state = CartState::default();
        run(&mut state, |s| {
            ShoppingCart.add_item(s, add("apple", 2), &ctx())
        })
        .unwrap();
        run(&mut state, |s| {
            ShoppingCart.add_item(s, add("pear", 1), &ctx())
        })
        .unwrap();
        run(&mut state, |s| {
            ShoppingCart.add_item(s, add("apple", 3), &ctx())
        })
        .unwrap();
        let cart = ShoppingCart
            .get_cart(
                &state,
                GetShoppingCart {
                    cart_id: "cart-1".into(),
                },
                &ctx(),
            )
            .reply_for(&state);
        let cart = cart.expect("reply");
        assert_eq!(cart.items.len(), 2);
        assert_eq!(
            (cart.items[0].product_id.as_str(), cart.items[0].quantity),
            ("apple", 5)
        );
        assert_eq!(cart.items[1].name, "PEAR");
    }

    #[test]
    fn quantities_must_be_positive() {
        let state = CartState::default();
        for quantity in [0, -4] {
            let effect = ShoppingCart.add_item(&state, add("apple", quantity), &ctx());
            assert_eq!(
                effect.error_status().map(Status::code),
                Some(Code::InvalidArgument)
            );
            assert!(effect.events().is_empty());
        }
    }

    #[test]
    fn removing_needs_the_item() {
        let mut state = CartState::default();
        run(&mut state, |s| {
            ShoppingCart.add_item(s, add("apple", 1), &ctx())
        })
        .unwrap();
        let remove = |product: &str| RemoveLineItem {
            cart_id: "cart-1".into(),
            product_id: product.into(),
        };
        let missing = ShoppingCart.remove_item(&state, remove("pear"), &ctx());
        assert_eq!(
            missing.error_status().map(Status::code),
            Some(Code::NotFound)
        );
        run(&mut state, |s| {
            ShoppingCart.remove_item(s, remove("apple"), &ctx())
        })
        .unwrap();
        assert!(state.items.is_empty());
    }

    #[test]
    fn a_checked_out_cart_cannot_change() {
        let mut state = CartState::default();
        let checkout = CheckoutCart {
            cart_id: "cart-1".into(),
        };
        let empty = ShoppingCart.checkout(&state, checkout.clone(), &ctx());
        assert_eq!(
            empty.error_status().map(Status::code),
            Some(Code::FailedPrecondition)
        );

        run(&mut state, |s| {
            ShoppingCart.add_item(s, add("apple", 1), &ctx())
        })
        .unwrap();
        run(&mut state, |s| {
            ShoppingCart.checkout(s, checkout.clone(), &ctx())
        })
        .unwrap();
        assert!(state.checked_out);

        let error = run(&mut state, |s| {
            ShoppingCart.add_item(s, add("pear", 1), &ctx())
        })
        .unwrap_err();
        assert_eq!(error.code(), Code::FailedPrecondition);
        let again = ShoppingCart.checkout(&state, checkout, &ctx());
        assert_eq!(
            again.error_status().map(Status::code),
            Some(Code::FailedPrecondition)
        );
        assert_eq!(state.items.len(), 1);
    }

    #[test]
    fn events_round_trip_by_type_name() {
        let event = ShoppingCartEntityEvent::from(ItemRemoved {
            product_id: "apple".into(),
        });
        assert_eq!(event.type_name(), "shopping.cart.domain.ItemRemoved");
        let decoded =
            ShoppingCartEntityEvent::decode_payload(event.type_name(), &event.encode_payload())
                .unwrap();
        assert_eq!(decoded, event);
        let unknown =
            ShoppingCartEntityEvent::decode_payload("shopping.cart.domain.Nope", &[]).unwrap_err();
        assert_eq!(unknown.code(), Code::Internal);
        assert_eq!(SHOPPING_CART_ENTITY_INFO.event_types.len(), 3);
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
