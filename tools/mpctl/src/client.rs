//! The control IOCTLs as calls over a [`Transport`].

use crate::transport::Transport;
use mpctl_proto::response::MODULE_ANSWER_LEN;
use mpctl_proto::{
    AdminAction, DecodeError, GroupList, GroupRecord, Ioctl, ModuleCounters, PathRecord, Request,
    status,
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "control device: {e}"),
            Error::Refused(s) => write!(f, "the driver refused: {}", status_name(*s)),
            Error::BadAnswer(e) => write!(f, "the driver's answer does not decode: {e:?}"),
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
        status::NOT_FOUND => "STATUS_NOT_FOUND (no path group member with that IfIndex)",
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
