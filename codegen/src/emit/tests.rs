//! Emission over hand-built models.
