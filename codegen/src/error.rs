//! Diagnostics. (Stub: replaced by the model/diagnostics work.)

use std::collections::BTreeMap;
use std::sync::Arc;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A generation error.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
pub struct Error(pub String);

/// Source texts by file name.
#[derive(Debug, Clone, Default)]
pub struct Sources(pub BTreeMap<String, Arc<str>>);
