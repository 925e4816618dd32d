//! The control device: `\Device\MpFilter` (`\\.\MpFilter` from user mode), which mpctl opens to
//! list the path groups, read a module's counters and fail or reinstate a path.
//!
//! - Registered by DriverEntry after `NdisFRegisterFilterDriver` (NdisRegisterDeviceEx with the
//!   driver handle), deregistered by unload before `NdisFDeregisterFilterDriver`. A failed
//!   registration leaves the filter working without the device.
//! - Access: `SDDL_DEVOBJ_SYS_ALL_ADM_ALL` (SYSTEM and Administrators only). NdisRegisterDeviceEx
//!   takes no device characteristics, so `FILE_DEVICE_SECURE_OPEN` cannot be asked for; its
//!   purpose — no open of a name below the device escapes the device's ACL — is served by
//!   refusing every IRP_MJ_CREATE whose file name is not empty.
//! - Every IOCTL is METHOD_BUFFERED; the input is decoded and validated by `mpctl-proto` before
//!   anything is done, a state-changing code also needs a handle with write access
//!   (`IoValidateDeviceIoControlAccess`, on top of the I/O manager's check of the code's access
//!   bits, which a kernel-mode sender bypasses), and a refused request changes nothing.
//! - A refused IOCTL is reported as the `ioctl-rejected` diagnostic event (code, status, reason).
//! - The device's reserved extension holds a pointer to the driver state, the only way from a
//!   dispatch routine (which gets the device object) to the groups.
//!
//! - Runtime changes (set a group's policy and parameters, a path's weight / priority / quota,
//!   reset counters) are the team's (`team/configure.rs`): checked by the registry's reader,
//!   carried out on a new engine generation that keeps the paths' states, not persisted.

use super::entry::{static_unicode, utf16};
use super::state::DriverState;
use super::team::{GroupSnapshot, Refusal};
use super::{MemberSnapshot, counters};
use crate::diag::{self, Emitter, Event, RequestRejectReason};
use crate::engine::{PathState, Reason};
use crate::ndis::consts::{
    NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1, NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
    NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};
use crate::ndis::io_imports;
use crate::ndis::irp::{
    DriverDispatch, IRP, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE, IRP_MJ_DEVICE_CONTROL, Irp,
    NTSTATUS, STATUS_ACCESS_DENIED, STATUS_INVALID_DEVICE_REQUEST, STATUS_SUCCESS,
};
use crate::ndis::types::{
    DEVICE_OBJECT, IRP_MJ_COUNT, NDIS_DEVICE_OBJECT_ATTRIBUTES, NDIS_HANDLE, NDIS_OBJECT_HEADER,
    NDIS_STATUS,
};
use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;
use mpctl_proto::code::{DEVICE_NAME, SDDL, SYMBOLIC_NAME};
use mpctl_proto::response::MODULE_ANSWER_LEN;
use mpctl_proto::{
    GroupList, GroupRecord, Ioctl, LIST_HEAD_LEN, ModuleCounters, PathRecord, Request, ResetTarget,
    status,
};

static DEVICE_NAME_UTF16: [u16; DEVICE_NAME.len()] = utf16(DEVICE_NAME);
static SYMBOLIC_NAME_UTF16: [u16; SYMBOLIC_NAME.len()] = utf16(SYMBOLIC_NAME);
static SDDL_UTF16: [u16; SDDL.len()] = utf16(SDDL);

