//! Generates the shopping cart's traits and messages from its protos.

fn main() {
    let protos = [
        "proto/shopping/cart/cart_domain.proto",
        "proto/shopping/cart/cart_api.proto",
        "proto/shopping/cart/cart_view.proto",
    ];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
