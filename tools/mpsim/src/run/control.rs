//! The run's side of the control device: scenario admin events and `--control SOCKET` clients
//! reach mpfilter's real IOCTL handlers through the emulator's IRPs, on the host build and on a
//! loaded `.sys` alike.
//!
//! Socket framing (mpctl's `SocketTransport`): request `code u32 | out_len u32 | in_len u32 |
//! input`, answer `status i32 | len u32 | output`, little-endian. A connected client holds the
//! run (virtual time stands still) until it closes; clients are accepted between the run's
//! progress slices, and if none came during the run, the run waits for one after the scenario's
//! end, before it detaches.
//! A socket client has write access: the socket file's permissions are the access control.

use mpctl_proto::{AdminAction, Ioctl, Request};
use ndis_emu::Emulator;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Largest request input or answer a client may ask for.
const MAX_FRAME: usize = 1 << 20;
/// `STATUS_INVALID_DEVICE_REQUEST`: the driver registered no control device.
const NO_DEVICE: i32 = 0xC000_0010_u32.cast_signed();

/// Fails (`fail`) or reinstates the path of the filter module with `if_index` through the
/// control device; whether the driver carried it out.
pub fn admin(emu: &mut Emulator, if_index: u32, fail: bool) -> bool {
    let action = if fail {
        AdminAction::Fail
    } else {
        AdminAction::Reinstate
    };
    let r = Request::AdminPath { if_index, action };
    let mut input = vec![0; r.len()];
    if r.encode(&mut input).is_err() {
        return false;
    }
    emu.device_ioctl(Ioctl::AdminPath.code(), &input, 0, true)
        .is_some_and(|o| o.status == 0)
}

/// A listening control socket.
pub struct ControlServer {
    listener: UnixListener,
    /// Clients served so far.
    served: u32,
}

impl ControlServer {
    /// Listens at `path` (which must not exist).
    ///
    /// # Errors
    /// The socket could not be bound.
    pub fn bind(path: &Path) -> io::Result<Self> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            served: 0,
        })
    }

    /// Serves every client waiting now, each until it closes.
    pub fn poll(&mut self, emu: &mut Emulator) {
        while let Ok((stream, _)) = self.listener.accept() {
            self.served += 1;
            serve(emu, stream);
        }
    }

    /// At the scenario's end: when no client came during the run, waits for one and serves it
    /// until it closes (so the first `mpctl` always sees the run).
    pub fn serve_one(&mut self, emu: &mut Emulator) {
        if self.served > 0 {
            return;
        }
        if self.listener.set_nonblocking(false).is_ok()
            && let Ok((stream, _)) = self.listener.accept()
        {
            self.served += 1;
            serve(emu, stream);
        }
        let _ = self.listener.set_nonblocking(true);
    }
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Answers a client's frames until it closes or sends a malformed one.
fn serve(emu: &mut Emulator, mut stream: UnixStream) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let mut head = [0u8; 12];
    while stream.read_exact(&mut head).is_ok() {
        let code = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let (out_len, in_len) = (u32_at(&head, 4), u32_at(&head, 8));
        if out_len > MAX_FRAME || in_len > MAX_FRAME {
            return;
        }
        let mut input = vec![0; in_len];
        if stream.read_exact(&mut input).is_err() {
            return;
        }
        let (status, output) = emu
            .device_ioctl(code, &input, out_len, true)
            .map_or((NO_DEVICE, Vec::new()), |o| (o.status, o.output));
        let mut answer = Vec::with_capacity(8 + output.len());
        answer.extend_from_slice(&status.to_le_bytes());
        answer.extend_from_slice(&u32::try_from(output.len()).unwrap_or(0).to_le_bytes());
        answer.extend_from_slice(&output);
        if stream.write_all(&answer).is_err() {
            return;
        }
    }
}