/// Creates the control device and points its extension at `state`; stores its handle in the
/// state. Returns the NDIS status (the caller goes on without the device on failure).
///
/// # Safety
/// PASSIVE_LEVEL, from DriverEntry after a successful NdisFRegisterFilterDriver; `state` is the
/// initialised driver state, which outlives the device (unload deregisters it first).
pub(super) unsafe fn register(state: *mut DriverState) -> NDIS_STATUS {
    let mut device_name = static_unicode(&DEVICE_NAME_UTF16);
    let mut symbolic_name = static_unicode(&SYMBOLIC_NAME_UTF16);
    let sddl = static_unicode(&SDDL_UTF16);
    let mut table: [*mut c_void; IRP_MJ_COUNT] = [ptr::null_mut(); IRP_MJ_COUNT];
    let routine: DriverDispatch = dispatch;
    for major in [
        IRP_MJ_CREATE,
        IRP_MJ_CLOSE,
        IRP_MJ_CLEANUP,
        IRP_MJ_DEVICE_CONTROL,
    ] {
        table[usize::from(major)] = routine as *mut c_void;
    }
    let mut attrs = NDIS_DEVICE_OBJECT_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
            NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        ),
        DeviceName: &raw mut device_name,
        SymbolicName: &raw mut symbolic_name,
        MajorFunctions: table.as_mut_ptr(),
        // One pointer, to the driver state.
        #[allow(clippy::cast_possible_truncation)]
        ExtensionSize: size_of::<*const DriverState>() as u32,
        DefaultSDDLString: &raw const sddl,
        DeviceClassGuid: ptr::null(),
    };
    let mut device: *mut DEVICE_OBJECT = ptr::null_mut();
    let mut handle: NDIS_HANDLE = ptr::null_mut();
    // SAFETY: the driver state is initialised (caller contract); this reads one field.
    let driver_handle = unsafe { (*state).filter_driver_handle };
    // SAFETY: PASSIVE_LEVEL, the filter driver handle, attributes and names valid for the call
    // (NDIS copies the names and the dispatch table), out pointers to locals.
    let st = unsafe {
        io_imports::NdisRegisterDeviceEx(
            driver_handle,
            &raw mut attrs,
            &raw mut device,
            &raw mut handle,
        )
    };
    if st != NDIS_STATUS_SUCCESS {
        return st;
    }
    // SAFETY: a device NdisRegisterDeviceEx just created.
    let ext =
        unsafe { io_imports::NdisGetDeviceReservedExtension(device) }.cast::<*const DriverState>();
    if ext.is_null() || !ext.is_aligned() {
        // SAFETY: the handle just returned, deregistered once.
        unsafe { io_imports::NdisDeregisterDeviceEx(handle) };
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: the extension holds `ExtensionSize` bytes, aligned (checked), and is ours; no
    // request can reach the device before DriverEntry returns.
    unsafe { ext.write(state.cast_const()) };
    // SAFETY: DriverEntry runs alone.
    unsafe { (*state).control_device = handle };
    NDIS_STATUS_SUCCESS
}

/// Deletes the control device, if there is one.
///
/// # Safety
/// PASSIVE_LEVEL, from unload (which runs alone), with the initialised driver state.
pub(super) unsafe fn deregister(state: *mut DriverState) {
    // SAFETY: unload runs alone.
    let handle = unsafe { (*state).control_device };
    if handle.is_null() {
        return;
    }
    // SAFETY: the handle NdisRegisterDeviceEx returned, deregistered once (cleared below).
    unsafe { io_imports::NdisDeregisterDeviceEx(handle) };
    // SAFETY: as above.
    unsafe { (*state).control_device = ptr::null_mut() };
}

/// The dispatch routine of CREATE, CLOSE, CLEANUP and DEVICE_CONTROL (PASSIVE_LEVEL).
unsafe extern "system" fn dispatch(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the I/O manager's IRP for this driver's device, not yet completed.
    let Some(irp) = (unsafe { Irp::from_dispatch(irp) }) else {
        return STATUS_INVALID_DEVICE_REQUEST;
    };
    // SAFETY: the device is the one `register` created; its extension holds the driver state.
    let ext =
        unsafe { io_imports::NdisGetDeviceReservedExtension(device) }.cast::<*const DriverState>();
    // SAFETY: NULL or the extension `register` wrote before any request could arrive.
    let slot = unsafe { ext.as_ref() }.copied().unwrap_or(ptr::null());
    // SAFETY: the driver state, which outlives the device.
    let state = unsafe { slot.as_ref() };
    match state {
        Some(state) => serve(state, irp),
        None => irp.complete(STATUS_INVALID_DEVICE_REQUEST, 0),
    }
}

