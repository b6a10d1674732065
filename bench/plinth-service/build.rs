//! Generates the benchmark service's traits and messages from its proto.

fn main() {
    if plinth_codegen::configure()
        .compile_protos(&["proto/bench/plinth_bench.proto"], &["proto"])
        .is_err()
    {
        // The diagnostics are already on stderr, with file:line:col and a hint.
        std::process::exit(1);
    }
}
