//! Generates the workflow fixture (`protos/flow.proto`).

fn main() {
    if plinth_codegen::configure()
        .compile_protos(&["protos/flow.proto"], &["protos"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