/// Carries out one request and completes it.
fn serve(state: &DriverState, mut irp: Irp) -> NTSTATUS {
    match irp.major() {
        IRP_MJ_CREATE => {
            let st = if irp.open_name_len() == 0 {
                STATUS_SUCCESS
            } else {
                STATUS_ACCESS_DENIED
            };
            irp.complete(st, 0)
        }
        IRP_MJ_CLOSE | IRP_MJ_CLEANUP => irp.complete(STATUS_SUCCESS, 0),
        IRP_MJ_DEVICE_CONTROL => {
            let code = irp.ioctl_code();
            let (st, written) = device_control(state, &mut irp);
            if st < 0 {
                diag::emit(
                    Emitter::driver(state.filter_driver_handle),
                    Event::IoctlRejected {
                        code,
                        status: st,
                        reason: reject_reason(st),
                    },
                );
            }
            irp.complete(st, written)
        }
        _ => irp.complete(STATUS_INVALID_DEVICE_REQUEST, 0),
    }
}

/// The diagnostic reason of a refusal's status.
fn reject_reason(st: NTSTATUS) -> RequestRejectReason {
    match st {
        STATUS_INVALID_DEVICE_REQUEST => RequestRejectReason::Unsupported,
        status::ACCESS_DENIED => RequestRejectReason::AccessDenied,
        status::BUFFER_TOO_SMALL => RequestRejectReason::BufferTooSmall,
        _ => RequestRejectReason::InvalidValue,
    }
}

/// An IOCTL: the status and the bytes of output.
fn device_control(state: &DriverState, irp: &mut Irp) -> (NTSTATUS, usize) {
    let code = irp.ioctl_code();
    let Some(ioctl) = Ioctl::from_code(code) else {
        return (STATUS_INVALID_DEVICE_REQUEST, 0);
    };
    if ioctl.changes_state() && !irp.has_write_access() {
        return (status::ACCESS_DENIED, 0);
    }
    let request = match Request::decode(code, irp.input()) {
        Ok(r) => r,
        Err(e) => return (e.status(), 0),
    };
    let out = irp.output();
    match request {
        Request::ListGroups => {
            let (groups, paths) = records(&state.team.snapshots());
            match GroupList::encode(out, &groups, &paths) {
                Ok(n) => (status::SUCCESS, n),
                Err(_) if out.len() >= LIST_HEAD_LEN => (status::BUFFER_OVERFLOW, LIST_HEAD_LEN),
                Err(_) => (status::BUFFER_TOO_SMALL, 0),
            }
        }
        Request::ModuleStats { if_index } => {
            if out.len() < MODULE_ANSWER_LEN {
                return (status::BUFFER_TOO_SMALL, 0);
            }
            let Some(stats) = state.team.member_stats(if_index) else {
                return (status::NOT_FOUND, 0);
            };
            let answer = ModuleCounters {
                if_index,
                values: counters::values(&stats),
            };
            match answer.encode(out) {
                Ok(n) => (status::SUCCESS, n),
                Err(_) => (status::BUFFER_TOO_SMALL, 0),
            }
        }
        Request::AdminPath { if_index, action } => {
            let fail = matches!(action, mpctl_proto::AdminAction::Fail);
            if state.team.admin_by_if_index(if_index, fail) {
                (status::SUCCESS, 0)
            } else {
                (status::NOT_FOUND, 0)
            }
        }
        Request::SetGroup { group, settings } => done(state.team.set_group(group, &settings)),
        Request::SetPath { if_index, settings } => done(state.team.set_path(if_index, &settings)),
        Request::ResetCounters(ResetTarget::Group(group)) => done(state.team.reset_group(group)),
        Request::ResetCounters(ResetTarget::Module(if_index)) => {
            done(state.team.reset_module(if_index))
        }
    }
}

