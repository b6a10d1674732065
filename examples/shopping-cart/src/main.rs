//! Serves the shopping cart over gRPC and HTTP/JSON (`127.0.0.1:9000` unless
//! `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`).

use std::process::ExitCode;

use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;
use shopping_cart::shopping::cart::view::CartSummaryViewComponent;
use shopping_cart::{CartSummaries, ShoppingCart};

fn main() -> ExitCode {
    plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .with(CartSummaryViewComponent::new(CartSummaries))
        .run_blocking()
}
