//! Requests: what a caller puts in the input buffer.
//!
//! | IOCTL | bytes | layout after the header |
//! |---|---|---|
//! | ListGroups | 8 | — |
//! | ModuleStats | 16 | `if_index u32 \| reserved u32 (0)` |
//! | AdminPath | 16 | `if_index u32 \| action u32 (1 fail, 2 reinstate)` |
//! | SetGroup | 16 + 56·n | `group u32 \| n u32 (1..=8) \| n × setting` |
//! | SetPath | 16 + 56·n | `if_index u32 \| n u32 (1..=8) \| n × setting` |
//! | ResetCounters | 16 | `what u32 (1 group, 2 module) \| id u32 (GroupId or IfIndex)` |
//!
//! A setting is `name [u8; 24] \| value [u8; 32]`: the registry value name and its value in the
//! registry's text form (`"Policy"`, `"round-robin"`; `"FlowletGapUs"`, `"250"`), printable
//! ASCII, zero-padded. The driver checks names and values with the registry's own reader, so a
//! runtime value is accepted exactly when the same registry value would be.
//!
//! A request's declared length and its buffer's length are both exactly its layout's.

use crate::code::Ioctl;
use crate::error::{DecodeError, EncodeError};
use crate::header::{HEADER_LEN, Header};
use crate::wire::{put_u32, u32_at};

/// Bytes of a request with no body.
pub const LIST_GROUPS_LEN: usize = HEADER_LEN;
/// Bytes of a request naming one module.
pub const MODULE_REQUEST_LEN: usize = HEADER_LEN + 8;
/// Bytes of a setting's name field.
pub const SETTING_NAME_LEN: usize = 24;
/// Bytes of a setting's value field.
pub const SETTING_VALUE_LEN: usize = 32;
/// Bytes of one setting.
pub const SETTING_LEN: usize = SETTING_NAME_LEN + SETTING_VALUE_LEN;
/// Most settings in one request.
pub const MAX_SETTINGS: usize = 8;

/// One `name = value` pair of a [`Settings`] list: printable ASCII, not empty, each within its
/// field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Setting {
    name: [u8; SETTING_NAME_LEN],
    value: [u8; SETTING_VALUE_LEN],
}

impl Setting {
    /// The setting `name = value`, or `None` when either is empty, too long or not printable
    /// ASCII.
    pub fn new(name: &str, value: &str) -> Option<Setting> {
        Some(Setting {
            name: field(name.as_bytes())?,
            value: field(value.as_bytes())?,
        })
    }

    /// The registry value name.
    pub fn name(&self) -> &str {
        text(&self.name)
    }

    /// The value, in the registry's text form.
    pub fn value(&self) -> &str {
        text(&self.value)
    }

    fn decode(b: &[u8]) -> Result<Setting, DecodeError> {
        let mut name = [0; SETTING_NAME_LEN];
        let mut value = [0; SETTING_VALUE_LEN];
        name.copy_from_slice(&b[..SETTING_NAME_LEN]);
        value.copy_from_slice(&b[SETTING_NAME_LEN..SETTING_LEN]);
        if !well_formed(&name) || !well_formed(&value) {
            return Err(DecodeError::BadValue {
                field: "setting",
                value: u64::from(b[0]),
            });
        }
        Ok(Setting { name, value })
    }
}

/// `bytes` zero-padded into a field, if it is 1..=N printable ASCII bytes.
fn field<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    if bytes.is_empty() || bytes.len() > N || !bytes.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    let mut f = [0; N];
    f[..bytes.len()].copy_from_slice(bytes);
    Some(f)
}

/// Printable ASCII, at least one byte, then only zeros.
fn well_formed(f: &[u8]) -> bool {
    let used = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    used > 0 && f[..used].iter().all(u8::is_ascii_graphic) && f[used..].iter().all(|&b| b == 0)
}

fn text(f: &[u8]) -> &str {
    let used = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    core::str::from_utf8(&f[..used]).unwrap_or("")
}

/// 1..=[`MAX_SETTINGS`] settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    items: [Option<Setting>; MAX_SETTINGS],
    len: usize,
}

impl Settings {
    /// The list of `items`, or `None` when there are none or more than [`MAX_SETTINGS`].
    pub fn new(items: &[Setting]) -> Option<Settings> {
        if items.is_empty() || items.len() > MAX_SETTINGS {
            return None;
        }
        let mut s = Settings {
            items: [None; MAX_SETTINGS],
            len: items.len(),
        };
        for (slot, item) in s.items.iter_mut().zip(items) {
            *slot = Some(*item);
        }
        Some(s)
    }

    /// The settings, in request order.
    pub fn iter(&self) -> impl Iterator<Item = &Setting> {
        self.items[..self.len].iter().flatten()
    }

