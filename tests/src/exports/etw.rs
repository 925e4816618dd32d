//! Kernel-mode ETW: `EtwRegister`, `EtwSetInformation`, `EtwWriteTransfer`, `EtwUnregister`, the
//! four a `.sys` built with the `tracelogging` crate imports.
//!
//! The emulator stands in for one ETW session that enables every provider completely: a
//! registration is recorded and its enable callback is called at once with level 0xFF and every
//! keyword, as a session listening to everything would (`Emulator::set_etw_session` narrows the
//! session, or removes it). Every event written is decoded
//! (`pe::tracelogging`) back into the catalogue's `diag::Event` and recorded exactly as the host
//! build's records are (`Emulator::diag_events`: virtual time, the adapter of the `handle` field);
//! an event that does not decode is a `DiagReject`. A registration still open at unload is a
//! `leak.etw-provider`.
#![allow(non_snake_case)]

use crate::abi::Abi;
use crate::diag::{DiagRecord, DiagReject, DiagRejectReason};
use crate::irql::Irql;
use crate::pe::tracelogging::{self, Descriptor};
use crate::rules::{Rule, Subject};
use crate::world::{self, HandleKind, Token, World};
use core::ffi::c_void;
use mpfilter::ndis::types::{GUID, NDIS_STATUS};
use std::collections::HashMap;

/// `STATUS_SUCCESS`.
const STATUS_SUCCESS: NDIS_STATUS = 0;
/// `STATUS_INVALID_PARAMETER`.
#[allow(clippy::cast_possible_wrap)]
const STATUS_INVALID_PARAMETER: NDIS_STATUS = 0xC000_000D_u32 as i32;
/// `STATUS_INVALID_HANDLE`.
#[allow(clippy::cast_possible_wrap)]
const STATUS_INVALID_HANDLE: NDIS_STATUS = 0xC000_0008_u32 as i32;
/// `STATUS_NOT_SUPPORTED`.
#[allow(clippy::cast_possible_wrap)]
const STATUS_NOT_SUPPORTED: NDIS_STATUS = 0xC000_00BB_u32 as i32;

/// `EVENT_CONTROL_CODE_ENABLE_PROVIDER`.
pub const ENABLE_PROVIDER: u32 = 1;
/// `EventProviderSetTraits`: the information is the provider's TraceLogging traits.
pub const EVENT_PROVIDER_SET_TRAITS: u32 = 2;
/// The level the emulated session enables (everything).
pub const SESSION_LEVEL: u8 = 0xFF;

/// `EVENT_DATA_DESCRIPTOR`: where one block of an event is, and (low byte of `Reserved`) what it
/// is: 0 user data, 1 event metadata, 2 provider metadata.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EVENT_DATA_DESCRIPTOR {
    /// Address of the bytes.
    pub Ptr: u64,
    /// Their count.
    pub Size: u32,
    /// Type in the low byte.
    pub Reserved: u32,
}

/// `EVENT_DESCRIPTOR`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EVENT_DESCRIPTOR {
    /// Id.
    pub Id: u16,
    /// Version.
    pub Version: u8,
    /// Channel.
    pub Channel: u8,
    /// Level.
    pub Level: u8,
    /// Opcode.
    pub Opcode: u8,
    /// Task.
    pub Task: u16,
    /// Keyword.
    pub Keyword: u64,
}

/// Most data descriptors one event may have (ETW's own limit is 128).
const MAX_DESCRIPTORS: u32 = 128;
/// Most bytes one event may carry (ETW drops larger events).
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// One registered provider.
pub(crate) struct Provider {
    /// The registration handle's value, kept unique while registered.
    _token: Token,
    /// The provider GUID, as laid out in memory.
    pub guid: [u8; 16],
    /// The traits `EtwSetInformation` set, if any.
    pub traits: Option<Vec<u8>>,
}

/// What the emulated ETW session enables in every provider that registers: a level and the
/// match-any keywords (`None`: no session listens, and no provider is enabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// Events at this level or below are enabled.
    pub level: u8,
    /// Events with any of these keywords are enabled.
    pub keywords: u64,
}

impl Session {
    /// Everything: level 0xFF, every keyword (the default).
    pub const EVERYTHING: Session = Session {
        level: SESSION_LEVEL,
        keywords: u64::MAX,
    };
}

