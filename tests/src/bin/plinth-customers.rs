//! Serves the customer registry with its views, configured from the standard
//! `PLINTH_*` settings (the front-door limit tests run it as a process).

#[tokio::main]
async fn main() {
    if let Err(error) = customer_registry::service().run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
