//! Generates the wallet's and the transfer's traits and messages from their protos.

fn main() {
    let protos = [
        "proto/com/example/wallet/wallet_api.proto",
        "proto/com/example/transfer/transfer_domain.proto",
        "proto/com/example/transfer/transfer_api.proto",
    ];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