/// The providers registered with this emulator, and the session that enables them.
pub(crate) struct EtwState {
    pub providers: HashMap<u64, Provider>,
    pub session: Option<Session>,
}

impl Default for EtwState {
    fn default() -> Self {
        EtwState {
            providers: HashMap::new(),
            session: Some(Session::EVERYTHING),
        }
    }
}

crate::exports! {
    "ntoskrnl.exe" => {
        fn EtwRegister(
            provider_id: *const GUID,
            callback: usize,
            context: *mut c_void,
            reg_handle: *mut u64,
        ) -> NDIS_STATUS => register;
        fn EtwUnregister(reg_handle: u64) -> NDIS_STATUS => unregister;
        fn EtwSetInformation(
            reg_handle: u64,
            class: u32,
            information: *const c_void,
            length: u32,
        ) -> NDIS_STATUS => set_information;
        fn EtwWriteTransfer(
            reg_handle: u64,
            descriptor: *const EVENT_DESCRIPTOR,
            activity_id: *const GUID,
            related_id: *const GUID,
            count: u32,
            data: *const EVENT_DATA_DESCRIPTOR,
        ) -> NDIS_STATUS => write_transfer;
    }
}

/// Records an `etw.invalid` violation.
fn invalid(w: &mut World, call: &'static str, handle: u64, detail: impl Into<String>) {
    w.violate(
        Rule::EtwInvalid,
        Subject::Handle(usize::try_from(handle).unwrap_or(usize::MAX)),
        call,
        detail,
    );
}

/// Whether `handle` is registered; an `etw.invalid` violation if not.
fn registered(w: &mut World, call: &'static str, handle: u64) -> bool {
    if w.etw.providers.contains_key(&handle) {
        return true;
    }
    invalid(
        w,
        call,
        handle,
        "not a registration handle from EtwRegister (never registered, or unregistered)",
    );
    false
}

/// Whether the call runs at PASSIVE_LEVEL; an `etw.invalid` violation if not.
fn at_passive(w: &mut World, call: &'static str, handle: u64) -> bool {
    if w.irql == Irql::Passive {
        return true;
    }
    let irql = w.irql;
    invalid(
        w,
        call,
        handle,
        format!("called at {irql}, not PASSIVE_LEVEL"),
    );
    false
}

