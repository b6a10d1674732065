//! The one place generated token streams become source text.

use proc_macro2::TokenStream;

use crate::Result;

/// Format a token stream holding a whole file of items with prettyplease.
///
/// A failure here means the generator built invalid Rust, never that the user's
/// input was wrong; the error says so.
pub fn format(tokens: TokenStream) -> Result<String> {
    let file = syn::parse2::<syn::File>(tokens).map_err(|error| {
        super::error(format!(
            "plinth-codegen generated invalid Rust (a generator bug): {error}"
        ))
    })?;
    Ok(prettyplease::unparse(&file))
}