/// The status of a runtime change.
fn done(r: Result<(), Refusal>) -> (NTSTATUS, usize) {
    let st = match r {
        Ok(()) => status::SUCCESS,
        Err(Refusal::NotFound) => status::NOT_FOUND,
        Err(Refusal::Invalid) => status::INVALID_PARAMETER,
        Err(Refusal::Busy) => status::DEVICE_BUSY,
    };
    (st, 0)
}

/// The wire records of the groups.
fn records(groups: &[GroupSnapshot]) -> (Vec<GroupRecord>, Vec<PathRecord>) {
    let mut out_groups = Vec::with_capacity(groups.len());
    let mut out_paths = Vec::new();
    for g in groups {
        // At most 16 members.
        #[allow(clippy::cast_possible_truncation)]
        out_groups.push(GroupRecord {
            group: g.group,
            generation: g.generation,
            eligible_mask: g.eligible_mask,
            members: g.members.len() as u32,
            policy: GroupRecord::policy_field(g.policy),
        });
        out_paths.extend(g.members.iter().map(|m| path_record(g.group, m)));
    }
    (out_groups, out_paths)
}

fn path_record(group: u32, m: &MemberSnapshot) -> PathRecord {
    let mut r = PathRecord {
        group,
        if_index: m.if_index,
        seat: m.seat,
        running: m.running,
        connected: m.connected,
        has_path: false,
        state: mpctl_proto::PathState::Failed,
        from: mpctl_proto::PathState::Failed,
        reason: mpctl_proto::Reason::Initial,
        share_ppm: None,
        weight: None,
        xmit_bps: m.xmit_bps,
        speed_bps: None,
        last_transition_ns: 0,
        transitions: 0,
        send_errors: 0,
        sent_nbls: 0,
        sent_bytes: 0,
        completed_nbls: 0,
        completed_bytes: 0,
        failed_nbls: 0,
        failed_bytes: 0,
    };
    if let Some(p) = &m.path {
        r.has_path = true;
        r.state = wire_state(p.state);
        r.from = wire_state(p.last_transition.from);
        r.reason = wire_reason(p.last_transition.reason);
        r.share_ppm = p.policy.share_ppm;
        r.weight = p.policy.weight;
        r.speed_bps = p.policy.speed_bps;
        r.last_transition_ns = p.last_transition.at_ns;
        r.transitions = p.transitions;
        r.send_errors = p.send_errors;
        r.sent_nbls = p.counters.sent_nbls;
        r.sent_bytes = p.counters.sent_bytes;
        r.completed_nbls = p.counters.completed_nbls;
        r.completed_bytes = p.counters.completed_bytes;
        r.failed_nbls = p.counters.failed_nbls;
        r.failed_bytes = p.counters.failed_bytes;
    }
    r
}

fn wire_state(s: PathState) -> mpctl_proto::PathState {
    use mpctl_proto::PathState as W;
    match s {
        PathState::Active => W::Active,
        PathState::Standby => W::Standby,
        PathState::Failed => W::Failed,
        PathState::Recovering => W::Recovering,
        PathState::Marginal => W::Marginal,
    }
}

