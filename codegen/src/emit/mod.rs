//! Model to Rust. (Stub: replaced by the emission work.)

use prost_reflect::DescriptorPool;

use crate::model::Model;
use crate::{GeneratedFile, Result};

/// Emit the generated files for `model`.
pub fn emit(pool: &DescriptorPool, model: &Model) -> Result<Vec<GeneratedFile>> {
    let _ = (pool, model);
    Ok(Vec::new())
}
