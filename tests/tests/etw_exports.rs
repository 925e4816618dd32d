//! The emulator's kernel-mode ETW (`exports/etw.rs`), called directly through its host symbols with
//! hand-made TraceLogging events: a registration is enabled for everything at once, an event of
//! the catalogue becomes a diagnostic record of the adapter whose handle it carries, and anything
//! else is refused — as a `DiagReject`, or as a rule violation for a handle ETW never gave out.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use core::ffi::c_void;
use mpfilter::diag::Event;
use mpfilter::diag::trace::{PROVIDER_GUID_BYTES, keyword, level};
use mpfilter::ndis::types::GUID;
use ndis_emu::exports::etw::{
    EVENT_DATA_DESCRIPTOR, EVENT_DESCRIPTOR, EtwRegister, EtwSetInformation, EtwUnregister,
    EtwWriteTransfer,
};
use ndis_emu::pe::tracelogging::TraceError;
use ndis_emu::{
    AdapterConfig, DiagRejectReason, DriverImage, EmuConfig, Emulator, LoadedImage, Rule,
    TrafficConfig,
};
use std::cell::Cell;

/// What the enable callback was called with: (GUID, control code, level, any, all, filter data,
/// context).
type Enable = ([u8; 16], u32, u8, u64, u64, usize, usize);

thread_local! {
    static ENABLED: Cell<Option<Enable>> = const { Cell::new(None) };
}

unsafe extern "system" fn enable_callback(
    source: *const GUID,
    code: u32,
    lvl: u8,
    any: u64,
    all: u64,
    filter: *mut c_void,
    context: *mut c_void,
) {
    // SAFETY: the emulator passes the GUID the provider registered with.
    let guid = unsafe { source.cast::<[u8; 16]>().read_unaligned() };
    ENABLED.with(|e| {
        e.set(Some((
            guid,
            code,
            lvl,
            any,
            all,
            filter as usize,
            context as usize,
        )));
    });
}

fn guid(bytes: [u8; 16]) -> GUID {
    // SAFETY: GUID is 16 bytes of plain data.
    unsafe { core::mem::transmute(bytes) }
}

/// One adapter with the host build attached and running, no traffic.
fn started() -> (Emulator, LoadedImage) {
    let mut emu = Emulator::new(EmuConfig {
        seed: 21,
        ..EmuConfig::default()
    });
    emu.add_adapter(
        AdapterConfig::numbered(0),
        TrafficConfig {
            tx_nbls: 0,
            rx_nbls: 0,
            ..TrafficConfig::default()
        },
    );
    let img = DriverImage::Host.load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(0));
    (emu, img)
}

fn register(g: [u8; 16], context: usize) -> u64 {
    let id = guid(g);
    let mut handle = 0u64;
    // SAFETY: a live GUID and out handle, the callback has the enable-callback signature.
    let status = unsafe {
        EtwRegister(
            &raw const id,
            enable_callback as *const () as usize,
            context as *mut c_void,
            &raw mut handle,
        )
    };
    assert_eq!(status, 0);
    assert_ne!(handle, 0);
    handle
}

/// Size-prefixed metadata.
fn block(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len() + 2)
        .unwrap()
        .to_le_bytes()
        .to_vec();
    v.extend_from_slice(body);
    v
}

/// ModuleRestarted's metadata, by hand: tag 0, name, `handle` HexInt64, `if_index` UInt32.
fn restarted_meta() -> Vec<u8> {
    block(b"\0ModuleRestarted\0handle\0\x15if_index\0\x08")
}

fn descriptor(lvl: u8, kw: u64) -> EVENT_DESCRIPTOR {
    EVENT_DESCRIPTOR {
        Id: 0,
        Version: 0,
        Channel: 11,
        Level: lvl,
        Opcode: 0,
        Task: 0,
        Keyword: kw,
    }
}

fn dd(bytes: &[u8], kind: u32) -> EVENT_DATA_DESCRIPTOR {
    EVENT_DATA_DESCRIPTOR {
        Ptr: bytes.as_ptr() as u64,
        Size: u32::try_from(bytes.len()).unwrap(),
        Reserved: kind,
    }
}