/// `EtwRegister`: records the provider, writes its handle, then enables it as a session taking
/// everything would (before returning, as ETW does for a provider already enabled).
///
/// # Safety
/// `provider_id` NULL or readable; `reg_handle` NULL or writable; `callback` 0 or an enable
/// callback of the caller's ABI.
unsafe fn register(
    abi: Abi,
    provider_id: *const GUID,
    callback: usize,
    context: *mut c_void,
    reg_handle: *mut u64,
) -> NDIS_STATUS {
    const CALL: &str = "EtwRegister";
    if provider_id.is_null() || reg_handle.is_null() {
        world::with(|w| invalid(w, CALL, 0, "NULL ProviderId or RegHandle"));
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-NULL and readable (contract); a GUID is 16 bytes of plain data.
    let guid: [u8; 16] = unsafe { provider_id.cast::<[u8; 16]>().read_unaligned() };
    let registered = world::with(|w| {
        if !at_passive(w, CALL, 0) {
            return None;
        }
        let token = Token::new();
        let handle = token.addr() as u64;
        w.etw.providers.insert(
            handle,
            Provider {
                _token: token,
                guid,
                traits: None,
            },
        );
        Some((handle, w.etw.session))
    })
    .flatten();
    let Some((handle, session)) = registered else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: non-NULL and writable (contract).
    unsafe { reg_handle.write_unaligned(handle) };
    if let (Some(session), true) = (session, callback != 0) {
        // SAFETY: the caller's enable callback in its ABI (contract), with the GUID it passed and
        // its own context; the world is not borrowed.
        unsafe {
            crate::callbacks::etw_enable(
                abi,
                callback,
                provider_id,
                ENABLE_PROVIDER,
                session.level,
                session.keywords,
                0,
                context,
            );
        }
    }
    STATUS_SUCCESS
}

// SAFETY (for callers): any value.
unsafe fn unregister(_abi: Abi, reg_handle: u64) -> NDIS_STATUS {
    const CALL: &str = "EtwUnregister";
    let ok = world::with(|w| {
        if !registered(w, CALL, reg_handle) || !at_passive(w, CALL, reg_handle) {
            return false;
        }
        w.etw.providers.remove(&reg_handle);
        true
    });
    if ok == Some(true) {
        STATUS_SUCCESS
    } else {
        STATUS_INVALID_HANDLE
    }
}

/// `EtwSetInformation`: keeps the TraceLogging traits (class 2); other classes are not
/// supported here.
///
/// # Safety
/// `information` NULL or readable for `length` bytes.
unsafe fn set_information(
    _abi: Abi,
    reg_handle: u64,
    class: u32,
    information: *const c_void,
    length: u32,
) -> NDIS_STATUS {
    const CALL: &str = "EtwSetInformation";
    let len = length as usize;
    let bytes = if information.is_null() || len > MAX_EVENT_BYTES {
        None
    } else {
        // SAFETY: non-NULL and readable for `length` bytes (contract).
        Some(unsafe { core::slice::from_raw_parts(information.cast::<u8>(), len) }.to_vec())
    };
    world::with(|w| {
        if !registered(w, CALL, reg_handle) {
            return STATUS_INVALID_HANDLE;
        }
        if class != EVENT_PROVIDER_SET_TRAITS {
            return STATUS_NOT_SUPPORTED;
        }
        let Some(bytes) = bytes else {
            invalid(w, CALL, reg_handle, "NULL or oversized traits");
            return STATUS_INVALID_PARAMETER;
        };
        if let Err(e) = tracelogging::provider_name(&bytes) {
            invalid(w, CALL, reg_handle, format!("malformed traits: {e:?}"));
            return STATUS_INVALID_PARAMETER;
        }
        if let Some(p) = w.etw.providers.get_mut(&reg_handle) {
            p.traits = Some(bytes);
        }
        STATUS_SUCCESS
    })
    .unwrap_or(STATUS_INVALID_HANDLE)
}

/// The blocks of an event: (provider metadata, event metadata, user data concatenated).
type Blocks = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Copies the blocks the data descriptors point at.
///
/// # Safety
/// `data` NULL or readable for `count` descriptors, each NULL or readable for its size.
unsafe fn blocks(count: u32, data: *const EVENT_DATA_DESCRIPTOR) -> Result<Blocks, &'static str> {
    if count > MAX_DESCRIPTORS {
        return Err("more than 128 data descriptors");
    }
    if data.is_null() {
        return if count == 0 {
            Ok((Vec::new(), Vec::new(), Vec::new()))
        } else {
            Err("NULL UserData with a non-zero count")
        };
    }
    // SAFETY: readable for `count` descriptors (contract).
    let descriptors = unsafe { core::slice::from_raw_parts(data, count as usize) };
    let (mut provider, mut event, mut user) = (Vec::new(), Vec::new(), Vec::new());
    let mut total = 0usize;
    for d in descriptors {
        let size = d.Size as usize;
        total += size;
        if total > MAX_EVENT_BYTES {
            return Err("event larger than 64 KiB");
        }
        if size == 0 {
            continue;
        }
        if d.Ptr == 0 {
            return Err("a data descriptor with NULL Ptr and a non-zero Size");
        }
        let p = core::ptr::with_exposed_provenance::<u8>(
            usize::try_from(d.Ptr).map_err(|_| "Ptr beyond the address space")?,
        );
        // SAFETY: each descriptor's block is readable for its size (contract).
        let bytes = unsafe { core::slice::from_raw_parts(p, size) };
        match d.Reserved & 0xFF {
            0 => user.extend_from_slice(bytes),
            1 if event.is_empty() => event.extend_from_slice(bytes),
            2 if provider.is_empty() => provider.extend_from_slice(bytes),
            1 | 2 => return Err("a second metadata block"),
            _ => return Err("unknown data descriptor type"),
        }
    }
    Ok((provider, event, user))
}

