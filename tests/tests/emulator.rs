//! Emulator unit tests through its public API and its exported NDIS functions: the randomisation
//! switches, NdisFRestartFilter, NBL memory and layouts, pools, clones, contexts, data-start
//! functions, OID clones, driver-object extensions, and calls made with no emulator at all.
#![allow(clippy::multiple_unsafe_ops_per_block, clippy::many_single_char_names)]

use core::ffi::c_void;
use core::ptr::null_mut;
use mpfilter::ndis::consts::*;
use mpfilter::ndis::types::*;
use ndis_emu::exports::{ndis as x, ntos};
use ndis_emu::fault_filter::{Fault, image};
use ndis_emu::scenario::{self, SmokeConfig};
use ndis_emu::{AdapterConfig, EmuConfig, Emulator, ModState, Randomization, Rule, TrafficConfig};

fn smoke_with(random: Randomization) -> ndis_emu::ScenarioReport {
    let r = scenario::smoke(
        &SmokeConfig {
            random,
            ..SmokeConfig::default()
        },
        image(Fault::None),
    );
    assert!(r.is_clean(), "{r}");
    r
}

#[test]
fn oid_completion_switch_forces_sync_or_pending() {
    let sync = smoke_with(Randomization {
        oid_pending_percent: 0,
        ..Randomization::default()
    });
    let pend = smoke_with(Randomization {
        oid_pending_percent: 100,
        ..Randomization::default()
    });
    for a in &sync.adapters {
        assert_eq!(a.stats.mp_oids_pending, 0);
        assert_eq!(a.stats.oids_completed_sync, a.stats.oids_issued);
    }
    for a in &pend.adapters {
        assert_eq!(a.stats.mp_oids_sync, 0);
        assert_eq!(a.stats.oids_completed_pending, a.stats.oids_issued);
        assert_eq!(a.stats.oids_bad_answer, 0);
    }
}

#[test]
fn resources_switch_controls_receive_flags() {
    let none = smoke_with(Randomization {
        resources_percent: 0,
        ..Randomization::default()
    });
    let all = smoke_with(Randomization {
        resources_percent: 100,
        ..Randomization::default()
    });
    for a in &none.adapters {
        assert_eq!(a.stats.rx_indicated_resources, 0);
    }
    for a in &all.adapters {
        assert_eq!(a.stats.rx_indicated_resources, a.stats.rx_indicated);
        assert_eq!(a.stats.rx_received, 300);
    }
}

#[test]
fn batching_and_irql_switches_keep_a_correct_filter_clean() {
    for (batch, reorder, dispatch) in [(1, false, 0), (64, true, 100), (8, true, 50)] {
        let r = smoke_with(Randomization {
            max_completion_batch: batch,
            reorder_completions: reorder,
            dispatch_percent: dispatch,
            ..Randomization::default()
        });
        assert_eq!(r.adapters[0].stats.tx_completed_ok, 300);
    }
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let a = scenario::smoke(&SmokeConfig::default(), image(Fault::None));
    let b = scenario::smoke(&SmokeConfig::default(), image(Fault::None));
    let c = scenario::smoke(
        &SmokeConfig {
            seed: 8,
            ..SmokeConfig::default()
        },
        image(Fault::None),
    );
    assert_eq!(a.to_string(), b.to_string());
    assert_ne!(a.to_string(), c.to_string());
}

fn booted(fault: Fault) -> (Emulator, usize) {
    let mut emu = Emulator::new(EmuConfig::default());
    let a = emu.add_adapter(
        AdapterConfig::numbered(3),
        TrafficConfig {
            tx_nbls: 40,
            rx_nbls: 40,
            ..TrafficConfig::default()
        },
    );
    let img = image(fault).load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(a));
    (emu, a)
}

