//! The build.rs API. (Stub: replaced by the emission work.)

/// Configures a generation from build.rs.
#[derive(Debug, Default)]
pub struct Builder {}

/// Start configuring a generation.
pub fn configure() -> Builder {
    Builder::default()
}
