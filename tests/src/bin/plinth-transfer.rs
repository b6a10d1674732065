//! Serves the transfer example (wallets and the transfer workflow),
//! configured from the standard `PLINTH_*` settings, for the workflow crash
//! tests.

use transfer::com::example::transfer::api::TransferWorkflowComponent;
use transfer::com::example::wallet::api::WalletEntityComponent;
use transfer::{Transfers, Wallets};

#[tokio::main]
async fn main() {
    let service = plinth::Service::new()
        .with(WalletEntityComponent::new(Wallets))
        .with(TransferWorkflowComponent::new(Transfers::default()));
    if let Err(error) = service.run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
