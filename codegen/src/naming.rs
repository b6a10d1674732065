//! Proto names to Rust identifiers. (Stub: replaced by the emission work.)
