//! Generates the service's traits, messages and clients from its protos.

fn main() {
    let protos = ["proto/{{lib}}/tasks.proto"];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
