//! Windows-only layer.
