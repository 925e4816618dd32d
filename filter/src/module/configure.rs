//! Reading the module's registry configuration at FilterAttach, and reporting what was refused.
//!
//! IRQL: PASSIVE_LEVEL, inside FilterAttach (the module's handle is valid, nothing else runs on
//! the module yet).

use crate::config::keys::{self, Accepts, KEYS};

/// The code of the first registry key in [`ConfigKey`].
const REG_KEY_BASE: u8 = 0x20;
use crate::config::{ConfigError, ModuleConfig, ParamSource, RawValue, Shown};
use crate::diag::{self, ConfigKey, Event};
use crate::ndis::FilterHandle;
use crate::ndis::config::{Configuration, ParamValue, Requested};

/// The registry values of one open configuration, as the config parser reads them.
struct Registry<'c, 'm>(&'c Configuration<'m>);

impl ParamSource for Registry<'_, '_> {
    fn read(&self, key: &'static str) -> Option<RawValue<'_>> {
        let requested = match keys::spec(key).map(|k| k.accepts) {
            Some(Accepts::Integer { .. }) => Requested::Integer,
            _ => Requested::Text,
        };
        Some(match self.0.read(key, requested)? {
            ParamValue::Integer(v) => RawValue::Integer(v),
            ParamValue::Text(units) => RawValue::Text(units),
            // A multi-string or binary value is no form any key accepts: an empty text is
            // refused by every key, naming it.
            ParamValue::Unsupported => RawValue::Text(&[]),
        })
    }
}

/// The module's configuration. Anything refused is reported as a diagnostic event and the module
/// is not teamed (it passes traffic through).
pub(super) fn read(handle: FilterHandle) -> ModuleConfig {
    let config = match Configuration::open(&handle) {
        Ok(config) => config,
        Err(status) => {
            diag::emit(
                handle,
                Event::ConfigRejected {
                    key: ConfigKey::RegOpenFailed,
                    value: u64::from(status.cast_unsigned()),
                    min: 0,
                    max: 0,
                },
            );
            return ModuleConfig::NotTeamed;
        }
    };
    match ModuleConfig::read(&Registry(&config)) {
        Ok(cfg) => cfg,
        Err(error) => {
            diag::emit(handle, rejected(&error));
            ModuleConfig::NotTeamed
        }
    }
}

/// The diagnostic key code of registry key `name` (its place in the key table), if it is one.
pub(crate) fn key_code(name: &str) -> Option<ConfigKey> {
    KEYS.iter()
        .position(|k| k.name == name)
        .and_then(|i| u8::try_from(i).ok())
        .and_then(|i| ConfigKey::from_code(REG_KEY_BASE + i))
}

/// The diagnostic event for a refused value.
fn rejected(error: &ConfigError) -> Event {
    // The registry keys' codes follow the key table: `RegGroupId` (0x20) is `KEYS[0]`, and so on
    // (checked by `every_key_has_its_own_event_key`).
    let key = key_code(error.key).unwrap_or(ConfigKey::RegOpenFailed);
    let value = match error.value {
        Shown::Integer(v) => u64::from(v),
        Shown::Text { bytes, len, .. } => {
            let mut prefix = [0u8; 8];
            let n = len.min(8);
            prefix[..n].copy_from_slice(&bytes[..n]);
            u64::from_le_bytes(prefix)
        }
    };
    let (min, max) = match (error.value, error.accepts) {
        (Shown::Integer(_), Accepts::Integer { min, max }) => (u64::from(min), u64::from(max)),
        _ => (0, 0),
    };
    Event::ConfigRejected {
        key,
        value,
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_its_own_event_key() {
        let mut seen = std::vec::Vec::new();
        for k in KEYS {
            let e = rejected(&ConfigError {
                key: k.name,
                value: Shown::Integer(u32::MAX),
                accepts: k.accepts,
            });
            let Event::ConfigRejected { key, value, .. } = e else {
                panic!("not a config event")
            };
            assert!(!seen.contains(&key), "{} shares {key:?}", k.name);
            assert!(
                std::format!("{key:?}").ends_with(k.name),
                "{} is reported as {key:?}",
                k.name
            );
            assert_eq!(value, u64::from(u32::MAX));
            seen.push(key);
        }
    }
}
