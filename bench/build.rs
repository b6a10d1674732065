//! Compiles `proto/bench.proto` without protoc: protox parses it, tonic-prost-build emits the
//! message types and the gRPC client/server, and the encoded descriptor set is kept in OUT_DIR for
//! the load generator's JSON-to-protobuf request templates.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/bench.proto");
    let fds = protox::compile(["bench.proto"], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("bench_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
