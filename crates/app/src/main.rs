//! Placeholder until the wiring lands.
fn main() {}