/// `EtwWriteTransfer`: decodes the event and records it as a diagnostic record.
///
/// # Safety
/// `descriptor` NULL or readable; `data` as for [`blocks`].
unsafe fn write_transfer(
    _abi: Abi,
    reg_handle: u64,
    descriptor: *const EVENT_DESCRIPTOR,
    _activity_id: *const GUID,
    _related_id: *const GUID,
    count: u32,
    data: *const EVENT_DATA_DESCRIPTOR,
) -> NDIS_STATUS {
    const CALL: &str = "EtwWriteTransfer";
    let d = if descriptor.is_null() {
        None
    } else {
        // SAFETY: non-NULL and readable (contract); plain data.
        Some(unsafe { descriptor.read_unaligned() })
    };
    // SAFETY: forwarded from this function's contract.
    let blocks = unsafe { blocks(count, data) };
    world::with(|w| {
        if !registered(w, CALL, reg_handle) {
            return STATUS_INVALID_HANDLE;
        }
        let at = w.now();
        let decoded = match (d, blocks) {
            (None, _) => Err(DiagRejectReason::Etw("NULL EventDescriptor")),
            (_, Err(e)) => Err(DiagRejectReason::Etw(e)),
            (Some(d), Ok((provider, event, user))) => {
                let descriptor = Descriptor {
                    id: d.Id,
                    version: d.Version,
                    channel: d.Channel,
                    level: d.Level,
                    opcode: d.Opcode,
                    task: d.Task,
                    keyword: d.Keyword,
                };
                tracelogging::decode(&descriptor, &provider, &event, &user)
                    .map_err(DiagRejectReason::Trace)
            }
        };
        let decoded = decoded.and_then(|t| {
            let guid = w.etw.providers.get(&reg_handle).map(|p| p.guid);
            if guid == Some(mpfilter::diag::trace::PROVIDER_GUID_BYTES) {
                Ok(t)
            } else {
                Err(DiagRejectReason::Etw(
                    "written through a provider whose GUID is not mpfilter's",
                ))
            }
        });
        match decoded {
            Ok(t) => {
                let h = usize::try_from(t.handle).unwrap_or(usize::MAX);
                let adapter = match w.handles.get(&h) {
                    Some(HandleKind::Module(a)) => Some(Some(*a)),
                    Some(HandleKind::Driver) => Some(None),
                    _ => None,
                };
                match adapter {
                    Some(adapter) => w.diag.records.push(DiagRecord {
                        at,
                        adapter,
                        event: t.event,
                    }),
                    None => w.diag.rejects.push(DiagReject {
                        at,
                        reason: DiagRejectReason::UnknownHandle(h),
                    }),
                }
            }
            Err(reason) => w.diag.rejects.push(DiagReject { at, reason }),
        }
        STATUS_SUCCESS
    })
    .unwrap_or(STATUS_INVALID_HANDLE)
}

/// Registrations still open at unload: one `leak.etw-provider` each (and they are closed).
pub(crate) fn provider_leaks(w: &mut World, phase: &str) {
    let open: Vec<u64> = w.etw.providers.keys().copied().collect();
    for h in open {
        w.etw.providers.remove(&h);
        w.leak(
            Rule::LeakEtwProvider,
            Subject::Handle(usize::try_from(h).unwrap_or(usize::MAX)),
            phase,
            "ETW provider registered and not unregistered with EtwUnregister",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{EVENT_DATA_DESCRIPTOR, EVENT_DESCRIPTOR};
    use core::mem::{offset_of, size_of};

    /// The x64 layouts of evntprov.h (which the `tracelogging` crate's types share).
    #[test]
    fn descriptor_layouts_are_evntprovs() {
        assert_eq!(size_of::<EVENT_DATA_DESCRIPTOR>(), 16);
        assert_eq!(offset_of!(EVENT_DATA_DESCRIPTOR, Size), 8);
        assert_eq!(offset_of!(EVENT_DATA_DESCRIPTOR, Reserved), 12);
        assert_eq!(size_of::<EVENT_DESCRIPTOR>(), 16);
        assert_eq!(offset_of!(EVENT_DESCRIPTOR, Channel), 3);
        assert_eq!(offset_of!(EVENT_DESCRIPTOR, Level), 4);
        assert_eq!(offset_of!(EVENT_DESCRIPTOR, Task), 6);
        assert_eq!(offset_of!(EVENT_DESCRIPTOR, Keyword), 8);
    }
}
