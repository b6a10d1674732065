//! Types and gRPC stubs generated from `proto/bench.proto`, plus its encoded descriptor set.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("bench");

/// The encoded `FileDescriptorSet` of `bench.proto` (used to turn JSON templates into protobuf).
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bench_descriptor.bin"));