fn wire_reason(r: Reason) -> mpctl_proto::Reason {
    use mpctl_proto::Reason as W;
    match r {
        Reason::Initial => W::Initial,
        Reason::LinkDown => W::LinkDown,
        Reason::LinkUp => W::LinkUp,
        Reason::SendErrors => W::SendErrors,
        Reason::ErrorsForgiven => W::ErrorsForgiven,
        Reason::ShimPathFailed => W::ShimPathFailed,
        Reason::ShimPathRecovered => W::ShimPathRecovered,
        Reason::ProbeLost => W::ProbeLost,
        Reason::ProbeAnswered => W::ProbeAnswered,
        Reason::MemberPaused => W::MemberPaused,
        Reason::MemberRestarted => W::MemberRestarted,
        Reason::MemberDetached => W::MemberDetached,
        Reason::MemberAttached => W::MemberAttached,
        Reason::AdminFail => W::AdminFail,
        Reason::AdminReinstate => W::AdminReinstate,
        Reason::HoldDownElapsed => W::HoldDownElapsed,
        Reason::FlapDamped => W::FlapDamped,
        Reason::MarginalStable => W::MarginalStable,
        Reason::NoOtherPath => W::NoOtherPath,
    }
}

#[cfg(test)]
mod tests {
    //! Registration and every refusal against the recording doubles; the emulator's tests
    //! (`tests/tests/control.rs`) run the same handlers with real groups.
    use super::*;
    use crate::driver::entry::DriverEntry;
    use crate::ndis::irp::{IO_STACK_LOCATION, IRP};
    use crate::ndis::mock::{Config, Session};
    use crate::ndis::mock_io::IoSession;
    use crate::ndis::types::DRIVER_OBJECT;
    use mpctl_proto::{AdminAction, DecodeError};
    use std::boxed::Box;
    use std::vec;

    /// A driver loaded against the doubles, with its control device.
    struct Loaded {
        driver: Box<DRIVER_OBJECT>,
        io: IoSession,
        _ndis: Session,
        unloaded: bool,
    }

    fn load(read_only: bool) -> Loaded {
        let ndis = Session::new(Config::default());
        let io = IoSession::new(NDIS_STATUS_SUCCESS, read_only);
        // SAFETY: DRIVER_OBJECT is integers, pointers and an Option of a function pointer.
        let mut driver = unsafe { Box::<DRIVER_OBJECT>::new_zeroed().assume_init() };
        // SAFETY: a valid (fake) driver object.
        assert_eq!(unsafe { DriverEntry(&raw mut *driver, ptr::null_mut()) }, 0);
        Loaded {
            driver,
            io,
            _ndis: ndis,
            unloaded: false,
        }
    }

    impl Loaded {
        fn dispatch_routine(&self) -> usize {
            self.io.registered()[0].major_functions[usize::from(IRP_MJ_DEVICE_CONTROL)]
        }

        /// Sends one request; returns (returned status, completions seen, output).
        fn send(
            &self,
            major: u8,
            code: u32,
            input: &[u8],
            out_len: usize,
            name_len: u16,
        ) -> (NTSTATUS, Vec<(usize, NTSTATUS, usize)>, Vec<u8>) {
            let mut buffer = vec![0u8; input.len().max(out_len)];
            buffer[..input.len()].copy_from_slice(input);
            let mut file = crate::ndis::irp::FILE_OBJECT {
                Head: [0; 11],
                FileName: crate::ndis::types::UNICODE_STRING {
                    Length: name_len,
                    MaximumLength: name_len,
                    Buffer: ptr::null_mut(),
                },
            };
            // SAFETY: both are integers and raw pointers, valid when zeroed.
            let mut stack: Box<IO_STACK_LOCATION> = unsafe { Box::new_zeroed().assume_init() };
            // SAFETY: as above.
            let mut irp: Box<IRP> = unsafe { Box::new_zeroed().assume_init() };
            stack.MajorFunction = major;
            stack.Parameters.IoControlCode = code;
            stack.Parameters.InputBufferLength = u32::try_from(input.len()).unwrap();
            stack.Parameters.OutputBufferLength = u32::try_from(out_len).unwrap();
            stack.FileObject = &raw mut file;
            irp.SystemBuffer = buffer.as_mut_ptr().cast();
            irp.CurrentStackLocation = &raw mut *stack;
            let device = self.io.registered()[0].handle;
            let entry = ptr::with_exposed_provenance::<()>(self.dispatch_routine());
            // SAFETY: the table entry is `dispatch`, a DriverDispatch (its address was exposed).
            let routine = unsafe { core::mem::transmute::<*const (), DriverDispatch>(entry) };
            // SAFETY: a fake IRP with a stack location and a system buffer of max(in, out).
            let st = unsafe { routine(ptr::with_exposed_provenance_mut(device), &raw mut *irp) };
            buffer.truncate(out_len);
            (st, self.io.completions(), buffer)
        }
    }

