//! Serves the wallets and transfers over gRPC and HTTP/JSON (`127.0.0.1:9000`
//! unless `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`).
//!
//! `TRANSFER_ACCEPTANCE_TIMEOUT_MS` sets how long a large transfer waits
//! for acceptance (default one hour).

use std::process::ExitCode;
use std::time::Duration;

use transfer::com::example::transfer::api::TransferWorkflowComponent;
use transfer::com::example::wallet::api::WalletEntityComponent;
use transfer::{Transfers, Wallets};

fn main() -> ExitCode {
    let mut transfers = Transfers::default();
    if let Some(ms) = std::env::var("TRANSFER_ACCEPTANCE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        transfers.acceptance_timeout = Duration::from_millis(ms);
    }
    plinth::Service::new()
        .with(WalletEntityComponent::new(Wallets))
        .with(TransferWorkflowComponent::new(transfers))
        .run_blocking()
}