    /// How many.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never: a list holds at least one setting.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    const fn wire_len(&self) -> usize {
        HEADER_LEN + 8 + self.len * SETTING_LEN
    }

    fn put(&self, target: u32, out: &mut [u8]) {
        put_u32(out, HEADER_LEN, target);
        // At most MAX_SETTINGS.
        #[allow(clippy::cast_possible_truncation)]
        put_u32(out, HEADER_LEN + 4, self.len as u32);
        for (i, s) in self.iter().enumerate() {
            let at = HEADER_LEN + 8 + i * SETTING_LEN;
            out[at..at + SETTING_NAME_LEN].copy_from_slice(&s.name);
            out[at + SETTING_NAME_LEN..at + SETTING_LEN].copy_from_slice(&s.value);
        }
    }

    /// The declared count of a settings request whose buffer holds at least its fixed part.
    fn declared(b: &[u8]) -> Result<usize, DecodeError> {
        let n = u32_at(b, HEADER_LEN + 4);
        match usize::try_from(n) {
            Ok(n @ 1..=MAX_SETTINGS) => Ok(n),
            _ => Err(DecodeError::BadValue {
                field: "count",
                value: u64::from(n),
            }),
        }
    }

    fn decode(b: &[u8], n: usize) -> Result<Settings, DecodeError> {
        let mut s = Settings {
            items: [None; MAX_SETTINGS],
            len: n,
        };
        for (i, slot) in s.items.iter_mut().take(n).enumerate() {
            let at = HEADER_LEN + 8 + i * SETTING_LEN;
            *slot = Some(Setting::decode(&b[at..at + SETTING_LEN])?);
        }
        Ok(s)
    }
}

/// Whose counters a [`Request::ResetCounters`] zeroes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResetTarget {
    /// Every path counter of the group with this `GroupId` (not 0).
    Group(u32),
    /// The counters of the module with this IfIndex (not 0).
    Module(u32),
}

/// What an administrator does to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminAction {
    /// Take the path out of service until reinstated.
    Fail,
    /// Return it to service (also the approval a path waits for under manual failback).
    Reinstate,
}

impl AdminAction {
    const fn wire(self) -> u32 {
        match self {
            AdminAction::Fail => 1,
            AdminAction::Reinstate => 2,
        }
    }

    fn from_wire(v: u32) -> Result<AdminAction, DecodeError> {
        match v {
            1 => Ok(AdminAction::Fail),
            2 => Ok(AdminAction::Reinstate),
            _ => Err(DecodeError::BadValue {
                field: "action",
                value: u64::from(v),
            }),
        }
    }
}

/// A decoded, validated request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// List every group and its paths.
    ListGroups,
    /// The counters of the module with this IfIndex.
    ModuleStats {
        /// The module's IfIndex (not 0).
        if_index: u32,
    },
    /// Fail or reinstate the path of the module with this IfIndex.
    AdminPath {
        /// The module's IfIndex (not 0).
        if_index: u32,
        /// What to do.
        action: AdminAction,
    },
    /// Change the policy and group-scope parameters of the group with this `GroupId`.
    SetGroup {
        /// The `GroupId` (not 0).
        group: u32,
        /// Registry names and values.
        settings: Settings,
    },
    /// Change the weight, priority or quota of the path of the module with this IfIndex.
    SetPath {
        /// The module's IfIndex (not 0).
        if_index: u32,
        /// Registry names and values.
        settings: Settings,
    },
    /// Zero counters (in-flight gauges excepted).
    ResetCounters(ResetTarget),
}

impl Request {
    /// The IOCTL the request is sent with.
    pub const fn ioctl(self) -> Ioctl {
        match self {
            Request::ListGroups => Ioctl::ListGroups,
            Request::ModuleStats { .. } => Ioctl::ModuleStats,
            Request::AdminPath { .. } => Ioctl::AdminPath,
            Request::SetGroup { .. } => Ioctl::SetGroup,
            Request::SetPath { .. } => Ioctl::SetPath,
            Request::ResetCounters(_) => Ioctl::ResetCounters,
        }
    }

    /// Bytes of its encoding.
    pub const fn len(self) -> usize {
        match self {
            Request::ListGroups => LIST_GROUPS_LEN,
            Request::ModuleStats { .. } | Request::AdminPath { .. } | Request::ResetCounters(_) => {
                MODULE_REQUEST_LEN
            }
            Request::SetGroup { settings, .. } | Request::SetPath { settings, .. } => {
                settings.wire_len()
            }
        }
    }

    /// Never: every request has at least a header (for clippy's `len_without_is_empty`).
    pub const fn is_empty(self) -> bool {
        false
    }

