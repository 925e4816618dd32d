//! Registry values from an administrator: reading never panics, a refusal names a key the filter
//! reads, and anything accepted builds a valid engine group.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpfilter::config::keys::KEYS;
use mpfilter::config::{ModuleConfig, ParamSource, RawValue};

struct Values(Vec<(&'static str, Result<u32, Vec<u16>>)>);

impl ParamSource for Values {
    fn read(&self, key: &'static str) -> Option<RawValue<'_>> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| match v {
            Ok(i) => RawValue::Integer(*i),
            Err(t) => RawValue::Text(t),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    // Records: [key index, kind, len, bytes…]; kind even = integer from 4 bytes, odd = text.
    let mut values = Values(vec![("GroupId", Ok(1))]);
    let mut rest = data;
    while let [key, kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        let name = KEYS[usize::from(*key) % KEYS.len()].name;
        let value = if kind % 2 == 0 {
            let mut w = [0; 4];
            w[..bytes.len().min(4)].copy_from_slice(&bytes[..bytes.len().min(4)]);
            Ok(u32::from_le_bytes(w))
        } else {
            Err(bytes.iter().map(|&b| u16::from(b)).collect())
        };
        values.0.retain(|(k, _)| *k != name);
        values.0.push((name, value));
        rest = after;
    }
    match ModuleConfig::read(&values) {
        Err(e) => assert!(KEYS.iter().any(|k| k.name == e.key)),
        Ok(ModuleConfig::NotTeamed) => {}
        Ok(ModuleConfig::Teamed { member, group, .. }) => {
            let paths = vec![member.path_config(1_000_000_000), member.path_config(0)];
            assert_eq!(group.engine_config(paths).validate(), Ok(()));
        }
    }
});
