//! mpsim (placeholder).
fn main() {}
