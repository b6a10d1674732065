//! Generates the notes' traits and messages from their proto.

fn main() {
    let protos = ["proto/notes/notes.proto"];
    if plinth_codegen::configure()
        .compile_protos(&protos, &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
