//! Generates the fixtures of `protos/`: a workflow (`flow.proto`), a view
//! fed by a topic (`orders.proto`), an action serving raw HTTP bodies
//! (`web.proto`), one taking request streams (`numbers.proto`), and a shop
//! (`shop.proto`) whose direct event stream another service (`catalog.proto`)
//! reads, and an action echoing every kind of field (`kinds.proto`).

fn main() {
    if plinth_codegen::configure()
        .compile_protos(
            &[
                "protos/flow.proto",
                "protos/orders.proto",
                "protos/web.proto",
                "protos/numbers.proto",
                "protos/shop.proto",
                "protos/catalog.proto",
                "protos/relay.proto",
                "protos/kinds.proto",
            ],
            &["protos"],
        )
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