    /// Writes the request into `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] when `out` is shorter than [`Request::len`]; nothing is written then.
    pub fn encode(self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.len();
        if out.len() < len {
            return Err(EncodeError { needed: len });
        }
        // Request layouts are at most 16 + 8 settings.
        #[allow(clippy::cast_possible_truncation)]
        Header::new(self.ioctl(), len as u32).put(out);
        match self {
            Request::ListGroups => {}
            Request::ModuleStats { if_index } => {
                put_u32(out, HEADER_LEN, if_index);
                put_u32(out, HEADER_LEN + 4, 0);
            }
            Request::AdminPath { if_index, action } => {
                put_u32(out, HEADER_LEN, if_index);
                put_u32(out, HEADER_LEN + 4, action.wire());
            }
            Request::SetGroup {
                group: target,
                settings,
            }
            | Request::SetPath {
                if_index: target,
                settings,
            } => settings.put(target, out),
            Request::ResetCounters(target) => {
                let (what, id) = match target {
                    ResetTarget::Group(g) => (1, g),
                    ResetTarget::Module(i) => (2, i),
                };
                put_u32(out, HEADER_LEN, what);
                put_u32(out, HEADER_LEN + 4, id);
            }
        }
        Ok(len)
    }

    /// Decodes the input buffer of an IOCTL whose code is `code`.
    ///
    /// # Errors
    /// [`DecodeError`] for an unknown code (as `WrongKind`), a short buffer, another version, a
    /// header of another IOCTL, a length that is not the layout's, IfIndex or GroupId 0, an
    /// unknown action or reset target, a settings count outside 1..=8, a setting that is not
    /// zero-padded printable ASCII, or a reserved field that is not zero.
    pub fn decode(code: u32, b: &[u8]) -> Result<Request, DecodeError> {
        let Some(ioctl) = Ioctl::from_code(code) else {
            return Err(DecodeError::WrongKind {
                expected: 0,
                found: if b.len() >= 4 {
                    u16::from_le_bytes([b[2], b[3]])
                } else {
                    0
                },
            });
        };
        let mut layout = match ioctl {
            Ioctl::ListGroups => LIST_GROUPS_LEN,
            Ioctl::ModuleStats
            | Ioctl::AdminPath
            | Ioctl::SetGroup
            | Ioctl::SetPath
            | Ioctl::ResetCounters => MODULE_REQUEST_LEN,
        };
        if b.len() < layout {
            return Err(DecodeError::Truncated {
                len: b.len(),
                needed: layout,
            });
        }
        let header = Header::decode(b, ioctl)?;
        let mut count = 0;
        if matches!(ioctl, Ioctl::SetGroup | Ioctl::SetPath) {
            count = Settings::declared(b)?;
            layout += count * SETTING_LEN;
        }
        if header.length as usize != layout || b.len() != layout {
            return Err(DecodeError::BadLength {
                declared: header.length,
                present: b.len(),
            });
        }
        match ioctl {
            Ioctl::ListGroups => Ok(Request::ListGroups),
            Ioctl::ModuleStats => {
                let if_index = if_index_at(b)?;
                if u32_at(b, HEADER_LEN + 4) != 0 {
                    return Err(DecodeError::ReservedNotZero);
                }
                Ok(Request::ModuleStats { if_index })
            }
            Ioctl::AdminPath => {
                let if_index = if_index_at(b)?;
                let action = AdminAction::from_wire(u32_at(b, HEADER_LEN + 4))?;
                Ok(Request::AdminPath { if_index, action })
            }
            Ioctl::SetGroup => Ok(Request::SetGroup {
                group: nonzero_at(b, HEADER_LEN, "group")?,
                settings: Settings::decode(b, count)?,
            }),
            Ioctl::SetPath => Ok(Request::SetPath {
                if_index: if_index_at(b)?,
                settings: Settings::decode(b, count)?,
            }),
            Ioctl::ResetCounters => {
                let what = u32_at(b, HEADER_LEN);
                let id = nonzero_at(b, HEADER_LEN + 4, "id");
                match what {
                    1 => Ok(Request::ResetCounters(ResetTarget::Group(id?))),
                    2 => Ok(Request::ResetCounters(ResetTarget::Module(id?))),
                    _ => Err(DecodeError::BadValue {
                        field: "what",
                        value: u64::from(what),
                    }),
                }
            }
        }
    }
}

fn if_index_at(b: &[u8]) -> Result<u32, DecodeError> {
    match u32_at(b, HEADER_LEN) {
        0 => Err(DecodeError::ZeroIfIndex),
        i => Ok(i),
    }
}

/// The `u32` at `at`, refused when it is 0.
fn nonzero_at(b: &[u8], at: usize, field: &'static str) -> Result<u32, DecodeError> {
    match u32_at(b, at) {
        0 => Err(DecodeError::BadValue { field, value: 0 }),
        v => Ok(v),
    }
}