#[test]
fn lifecycle_states_follow_ndis() {
    let (mut emu, a) = booted(Fault::None);
    assert_eq!(emu.module_state(a), ModState::Running);
    assert!(emu.run_until_idle());
    assert!(emu.pause(a));
    assert_eq!(emu.module_state(a), ModState::Paused);
    assert!(emu.restart(a));
    assert_eq!(emu.module_state(a), ModState::Running);
    emu.stop(a);
    assert_eq!(emu.module_state(a), ModState::Detached);
    emu.unload();
    assert!(emu.violations().is_empty() && emu.leaks().is_empty());
    let m = emu.lifecycle_stats(a);
    assert_eq!((m.attaches, m.pauses, m.restarts, m.detaches), (1, 2, 2, 1));
    let s = emu.stats(a);
    assert_eq!(
        s.pnp_events, 3,
        "the reconfigure and power-profile events of the first run, and NetEventFilterPreDetach, reached the miniport through the filter"
    );
}

#[test]
fn restart_filter_pauses_and_restarts_the_stack() {
    let (mut emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    // SAFETY: what the filter does: a module handle NDIS gave it, through its own wrapper of
    // NdisFRestartFilter (so the wrapper is checked against the export too).
    let filter = unsafe { mpfilter::ndis::FilterHandle::from_raw(h) }.expect("attached");
    assert_eq!(filter.restart_filter(), NDIS_STATUS_SUCCESS);
    emu.add_traffic(a, 100, 100);
    assert!(emu.run_until_idle());
    let m = emu.lifecycle_stats(a);
    assert_eq!(m.restart_requests, 1);
    assert_eq!(m.pauses, 1);
    assert_eq!(m.restarts, 2);
    assert_eq!(emu.module_state(a), ModState::Running);
    emu.stop(a);
    emu.unload();
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

fn pool(h: NDIS_HANDLE, nb: bool, ctx: u16) -> NDIS_HANDLE {
    let mut p = NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x10),
        ProtocolId: 0,
        fAllocateNetBuffer: u8::from(nb),
        ContextSize: ctx,
        PoolTag: 1,
        DataSize: 0,
    };
    // SAFETY: a module handle and valid parameters.
    unsafe { x::NdisAllocateNetBufferListPool(h, &raw mut p) }
}

