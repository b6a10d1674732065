//! Plinth's code generator.
//!
//! Annotated `.proto` files go in; typed Rust traits, component adapters, HTTP
//! route tables and build-time diagnostics come out. The pipeline has three
//! stages, each in its own module:
//!
//! 1. [`compile`](mod@compile): protox turns the files into a descriptor pool (no `protoc`),
//!    with Plinth's annotation protos and `google/api` embedded.
//! 2. [`model`]: reads and validates every option into a typed [`model::Model`].
//!    All diagnostics come from here.
//! 3. [`emit`]: turns the model into Rust (quote + prettyplease), next to
//!    prost's messages.
//!
//! [`generate`] is the pure core tests call; [`configure`] is the `build.rs` API.

// Module docs name their private submodules for contributors; they resolve
// with `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

mod builder;
pub mod compile;
pub mod emit;
mod error;
pub mod model;
pub mod naming;
pub mod new_service;
pub mod openapi;
pub mod query;
pub mod routes;

pub use builder::{Builder, configure};
pub use compile::{Compiled, compile};
pub use error::{Error, ErrorKind, Problem, Result, Sources};

use prost_reflect::DescriptorPool;

/// A file the generator produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The file name, relative to the output directory.
    pub name: String,
    /// The contents.
    pub contents: Vec<u8>,
}

/// Options of a generation run.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The source text of the compiled files, for diagnostics with snippets.
    pub sources: Sources,
}

/// Generate the Rust code for every file of `pool` (imports included, except
/// the well-known types and the embedded annotation protos): prost messages plus
/// Plinth's traits, adapters and routes, one file per package and one
/// `plinth_generated.rs` that nests them into modules.
pub fn generate(pool: &DescriptorPool, config: &Config) -> Result<Vec<GeneratedFile>> {
    let model = model::build(pool, &config.sources)?;
    emit::emit(pool, &model)
}

/// The OpenAPI 3.1 document of the HTTP/JSON routes of `pool`'s services.
pub fn generate_openapi(
    pool: &DescriptorPool,
    config: &Config,
    title: &str,
) -> Result<serde_json::Value> {
    let model = model::build(pool, &config.sources)?;
    Ok(openapi::openapi(pool, &model, title))
}

/// The SQL of every view of `pool`, per dialect, for review (`plinth
/// generate` writes it next to the Rust files; builds need only the Rust).
pub fn generate_sql(pool: &DescriptorPool, config: &Config) -> Result<Vec<GeneratedFile>> {
    let model = model::build(pool, &config.sources)?;
    emit::sql::files(&model)
}