/// Writes ModuleRestarted { if_index } with `handle` as the emitter, in the descriptor pieces
/// the `tracelogging` crate uses: provider metadata, event metadata, one block per field.
fn write_restarted(reg: u64, d: &EVENT_DESCRIPTOR, handle: u64, if_index: u32) -> i32 {
    let provider = block(b"mpfilter\0");
    let meta = restarted_meta();
    let h = handle.to_le_bytes();
    let i = if_index.to_le_bytes();
    let data = [dd(&provider, 2), dd(&meta, 1), dd(&h, 0), dd(&i, 0)];
    // SAFETY: every pointer is live for the call.
    unsafe {
        EtwWriteTransfer(
            reg,
            d,
            core::ptr::null(),
            core::ptr::null(),
            4,
            data.as_ptr(),
        )
    }
}

#[test]
fn a_registration_is_enabled_for_everything_and_its_events_become_records() {
    let (mut emu, img) = started();
    let reg = register(PROVIDER_GUID_BYTES, 0x5EED);
    assert_eq!(
        ENABLED.with(Cell::get),
        Some((PROVIDER_GUID_BYTES, 1, 0xFF, u64::MAX, 0, 0, 0x5EED))
    );
    let traits = block(b"mpfilter\0");
    // SAFETY: live bytes of the given length.
    let status = unsafe { EtwSetInformation(reg, 2, traits.as_ptr().cast(), 11) };
    assert_eq!(status, 0);

    let before = emu.diag_events().len();
    let module = emu.module_handle(0) as u64;
    let d = descriptor(level::Informational, keyword::LIFECYCLE);
    assert_eq!(write_restarted(reg, &d, module, 77), 0);
    let records = emu.diag_events();
    assert_eq!(records.len(), before + 1);
    let r = records.last().unwrap();
    assert_eq!(
        (r.adapter, r.event, r.at),
        (Some(0), Event::ModuleRestarted { if_index: 77 }, emu.now())
    );
    assert!(emu.diag_rejects().is_empty());

    // A handle that is no driver's or module's, and a level that is not the catalogue's.
    assert_eq!(write_restarted(reg, &d, 0xDEAD_0000, 1), 0);
    let wrong = descriptor(level::Error, keyword::LIFECYCLE);
    assert_eq!(write_restarted(reg, &wrong, module, 1), 0);
    let rejects: Vec<_> = emu.diag_rejects().into_iter().map(|r| r.reason).collect();
    assert!(
        matches!(
            rejects[..],
            [
                DiagRejectReason::UnknownHandle(0xDEAD_0000),
                DiagRejectReason::Trace(TraceError::Descriptor(_))
            ]
        ),
        "{rejects:?}"
    );
    assert_eq!(emu.diag_events().len(), before + 1);

    // SAFETY: any value is accepted.
    assert_eq!(unsafe { EtwUnregister(reg) }, 0);
    emu.stop(0);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
}

#[test]
fn events_of_another_provider_are_refused() {
    let (mut emu, img) = started();
    let reg = register([7; 16], 0);
    let module = emu.module_handle(0) as u64;
    let d = descriptor(level::Informational, keyword::LIFECYCLE);
    let before = emu.diag_events().len();
    assert_eq!(write_restarted(reg, &d, module, 1), 0);
    assert_eq!(emu.diag_events().len(), before);
    assert!(matches!(
        emu.diag_rejects()[..],
        [ndis_emu::DiagReject {
            reason: DiagRejectReason::Etw(_),
            ..
        }]
    ));
    // SAFETY: any value is accepted.
    assert_eq!(unsafe { EtwUnregister(reg) }, 0);
    emu.stop(0);
    emu.unload();
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
    drop(img);
}

#[test]
fn a_write_through_a_closed_registration_breaks_etw_invalid() {
    let (emu, img) = started();
    let reg = register(PROVIDER_GUID_BYTES, 0);
    // SAFETY: any value is accepted.
    assert_eq!(unsafe { EtwUnregister(reg) }, 0);
    let d = descriptor(level::Informational, keyword::LIFECYCLE);
    let status = write_restarted(reg, &d, emu.module_handle(0) as u64, 1);
    assert_eq!(
        status,
        0xC000_0008_u32.cast_signed(),
        "STATUS_INVALID_HANDLE"
    );
    let v = emu.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].rule, v[0].call),
        (Rule::EtwInvalid, "EtwWriteTransfer")
    );
    drop(emu);
    drop(img);
}
