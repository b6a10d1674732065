//! The `plinth` command. (Stub: replaced by the diagnostics work.)

fn main() {}
