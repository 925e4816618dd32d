//! Path-engine benchmarks (placeholder until the engine lands).
fn main() {}
