//! Serves the fixture service with the standard configuration (`PLINTH_*`).

#[tokio::main]
async fn main() {
    if let Err(error) = plinth_tests::fixture::service().run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