    impl Loaded {
        fn unload(&mut self) {
            if !core::mem::replace(&mut self.unloaded, true) {
                let unload = self.driver.DriverUnload.expect("unload set");
                // SAFETY: the driver object DriverEntry succeeded on, unloaded once.
                unsafe { unload(&raw mut *self.driver) };
            }
        }
    }

    impl Drop for Loaded {
        fn drop(&mut self) {
            self.unload();
        }
    }

    fn encoded(r: &Request) -> Vec<u8> {
        let mut b = vec![0; r.len()];
        r.encode(&mut b).unwrap();
        b
    }

    #[test]
    fn driver_entry_registers_the_device_and_unload_deletes_it() {
        let mut l = load(false);
        let r = l.io.registered();
        assert_eq!(r.len(), 1);
        let d = &r[0];
        assert_eq!(d.device_name, "\\Device\\MpFilter");
        assert_eq!(d.symbolic_name, "\\DosDevices\\MpFilter");
        assert_eq!(d.sddl.as_deref(), Some("D:P(A;;GA;;;SY)(A;;GA;;;BA)"));
        assert!(d.class_guid_null, "DeviceClassGuid is reserved for NDIS");
        assert_eq!(d.extension_size, 8);
        for (major, f) in d.major_functions.iter().enumerate() {
            let served = [0x00, 0x02, 0x0E, 0x12].contains(&major);
            assert_eq!(
                *f != 0,
                served,
                "IRP_MJ {major:#x}: no PnP or Power handler"
            );
        }
        let handle = d.handle;
        assert!(l.io.deregistered().is_empty());
        l.unload();
        assert_eq!(l.io.deregistered(), [handle]);
    }

    #[test]
    fn creates_closes_and_refusals_complete_once_with_their_status() {
        let l = load(false);
        let (st, done, _) = l.send(IRP_MJ_CREATE, 0, &[], 0, 0);
        assert_eq!(
            (st, done.len(), done[0].1),
            (STATUS_SUCCESS, 1, STATUS_SUCCESS)
        );
        let (st, done, _) = l.send(IRP_MJ_CREATE, 0, &[], 0, 8);
        assert_eq!(
            (st, done[1].1),
            (STATUS_ACCESS_DENIED, STATUS_ACCESS_DENIED),
            "a name below the device"
        );
        let (st, _, _) = l.send(IRP_MJ_CLEANUP, 0, &[], 0, 0);
        assert_eq!(st, STATUS_SUCCESS);
        let (st, _, _) = l.send(IRP_MJ_CLOSE, 0, &[], 0, 0);
        assert_eq!(st, STATUS_SUCCESS);

        let list = encoded(&Request::ListGroups);
        let code = Ioctl::ListGroups.code();
        let (st, done, out) = l.send(IRP_MJ_DEVICE_CONTROL, code, &list, 64, 0);
        assert_eq!(
            (st, done.last().unwrap().2),
            (status::SUCCESS, LIST_HEAD_LEN)
        );
        let decoded = GroupList::decode(&out[..LIST_HEAD_LEN]).unwrap();
        assert_eq!(
            decoded.groups().count(),
            0,
            "no group without teamed modules"
        );
        let (st, done, _) = l.send(IRP_MJ_DEVICE_CONTROL, code, &list, 8, 0);
        assert_eq!((st, done.last().unwrap().2), (status::BUFFER_TOO_SMALL, 0));
        let (st, _, _) = l.send(IRP_MJ_DEVICE_CONTROL, 0x0022_0000, &list, 64, 0);
        assert_eq!(st, STATUS_INVALID_DEVICE_REQUEST);
        let mut v2 = list.clone();
        v2[0] = 2;
        let (st, _, _) = l.send(IRP_MJ_DEVICE_CONTROL, code, &v2, 64, 0);
        assert_eq!(st, DecodeError::UnsupportedVersion(2).status());

        let stats = encoded(&Request::ModuleStats { if_index: 9 });
        let (st, _, _) = l.send(
            IRP_MJ_DEVICE_CONTROL,
            Ioctl::ModuleStats.code(),
            &stats,
            MODULE_ANSWER_LEN,
            0,
        );
        assert_eq!(st, status::NOT_FOUND);
        let (st, _, _) = l.send(
            IRP_MJ_DEVICE_CONTROL,
            Ioctl::ModuleStats.code(),
            &stats,
            16,
            0,
        );
        assert_eq!(st, status::BUFFER_TOO_SMALL);
        let fail = encoded(&Request::AdminPath {
            if_index: 9,
            action: AdminAction::Fail,
        });
        let (st, _, _) = l.send(IRP_MJ_DEVICE_CONTROL, Ioctl::AdminPath.code(), &fail, 0, 0);
        assert_eq!(st, status::NOT_FOUND);
        let all = l.io.completions();
        assert_eq!(all.len(), 11, "every request completed exactly once");
        assert!(all.iter().all(|c| c.2 == 0 || c.1 == status::SUCCESS));
    }

