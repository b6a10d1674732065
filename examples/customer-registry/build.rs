//! Generates the customer registry's traits and messages from its protos.

fn main() {
    let protos = [
        "proto/customer/domain/customer_domain.proto",
        "proto/customer/api/customer_api.proto",
        "proto/customer/view/customer_view.proto",
    ];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
