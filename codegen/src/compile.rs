//! Compiling proto files with protox. (Stub: replaced by the model/diagnostics work.)

use std::path::Path;

use prost_reflect::DescriptorPool;

use crate::{Error, Result, Sources};

/// A compiled set of files.
#[derive(Debug)]
pub struct Compiled {
    /// The descriptor pool, options included.
    pub pool: DescriptorPool,
    /// The source texts.
    pub sources: Sources,
    /// Every file read, for `rerun-if-changed`.
    pub files_read: Vec<std::path::PathBuf>,
}

/// Compile `protos` found under `includes`.
pub fn compile(protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<Compiled> {
    let _ = (protos, includes);
    Err(Error("not yet wired".into()))
}
