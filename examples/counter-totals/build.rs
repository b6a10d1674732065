//! Generates the totals service's traits and messages from its protos.

fn main() {
    let protos = ["proto/totals/totals.proto"];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
