//! Serves the shopping cart over gRPC and HTTP/JSON (`127.0.0.1:9000` unless
//! `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`).

use std::process::ExitCode;

use shopping_cart::ShoppingCart;
use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;

fn main() -> ExitCode {
    plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .run_blocking()
}
