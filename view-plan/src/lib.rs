//! What a compiled view is, shared by `plinth-codegen` (which produces it at
//! build time) and the `plinth` runtime (which executes it).
//!
//! The code generator parses and type-checks every view query, compiles it to
//! SQL per dialect and derives each table's schema. The result — a
//! [`CompiledQuery`] per query method and a [`TablePlan`] per table — is
//! serialized into the generated code; the runtime deserializes it once at
//! startup and never parses query text. Two pieces of logic must agree
//! exactly between build time and run time, so they live here once:
//!
//! - [`types`]: how a protobuf field becomes a SQL column and value (the
//!   runtime computes a row's column values with [`row_values`]);
//! - [`bind`]: how a request message becomes the bound parameters of a query.
//!
//! Everything works on `prost_reflect` descriptors: the runtime resolves the
//! plan's message names in the descriptor set embedded in the generated code.
//!
//! Why the plan travels as JSON text in a `&'static str` rather than as Rust
//! literals: the plan is a tree of enums and vectors that the runtime walks
//! anyway, one serde derive keeps the format in step with the types by
//! construction, and decoding it costs microseconds once per view at startup.
//! The runtime depends on this crate (and `prost-reflect`), never on
//! `plinth-codegen`.

pub mod bind;
pub mod compiled;
mod plan;
pub mod types;

pub use bind::{BindError, Window, bind_params, like_to_glob};
pub use compiled::*;
pub use plan::{ColumnPlan, PlanError, SchemaSql, TablePlan, row_values};
pub use types::{Column, SqlType, SqlValue, ValueType};

/// The most rows a query returns; more is an error at run time.
pub const MAX_RESULTS: u64 = 10_000;

/// The page size of token paging without `LIMIT`.
pub const DEFAULT_PAGE_SIZE: u64 = 100;

/// The opaque page token of the page starting at `offset`.
pub fn encode_page_token(offset: u64) -> String {
    format!("p1.{offset:x}")
}

/// The offset a page token made by [`encode_page_token`] stands for; `None`
/// for any other text.
pub fn decode_page_token(token: &str) -> Option<u64> {
    let hex = token.strip_prefix("p1.")?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_other_text() {
        for offset in [0, 1, 100, 250, u64::MAX] {
            assert_eq!(decode_page_token(&encode_page_token(offset)), Some(offset));
        }
        for bad in ["", "p1.", "p1.zz", "100", "p2.10", "p1.10000000000000000"] {
            assert_eq!(decode_page_token(bad), None, "{bad}");
        }
    }
}