    #[test]
    fn runtime_changes_need_write_access_and_an_existing_group_or_member() {
        let settings =
            mpctl_proto::Settings::new(&[
                mpctl_proto::Setting::new("Policy", "round-robin").unwrap()
            ])
            .unwrap();
        let requests = [
            Request::SetGroup { group: 7, settings },
            Request::SetPath {
                if_index: 9,
                settings,
            },
            Request::ResetCounters(ResetTarget::Group(7)),
            Request::ResetCounters(ResetTarget::Module(9)),
        ];
        let ro = load(true);
        for r in &requests {
            let (st, _, _) = ro.send(IRP_MJ_DEVICE_CONTROL, r.ioctl().code(), &encoded(r), 0, 0);
            assert_eq!(st, status::ACCESS_DENIED, "{r:?}");
        }
        drop(ro);
        let rw = load(false);
        for r in &requests {
            let (st, _, _) = rw.send(IRP_MJ_DEVICE_CONTROL, r.ioctl().code(), &encoded(r), 0, 0);
            assert_eq!(
                st,
                status::NOT_FOUND,
                "{r:?}: no group without teamed modules"
            );
        }
        let mut bad = encoded(&requests[0]);
        bad[12] = 0;
        let (st, _, _) = rw.send(IRP_MJ_DEVICE_CONTROL, Ioctl::SetGroup.code(), &bad, 0, 0);
        assert_eq!(st, status::INVALID_PARAMETER, "a settings count of 0");
        let all = rw.io.completions();
        assert!(all.iter().all(|c| c.2 == 0), "no answer bytes for a change");
    }

    #[test]
    fn a_read_only_handle_cannot_fail_a_path() {
        let l = load(true);
        let fail = encoded(&Request::AdminPath {
            if_index: 9,
            action: AdminAction::Fail,
        });
        let (st, _, _) = l.send(IRP_MJ_DEVICE_CONTROL, Ioctl::AdminPath.code(), &fail, 0, 0);
        assert_eq!(st, status::ACCESS_DENIED);
        let list = encoded(&Request::ListGroups);
        let (st, _, _) = l.send(
            IRP_MJ_DEVICE_CONTROL,
            Ioctl::ListGroups.code(),
            &list,
            64,
            0,
        );
        assert_eq!(st, status::SUCCESS, "reading needs no write access");
    }
}
