//! Path engine: path table, path state machine, balancing policies and flowlet affinity.
//!
//! Pure logic: `no_std` (core + alloc), no `unsafe`, allocation only when a [`PathGroup`] is built.
//! Time is a `u64` of nanoseconds passed in by the caller. See `docs/engine.md` for the design.
//!
//! ```
//! use mpfilter::engine::{GroupConfig, PathConfig, PathGroup, PolicyConfig, SendRequest, Selection};
//! let cfg = GroupConfig::new(vec![PathConfig::default(); 2], PolicyConfig::RoundRobin);
//! let group = PathGroup::new(cfg).unwrap();
//! let req = SendRequest { len: 1500, ..SendRequest::default() };
//! assert!(matches!(group.select(&req, 0), Selection::Path(_)));
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod counters;
pub mod ewma;
pub mod flowlet;
pub mod group;
pub mod health;
pub mod mask;
pub mod policy;
pub mod shares;
pub mod sync;
pub mod table;
pub mod types;

pub use config::{
    ConfigError, ErrorConfig, Failback, FlapConfig, FlowletConfig, GroupConfig, HashLayer,
    PathConfig, PolicyConfig, QuotaConfig, ShareScheduler, SpeedShareConfig,
};
pub use counters::CounterTotals;
pub use group::{PathGroup, Selector};
pub use policy::{Load, PathStatus};
pub use table::PathInfo;
pub use types::{
    Attention, Completion, CompletionStatus, FlowKey, MAX_PATHS, MS, PathEvent, PathId, PathState,
    Reason, Role, Selection, SendError, SendRequest, TargetKey, Transition, Transitions, US,
};
