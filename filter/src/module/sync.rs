//! The atomic word the pause gate is built on: [`AtomicWord`], shared with the header slots'
//! bitmap (`ndis::atomic_word`, where the reason for the indirection is written).

pub use crate::ndis::atomic_word::AtomicWord;
