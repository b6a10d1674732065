//! Components as the runtime sees them: static descriptions, the adapter traits
//! generated code implements, and registrations.

pub mod adapter;
pub mod info;
mod registration;

pub use registration::{Component, Installer, Registration};
