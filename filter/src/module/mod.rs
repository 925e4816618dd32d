//! Filter module logic.
