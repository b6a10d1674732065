//! Descriptors to a validated model. (Stub: replaced by the model/diagnostics work.)

mod types;

pub use types::*;

use prost_reflect::DescriptorPool;

use crate::{Result, Sources};

/// Read and validate every Plinth option of `pool`.
pub fn build(pool: &DescriptorPool, sources: &Sources) -> Result<Model> {
    let _ = (pool, sources);
    Ok(Model::default())
}
