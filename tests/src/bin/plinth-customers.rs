//! Serves the customer registry with its views, configured from the standard
//! `PLINTH_*` settings (the front-door limit tests run it as a process).

use customer_registry::CustomerRegistry;
use customer_registry::customer::api::CustomerEntityComponent;
use customer_registry::customer::view::{CustomerByNameView, CustomersByCityView};

#[tokio::main]
async fn main() {
    let service = plinth::Service::new()
        .with(CustomerEntityComponent::new(CustomerRegistry))
        .with(CustomerByNameView)
        .with(CustomersByCityView);
    if let Err(error) = service.run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
