//! pecheck (placeholder).
fn main() {}