#[test]
fn nbls_are_sized_like_ndis_sys_and_contexts_stack() {
    let (mut emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let p = pool(h, false, 32);
    assert!(!p.is_null());
    // SAFETY: exercising the exports as a filter would, on NBLs this test owns.
    unsafe {
        let n = x::NdisAllocateNetBufferList(p, 16, 0);
        assert!(!n.is_null());
        assert_eq!(x::NdisGetPoolFromNetBufferList(n), p);
        // The allocation is ndis.sys-sized: 29 info slots, so writing slots 24..29 is in bounds.
        let slots = (&raw mut (*n).NetBufferListInfo).cast::<*mut c_void>();
        for i in 24..29 {
            *slots.add(i) = null_mut();
        }
        let ctx = (*n).Context;
        assert!(!ctx.is_null());
        assert_eq!(((*ctx).Size, (*ctx).Offset), (32, 16));
        // Fits in the preallocated area: same area, offset moves down.
        assert_eq!(
            x::NdisAllocateNetBufferListContext(n, 16, 0, 1),
            NDIS_STATUS_SUCCESS
        );
        assert_eq!((*n).Context, ctx);
        assert_eq!((*ctx).Offset, 0);
        // Does not fit: a new area on top.
        assert_eq!(
            x::NdisAllocateNetBufferListContext(n, 48, 16, 1),
            NDIS_STATUS_SUCCESS
        );
        let top = (*n).Context;
        assert_ne!(top, ctx);
        assert_eq!(((*top).Size, (*top).Offset, (*top).Next), (64, 16, ctx));
        x::NdisFreeNetBufferListContext(n, 48);
        assert_eq!((*n).Context, ctx, "the emptied dynamic area is popped");
        x::NdisFreeNetBufferListContext(n, 16);
        x::NdisFreeNetBufferList(n);
        x::NdisFreeNetBufferListPool(p);
    }
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    emu.stop(a);
    emu.unload();
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

#[test]
fn clones_share_data_and_data_start_moves() {
    let (mut emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let p = pool(h, true, 0);
    let mut data = [0u8; 64];
    for (i, b) in data.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap();
    }
    // SAFETY: MDL is plain data.
    let mut mdl: MDL = unsafe { core::mem::zeroed() };
    mdl.MappedSystemVa = data.as_mut_ptr().cast();
    mdl.ByteCount = 64;
    // SAFETY: exercising the exports on NBLs, MDLs and buffers this test owns.
    unsafe {
        let n = x::NdisAllocateNetBufferAndNetBufferList(p, 0, 0, &raw mut mdl, 8, 40);
        assert!(!n.is_null());
        let nb = (*n).FirstNetBuffer;
        assert_eq!(((*nb).DataOffset, (*nb).DataLength.DataLength), (8, 40));
        // Retreat within the unused space, then beyond it (an MDL is prepended).
        assert_eq!(
            x::NdisRetreatNetBufferDataStart(nb, 4, 0, null_mut()),
            NDIS_STATUS_SUCCESS
        );
        assert_eq!(((*nb).DataOffset, (*nb).DataLength.DataLength), (4, 44));
        assert_eq!(
            x::NdisRetreatNetBufferDataStart(nb, 10, 2, null_mut()),
            NDIS_STATUS_SUCCESS
        );
        assert_ne!((*nb).MdlChain, &raw mut mdl);
        assert_eq!((*nb).DataLength.DataLength, 54);
        x::NdisAdvanceNetBufferDataStart(nb, 10, 1, null_mut());
        assert_eq!((*nb).MdlChain, &raw mut mdl, "the prepended MDL is freed");
        assert_eq!(((*nb).DataOffset, (*nb).DataLength.DataLength), (4, 44));
        let v = x::NdisGetDataBuffer(nb, 4, null_mut(), 1, 0).cast::<u8>();
        assert_eq!(core::slice::from_raw_parts(v, 4), &[4, 5, 6, 7]);
        assert!(x::NdisGetDataBuffer(nb, 45, null_mut(), 1, 0).is_null());
        // Clones: same data, own NET_BUFFER, parent tracked; flags must match at free.
        for flags in [0, NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS] {
            let c = x::NdisAllocateCloneNetBufferList(n, p, null_mut(), flags);
            assert!(!c.is_null());
            let cnb = (*c).FirstNetBuffer;
            assert_ne!(cnb, nb);
            assert!((*c).ParentNetBufferList.is_null() && (*c).ChildRefCount == 0);
            assert_eq!((*cnb).DataLength.DataLength, 44);
            assert_eq!((flags != 0), (*cnb).MdlChain == (*nb).MdlChain);
            let v = x::NdisGetDataBuffer(cnb, 2, null_mut(), 1, 0).cast::<u8>();
            assert_eq!(core::slice::from_raw_parts(v, 2), &[4, 5]);
            x::NdisFreeCloneNetBufferList(c, flags);
        }
        x::NdisFreeNetBufferList(n);
        x::NdisFreeNetBufferListPool(p);
    }
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    emu.stop(a);
    emu.unload();
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

#[test]
fn clones_from_a_pool_without_net_buffers_take_every_mdl_shape() {
    let (mut emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let (src, bare) = (pool(h, true, 0), pool(h, false, 0));
    let mut data = [0u8; 64];
    for (i, b) in data.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap();
    }
    // Two MDLs over the buffer's halves: 32 bytes each.
    // SAFETY: MDL is plain data.
    let mut mdls: [MDL; 2] = unsafe { core::mem::zeroed() };
    let base = data.as_mut_ptr();
    for (i, m) in mdls.iter_mut().enumerate() {
        // SAFETY: both halves are inside `data`.
        m.MappedSystemVa = unsafe { base.add(32 * i) }.cast();
        m.ByteCount = 32;
    }
    let second = &raw mut mdls[1];
    mdls[0].Next = second;
    // SAFETY: exercising the exports on NBLs, MDLs and buffers this test owns.
    unsafe {
        // One MDL (data 8..40 of the second half) and two MDLs (data 28..38, across the halves).
        let one = x::NdisAllocateNetBufferAndNetBufferList(src, 0, 0, second, 8, 24);
        let two = x::NdisAllocateNetBufferAndNetBufferList(src, 0, 0, &raw mut mdls[0], 28, 10);
        for (n, mdl_count, first) in [(one, 1, 40u8), (two, 2, 28)] {
            let nb = (*n).FirstNetBuffer;
            for flags in [0, NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS] {
                let c = x::NdisAllocateCloneNetBufferList(n, bare, null_mut(), flags);
                assert!(!c.is_null());
                let cnb = (*c).FirstNetBuffer;
                assert!(!cnb.is_null() && cnb != nb && (*cnb).Next.is_null());
                assert_eq!((*cnb).DataLength.DataLength, (*nb).DataLength.DataLength);
                assert_eq!((*cnb).CurrentMdlOffset, (*nb).CurrentMdlOffset);
                // Own MDLs (flags 0): as many, describing the same bytes, none of them shared.
                let mut chain = Vec::new();
                let (mut m, mut o) = ((*cnb).MdlChain, (*nb).MdlChain);
                while !m.is_null() {
                    assert_eq!(
                        ((*m).MappedSystemVa, (*m).ByteCount),
                        ((*o).MappedSystemVa, (*o).ByteCount)
                    );
                    assert_eq!(flags != 0, m == o);
                    chain.push(m);
                    (m, o) = ((*m).Next, (*o).Next);
                }
                assert_eq!(chain.len(), mdl_count);
                let len = (*cnb).DataLength.DataLength;
                let mut storage = [0u8; 24];
                let v =
                    x::NdisGetDataBuffer(cnb, len, storage.as_mut_ptr().cast(), 1, 0).cast::<u8>();
                let want: Vec<u8> = (first..first + u8::try_from(len).unwrap()).collect();
                assert_eq!(
                    core::slice::from_raw_parts(v, len as usize),
                    want.as_slice()
                );
                x::NdisFreeCloneNetBufferList(c, flags);
            }
        }
        // A clone of the one-MDL NBL, freed, then reused by a clone of the two-MDL one.
        let c = x::NdisAllocateCloneNetBufferList(one, bare, null_mut(), 0);
        x::NdisFreeCloneNetBufferList(c, 0);
        let c = x::NdisAllocateCloneNetBufferList(two, bare, null_mut(), 0);
        let cnb = (*c).FirstNetBuffer;
        assert!(!(*(*cnb).MdlChain).Next.is_null(), "two MDLs again");
        x::NdisFreeCloneNetBufferList(c, 0);
        x::NdisFreeNetBufferList(one);
        x::NdisFreeNetBufferList(two);
        x::NdisFreeNetBufferListPool(bare);
        x::NdisFreeNetBufferListPool(src);
    }
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    emu.stop(a);
    emu.unload();
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

#[test]
fn a_pool_with_live_nbls_cannot_be_freed() {
    let (emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let p = pool(h, false, 0);
    // SAFETY: our pool.
    unsafe {
        x::NdisAllocateNetBufferList(p, 0, 0);
        x::NdisFreeNetBufferListPool(p);
    }
    let v = emu.violations();
    assert_eq!(v[0].rule, Rule::PoolFreeOutstanding);
    assert!(emu.halted());
}

#[test]
fn oid_clones_copy_the_request() {
    let (emu, a) = booted(Fault::None);
    let h = emu.module_handle(a) as NDIS_HANDLE;
    // SAFETY: NDIS_OID_REQUEST is plain data.
    let mut r: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
    r.RequestType = NDIS_REQUEST_QUERY_INFORMATION;
    r.RequestId = 77 as *mut c_void;
    r.DATA.QUERY_INFORMATION.Oid = OID_GEN_LINK_SPEED;
    let mut c: *mut NDIS_OID_REQUEST = null_mut();
    // SAFETY: a live request and out pointer.
    unsafe {
        assert_eq!(
            x::NdisAllocateCloneOidRequest(h, &raw mut r, 1, &raw mut c),
            NDIS_STATUS_SUCCESS
        );
        assert_eq!((*c).RequestId, 77 as *mut c_void);
        assert_eq!((*c).DATA.QUERY_INFORMATION.Oid, OID_GEN_LINK_SPEED);
        assert_eq!((*c).RequestHandle, h);
        x::NdisFreeCloneOidRequest(h, c);
    }
    assert!(emu.violations().is_empty());
    // SAFETY: freeing it again is the rule break under test (the emulator does not free twice).
    unsafe { x::NdisFreeCloneOidRequest(h, c) };
    assert_eq!(emu.violations()[0].rule, Rule::OidCloneFreeInvalid);
}

#[test]
fn driver_object_extensions_are_per_client() {
    let (_emu, _a) = booted(Fault::None);
    // The fault filter already allocated one for its client id; another id gets its own.
    let id = 0x1234usize as *mut c_void;
    let mut p: *mut c_void = null_mut();
    // SAFETY: ids are only compared; p is writable. The driver object is the emulator's, which
    // the test reaches through the extension the fault filter made (any other pointer fails).
    unsafe {
        assert_eq!(ntos::IoGetDriverObjectExtension(null_mut(), id), null_mut());
        assert_ne!(
            ntos::IoAllocateDriverObjectExtension(null_mut(), id, 8, &raw mut p),
            0
        );
    }
}

#[test]
fn exports_without_an_emulator_fail_safely() {
    // No Emulator on this thread: every call must return a failure, never crash.
    let mut out: NDIS_HANDLE = null_mut();
    // SAFETY: the calls only look for this thread's (absent) emulator.
    unsafe {
        assert_eq!(
            x::NdisFRegisterFilterDriver(null_mut(), null_mut(), null_mut(), &raw mut out),
            NDIS_STATUS_FAILURE
        );
        assert!(x::NdisAllocateNetBufferList(0x10 as NDIS_HANDLE, 0, 0).is_null());
        x::NdisFSendNetBufferLists(0x10 as NDIS_HANDLE, 0x20 as *mut _, 0, 0);
        x::NdisFreeMemory(0x30 as *mut c_void, 0, 0);
        assert_eq!(x::NdisGetVersion(), 0x0006_001E);
    }
}

#[test]
fn a_second_emulator_on_a_thread_is_refused_and_threads_are_isolated() {
    let emu = Emulator::new(EmuConfig::default());
    let second = std::panic::catch_unwind(|| Emulator::new(EmuConfig::default()));
    assert!(second.is_err());
    drop(emu);
    let t = std::thread::spawn(|| {
        let r = scenario::smoke(
            &SmokeConfig {
                adapters: 1,
                ..SmokeConfig::default()
            },
            image(Fault::None),
        );
        r.is_clean()
    });
    let here = scenario::smoke(
        &SmokeConfig {
            adapters: 1,
            ..SmokeConfig::default()
        },
        image(Fault::None),
    );
    assert!(here.is_clean() && t.join().unwrap());
}

/// The watchdog's timeout is the configured virtual time: a filter that swallows every send is
/// named (`liveness.no-progress`) once the protocol has waited that long for a send completion,
/// although receives keep flowing (progress is kept per kind of wait); a longer timeout fires
/// later. With nothing else going on, the run going idle with sends owed is named at once.
#[test]
fn the_watchdog_fires_after_the_configured_quiet_time() {
    let fired_at = |timeout: u64, rx_nbls: u64| {
        let mut emu = Emulator::new(EmuConfig {
            progress_timeout: timeout,
            ..EmuConfig::default()
        });
        let a = emu.add_adapter(
            ndis_emu::AdapterConfig::numbered(0),
            TrafficConfig {
                tx_nbls: 100,
                rx_nbls,
                ..TrafficConfig::default()
            },
        );
        let img = image(Fault::SwallowSends).load().expect("host image");
        emu.load(img.entry).expect("loads");
        assert!(emu.start(a));
        assert!(
            !emu.run_until_idle(),
            "a swallowing filter never lets the run go idle"
        );
        let v = emu.violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].rule.name(), "liveness.no-progress");
        v[0].at
    };
    let short = fired_at(1_000_000, 100_000);
    let long = fired_at(5_000_000, 100_000);
    assert!((1_000_000..1_100_000).contains(&short), "{short}");
    assert!((5_000_000..5_100_000).contains(&long), "{long}");
    let idle = fired_at(5_000_000, 0);
    assert!(
        idle < 1_000_000,
        "idle with sends owed: named when the queue runs dry ({idle})"
    );
}
