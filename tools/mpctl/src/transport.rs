//! How an IOCTL reaches the driver.

use std::io;

/// What the driver answered: its status and the output bytes the I/O manager copied back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The NTSTATUS the request completed with.
    pub status: i32,
    /// The output (`Information` bytes).
    pub output: Vec<u8>,
}

/// A way to send one METHOD_BUFFERED IOCTL.
pub trait Transport {
    /// Sends `input` with `code`, with room for `out_len` bytes of answer.
    ///
    /// # Errors
    /// The transport itself failed (the device could not be reached); a driver's refusal is a
    /// [`Reply`] with an error status.
    fn ioctl(&mut self, code: u32, input: &[u8], out_len: usize) -> io::Result<Reply>;
}

/// The Unix-socket framing a simulator serves: request `code u32 | out_len u32 | in_len u32 |
/// input`, answer `status i32 | len u32 | output`, little-endian.
#[cfg(unix)]
pub mod socket {
    use super::{Reply, Transport};
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;

    /// A connection to a simulator's control socket.
    pub struct SocketTransport(UnixStream);

    impl SocketTransport {
        /// Connects to the socket at `path`.
        ///
        /// # Errors
        /// The connection failed.
        pub fn connect(path: &Path) -> io::Result<Self> {
            UnixStream::connect(path).map(Self)
        }
    }

    /// Encodes one request frame.
    ///
    /// # Errors
    /// A length beyond `u32`.
    pub fn request_frame(code: u32, input: &[u8], out_len: usize) -> io::Result<Vec<u8>> {
        let len = |n: usize| {
            u32::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too long"))
        };
        let mut b = Vec::with_capacity(12 + input.len());
        b.extend_from_slice(&code.to_le_bytes());
        b.extend_from_slice(&len(out_len)?.to_le_bytes());
        b.extend_from_slice(&len(input.len())?.to_le_bytes());
        b.extend_from_slice(input);
        Ok(b)
    }

    /// Reads one answer frame, refusing more output than was asked for.
    ///
    /// # Errors
    /// A short read, or an answer longer than `out_len`.
    pub fn read_reply(r: &mut impl Read, out_len: usize) -> io::Result<Reply> {
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        let status = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len > out_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{len} bytes of answer for a {out_len}-byte buffer"),
            ));
        }
        let mut output = vec![0; len];
        r.read_exact(&mut output)?;
        Ok(Reply { status, output })
    }

    impl Transport for SocketTransport {
        fn ioctl(&mut self, code: u32, input: &[u8], out_len: usize) -> io::Result<Reply> {
            self.0.write_all(&request_frame(code, input, out_len)?)?;
            read_reply(&mut self.0, out_len)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn frames_carry_the_bytes_and_refuse_oversized_answers() {
            let f = request_frame(0x0017_6000, &[1, 0, 0, 8, 8, 0, 0, 0], 64).unwrap();
            assert_eq!(&f[..12], [0x00, 0x60, 0x17, 0, 64, 0, 0, 0, 8, 0, 0, 0]);
            assert_eq!(&f[12..], [1, 0, 0, 8, 8, 0, 0, 0]);
            let answer = [5, 0, 0, 0x80, 3, 0, 0, 0, 9, 9, 9];
            let r = read_reply(&mut &answer[..], 16).unwrap();
            assert_eq!(
                (r.status, r.output),
                (0x8000_0005_u32.cast_signed(), vec![9, 9, 9])
            );
            assert!(
                read_reply(&mut &answer[..], 2).is_err(),
                "3 bytes for a 2-byte buffer"
            );
            assert!(read_reply(&mut &answer[..10], 16).is_err(), "short");
        }
    }
}

/// `DeviceIoControl` on `\\.\MpFilter`.
#[cfg(windows)]
pub mod device {
    use super::{Reply, Transport};
    use std::io;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_GENERIC_READ, FILE_GENERIC_WRITE, OPEN_EXISTING,
    };
    use windows_sys::Win32::System::IO::DeviceIoControl;

    /// An open handle to the control device.
    pub struct DeviceTransport(HANDLE);

    impl DeviceTransport {
        /// Opens `\\.\MpFilter`, for writing too when `write` (fail / reinstate need it).
        ///
        /// # Errors
        /// The open failed (not installed, or not an administrator).
        pub fn open(write: bool) -> io::Result<Self> {
            let name: Vec<u16> = "\\\\.\\MpFilter\0".encode_utf16().collect();
            let access = FILE_GENERIC_READ | if write { FILE_GENERIC_WRITE } else { 0 };
            // SAFETY: a NUL-terminated name; no security attributes or template.
            let h = unsafe {
                CreateFileW(
                    name.as_ptr(),
                    access,
                    0,
                    core::ptr::null(),
                    OPEN_EXISTING,
                    0,
                    core::ptr::null_mut(),
                )
            };
            if h == INVALID_HANDLE_VALUE {
                return Err(io::Error::last_os_error());
            }
            Ok(Self(h))
        }
    }

    impl Drop for DeviceTransport {
        fn drop(&mut self) {
            // SAFETY: a handle this value owns, closed once.
            unsafe { CloseHandle(self.0) };
        }
    }

    impl Transport for DeviceTransport {
        fn ioctl(&mut self, code: u32, input: &[u8], out_len: usize) -> io::Result<Reply> {
            let mut output = vec![0u8; out_len];
            let mut returned = 0u32;
            let too_long = |_| io::Error::new(io::ErrorKind::InvalidInput, "too long");
            // SAFETY: buffers valid for the lengths given; synchronous (no OVERLAPPED).
            let ok = unsafe {
                DeviceIoControl(
                    self.0,
                    code,
                    input.as_ptr().cast(),
                    u32::try_from(input.len()).map_err(too_long)?,
                    output.as_mut_ptr().cast(),
                    u32::try_from(out_len).map_err(too_long)?,
                    &raw mut returned,
                    core::ptr::null_mut(),
                )
            };
            let status = if ok != 0 {
                0
            } else {
                // The Win32 error of a refused IOCTL; the caller sees it as a failed status.
                match io::Error::last_os_error().raw_os_error() {
                    // ERROR_MORE_DATA: STATUS_BUFFER_OVERFLOW, the head was copied.
                    Some(234) => mpctl_proto::status::BUFFER_OVERFLOW,
                    Some(5) => mpctl_proto::status::ACCESS_DENIED,
                    Some(1168) => mpctl_proto::status::NOT_FOUND,
                    Some(122) => mpctl_proto::status::BUFFER_TOO_SMALL,
                    _ => mpctl_proto::status::INVALID_PARAMETER,
                }
            };
            output.truncate(returned as usize);
            Ok(Reply { status, output })
        }
    }
}
