//! Path engine.
#![forbid(unsafe_code)]
