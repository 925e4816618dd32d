//! A module's configuration: the registry values NDIS hands the filter at attach
//! (`NdisOpenConfigurationEx` on the filter handle, then `NdisReadConfiguration` per key), checked
//! and turned into typed settings.
//!
//! - [`keys`] — the one table of every key: name, scope (member or group), accepted values and
//!   default. The INF defaults and the docs are checked against it.
//! - [`value`] — what a read returns ([`RawValue`]: an integer or UTF-16 text), and the text forms
//!   (`deferred:<ms>`, `queue:<ms>`, names).
//! - [`settings`] — [`ModuleConfig::read`]: absent `GroupId` (or 0) means plain pass-through; any
//!   invalid value is a [`ConfigError`] naming the key, the value and what is accepted, and the
//!   module then joins no group.
//!
//! Safe, `no_std`, no allocation: it runs at PASSIVE_LEVEL inside FilterAttach, but nothing here
//! depends on that.

pub mod keys;
pub mod settings;
pub mod value;

pub use keys::{KEYS, KeySpec, Scope};
pub use settings::{
    AllDown, ConfigError, GroupSettings, MacMode, MemberSettings, ModuleConfig, ParamSource,
    PolicyName, SetError, Shown, parse_all_down, parse_failback, parse_probe_target,
};
pub use value::RawValue;
