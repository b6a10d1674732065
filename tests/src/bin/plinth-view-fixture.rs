//! Serves the shopping cart with its cart-summary view, configured from the
//! standard `PLINTH_*` settings (the view crash test runs it as a process).

use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;
use shopping_cart::shopping::cart::view::CartSummaryViewComponent;
use shopping_cart::{CartSummaries, ShoppingCart};

#[tokio::main]
async fn main() {
    let service = plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .with(CartSummaryViewComponent::new(CartSummaries));
    if let Err(error) = service.run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
