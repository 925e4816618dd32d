//! The IOCTL codes and the control device's identity.
//!
//! A code is `CTL_CODE(DeviceType, Function, Method, Access)` of winioctl.h / wdm.h:
//! `DeviceType << 16 | Access << 14 | Function << 2 | Method`. Functions 0x800 and up are the
//! range Microsoft leaves to vendors. Every code is METHOD_BUFFERED: the I/O manager copies the
//! input into one system buffer and copies `Information` bytes of it back, so the driver never
//! touches a caller's address.

/// `FILE_DEVICE_PHYSICAL_NETCARD`, the device type Microsoft's NDIS filter sample gives its
/// control IOCTLs.
pub const FILE_DEVICE_PHYSICAL_NETCARD: u32 = 0x17;
/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `FILE_READ_ACCESS`: the handle must have been opened for reading.
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS`: the handle must have been opened for writing.
pub const FILE_WRITE_ACCESS: u32 = 2;

/// `CTL_CODE`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// The control device's kernel name (`\Device\...`).
pub const DEVICE_NAME: &str = "\\Device\\MpFilter";
/// Its symbolic link (`\DosDevices\...`); user mode opens `\\.\MpFilter`.
pub const SYMBOLIC_NAME: &str = "\\DosDevices\\MpFilter";
/// `SDDL_DEVOBJ_SYS_ALL_ADM_ALL` (wdmsec.h): SYSTEM and Administrators get all access, nobody
/// else any.
pub const SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

/// The control IOCTLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ioctl {
    /// List every path group and its paths (read access).
    ListGroups,
    /// One filter module's counters, by IfIndex (read access).
    ModuleStats,
    /// Fail or reinstate one path, by its module's IfIndex (write access).
    AdminPath,
    /// Change a group's policy and group-scope parameters, by `GroupId` (write access).
    SetGroup,
    /// Change one path's weight, priority or quota, by its module's IfIndex (write access).
    SetPath,
    /// Zero a group's or a module's counters (write access).
    ResetCounters,
}

impl Ioctl {
    /// Every IOCTL, in function-number order.
    pub const ALL: [Ioctl; 6] = [
        Ioctl::ListGroups,
        Ioctl::ModuleStats,
        Ioctl::AdminPath,
        Ioctl::SetGroup,
        Ioctl::SetPath,
        Ioctl::ResetCounters,
    ];

    /// The function number (0x800 and up).
    pub const fn function(self) -> u32 {
        match self {
            Ioctl::ListGroups => 0x800,
            Ioctl::ModuleStats => 0x801,
            Ioctl::AdminPath => 0x802,
            Ioctl::SetGroup => 0x803,
            Ioctl::SetPath => 0x804,
            Ioctl::ResetCounters => 0x805,
        }
    }

    /// Whether it changes state (and so requires FILE_WRITE_ACCESS).
    pub const fn changes_state(self) -> bool {
        !matches!(self, Ioctl::ListGroups | Ioctl::ModuleStats)
    }

    /// The access the code demands of the handle.
    pub const fn access(self) -> u32 {
        if self.changes_state() {
            FILE_WRITE_ACCESS
        } else {
            FILE_READ_ACCESS
        }
    }

    /// The IOCTL code.
    pub const fn code(self) -> u32 {
        ctl_code(
            FILE_DEVICE_PHYSICAL_NETCARD,
            self.function(),
            METHOD_BUFFERED,
            self.access(),
        )
    }

    /// The message kind carried in the [`Header`](crate::Header) (the function number's low
    /// bits, so a buffer sent with the wrong code is recognised).
    pub const fn kind(self) -> u16 {
        // Function numbers are 0x800..0x806: the low 12 bits fit a u16.
        #[allow(clippy::cast_possible_truncation)]
        let k = (self.function() & 0xFFF) as u16;
        k
    }

    /// The IOCTL whose code is `code`, if any.
    pub fn from_code(code: u32) -> Option<Ioctl> {
        Ioctl::ALL.into_iter().find(|i| i.code() == code)
    }

    /// The IOCTL whose header kind is `kind`, if any.
    pub fn from_kind(kind: u16) -> Option<Ioctl> {
        Ioctl::ALL.into_iter().find(|i| i.kind() == kind)
    }
}
