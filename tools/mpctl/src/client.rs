//! The control IOCTLs as calls over a [`Transport`].

use crate::transport::Transport;
use mpctl_proto::request::{MAX_SETTINGS, SETTING_NAME_LEN, SETTING_VALUE_LEN};
use mpctl_proto::response::MODULE_ANSWER_LEN;
use mpctl_proto::{
    AdminAction, DecodeError, GroupList, GroupRecord, Ioctl, ModuleCounters, PathRecord, Request,
    ResetTarget, Setting, Settings, status,
};
use std::fmt;

/// Why a call failed.
#[derive(Debug)]
pub enum Error {
    /// The device could not be reached.
    Io(std::io::Error),
    /// The driver refused the request with this NTSTATUS.
    Refused(i32),
    /// The driver's answer did not decode.
    BadAnswer(DecodeError),
    /// The driver refused a runtime change: the settings sent, and the status.
    Change {
        /// `Name=value` of every setting sent.
        sent: String,
        /// The NTSTATUS.
        status: i32,
    },
    /// A request that cannot be sent (nothing to change, a name or value that does not fit).
    Usage(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "control device: {e}"),
            Error::Refused(s) => write!(f, "the driver refused: {}", status_name(*s)),
            Error::BadAnswer(e) => write!(f, "the driver's answer does not decode: {e:?}"),
            Error::Change {
                sent,
                status: status::INVALID_PARAMETER,
            } => write!(
                f,
                "the driver refused {sent}: a name that cannot change at runtime or a value \
                 outside what the registry key accepts (docs/configuration.md lists both); \
                 nothing was changed"
            ),
            Error::Change { sent, status } => {
                write!(f, "the driver refused {sent}: {}", status_name(*status))
            }
            Error::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The name of a status the control device answers with.
pub fn status_name(s: i32) -> String {
    let name = match s {
        status::SUCCESS => "STATUS_SUCCESS",
        status::BUFFER_OVERFLOW => "STATUS_BUFFER_OVERFLOW",
        status::INVALID_PARAMETER => "STATUS_INVALID_PARAMETER (a field out of range)",
        status::INVALID_DEVICE_REQUEST => "STATUS_INVALID_DEVICE_REQUEST (unknown IOCTL)",
        status::ACCESS_DENIED => "STATUS_ACCESS_DENIED (needs a handle opened for writing)",
        status::BUFFER_TOO_SMALL => "STATUS_BUFFER_TOO_SMALL",
        status::REVISION_MISMATCH => "STATUS_REVISION_MISMATCH (another layout version)",
        status::INFO_LENGTH_MISMATCH => "STATUS_INFO_LENGTH_MISMATCH",
        status::NOT_FOUND => {
            "STATUS_NOT_FOUND (no path group with that GroupId, or no member with that IfIndex)"
        }
        status::DEVICE_BUSY => {
            "STATUS_DEVICE_BUSY (sends of several earlier configurations are still out; nothing \
             was changed, try again)"
        }
        _ => return format!("{:#010x}", s.cast_unsigned()),
    };
    name.to_owned()
}

/// A decoded group list, owned.
#[derive(Clone, Debug)]
pub struct Groups {
    /// The groups.
    pub groups: Vec<GroupRecord>,
    /// Every path, each group's together.
    pub paths: Vec<PathRecord>,
}

fn encoded(r: &Request) -> Vec<u8> {
    let mut b = vec![0; r.len()];
    // The buffer is the request's own length.
    let _ = r.encode(&mut b);
    b
}

/// Lists every group and its paths (asking again with the size the driver names when the first
/// buffer is too small).
///
/// # Errors
/// The transport failed, the driver refused, or the answer did not decode.
pub fn list(t: &mut impl Transport) -> Result<Groups, Error> {
    let req = encoded(&Request::ListGroups);
    let mut out_len = 4096;
    for _ in 0..3 {
        let r = t
            .ioctl(Ioctl::ListGroups.code(), &req, out_len)
            .map_err(Error::Io)?;
        match r.status {
            status::SUCCESS => {
                let l = GroupList::decode(&r.output).map_err(Error::BadAnswer)?;
                return Ok(Groups {
                    groups: l.groups().collect(),
                    paths: l.paths().collect(),
                });
            }
            status::BUFFER_OVERFLOW => {
                out_len = GroupList::needed(&r.output).map_err(Error::BadAnswer)?;
            }
            s => return Err(Error::Refused(s)),
        }
    }
    Err(Error::Refused(status::BUFFER_OVERFLOW))
}

/// The counters of the module with `if_index`.
///
/// # Errors
/// As for [`list`].
pub fn stats(t: &mut impl Transport, if_index: u32) -> Result<ModuleCounters, Error> {
    let req = encoded(&Request::ModuleStats { if_index });
    let r = t
        .ioctl(Ioctl::ModuleStats.code(), &req, MODULE_ANSWER_LEN)
        .map_err(Error::Io)?;
    if r.status != status::SUCCESS {
        return Err(Error::Refused(r.status));
    }
    ModuleCounters::decode(&r.output).map_err(Error::BadAnswer)
}

/// Fails or reinstates the path of the module with `if_index`.
///
/// # Errors
/// As for [`list`].
pub fn admin(t: &mut impl Transport, if_index: u32, action: AdminAction) -> Result<(), Error> {
    let req = encoded(&Request::AdminPath { if_index, action });
    let r = t
        .ioctl(Ioctl::AdminPath.code(), &req, 0)
        .map_err(Error::Io)?;
    match r.status {
        status::SUCCESS => Ok(()),
        s => Err(Error::Refused(s)),
    }
}

/// A settings list from `Name=value` pairs (registry names, values in their registry text form).
///
/// # Errors
/// [`Error::Usage`]: no pair, more than the request holds, or one that does not fit its field.
pub fn settings(pairs: &[(&str, String)]) -> Result<Settings, Error> {
    if pairs.is_empty() {
        return Err(Error::Usage(
            "nothing to change: give at least one setting".into(),
        ));
    }
    if pairs.len() > MAX_SETTINGS {
        return Err(Error::Usage(format!(
            "at most {MAX_SETTINGS} settings in one request"
        )));
    }
    let items = pairs
        .iter()
        .map(|(name, value)| {
            Setting::new(name, value).ok_or_else(|| {
                Error::Usage(format!(
                    "{name}={value}: a name of 1..={SETTING_NAME_LEN} and a value of \
                     1..={SETTING_VALUE_LEN} printable ASCII characters, no blanks"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Settings::new(&items).ok_or_else(|| Error::Usage("no settings".into()))
}

fn shown(s: &Settings) -> String {
    s.iter()
        .map(|s| format!("{}={}", s.name(), s.value()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn change(t: &mut impl Transport, r: &Request, sent: String) -> Result<(), Error> {
    let reply = t
        .ioctl(r.ioctl().code(), &encoded(r), 0)
        .map_err(Error::Io)?;
    match reply.status {
        status::SUCCESS => Ok(()),
        s @ (status::INVALID_PARAMETER | status::DEVICE_BUSY) => {
            Err(Error::Change { sent, status: s })
        }
        s => Err(Error::Refused(s)),
    }
}

/// Sets group `group`'s policy and group-scope parameters (registry names and values).
///
/// # Errors
/// As for [`list`]; [`Error::Change`] when the driver refused a setting (nothing changed).
pub fn set_group(t: &mut impl Transport, group: u32, settings: Settings) -> Result<(), Error> {
    let sent = shown(&settings);
    change(t, &Request::SetGroup { group, settings }, sent)
}

/// Sets the weight, priority or quota of the path of the module with `if_index`.
///
/// # Errors
/// As for [`set_group`].
pub fn set_path(t: &mut impl Transport, if_index: u32, settings: Settings) -> Result<(), Error> {
    let sent = shown(&settings);
    change(t, &Request::SetPath { if_index, settings }, sent)
}

/// Zeroes a group's path counters or a module's counters (in-flight figures and gauges stay).
///
/// # Errors
/// As for [`list`].
pub fn reset(t: &mut impl Transport, target: ResetTarget) -> Result<(), Error> {
    let r = Request::ResetCounters(target);
    let reply = t
        .ioctl(r.ioctl().code(), &encoded(&r), 0)
        .map_err(Error::Io)?;
    match reply.status {
        status::SUCCESS => Ok(()),
        s => Err(Error::Refused(s)),
    }
}
