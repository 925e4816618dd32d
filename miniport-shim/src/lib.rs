//! mpshim.
