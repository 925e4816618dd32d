//! The safe NDIS wrappers of the teamed send path against the emulator's real exports (not the
//! unit tests' doubles): the clone pool, `SendMeta` contexts, `peek_front` over MDLs,
//! child send info and completion write-back. The emulator's rules see every call, and its leak
//! check at unload sees a context stack or a clone that was not given back.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use mpfilter::ndis::consts::{
    IEEE8021Q_NET_BUFFER_LIST_INFO, NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET, NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_STATUS_MEDIA_DISCONNECTED, NDIS_STATUS_SUCCESS, TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO,
    TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use mpfilter::ndis::nbl::CloneFlags;
use mpfilter::ndis::types::{
    MAX_NET_BUFFER_LIST_INFO, MDL, NDIS_HANDLE, NDIS_OBJECT_HEADER, NET_BUFFER_LIST,
    NET_BUFFER_LIST_POOL_PARAMETERS,
};
use mpfilter::ndis::{FilterHandle, NblChain, NblPool, OwnedNbl, SendMeta};
use ndis_emu::exports::ndis as x;
use ndis_emu::fault_filter::{Fault, image};
use ndis_emu::{AdapterConfig, EmuConfig, Emulator, TrafficConfig};

fn booted() -> (Emulator, usize) {
    let mut emu = Emulator::new(EmuConfig::default());
    let a = emu.add_adapter(AdapterConfig::numbered(3), TrafficConfig::default());
    let img = image(Fault::None).load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(a));
    (emu, a)
}

fn filter(emu: &Emulator, a: usize) -> FilterHandle {
    // SAFETY: the module handle the emulator gave the filter; used while the module is attached.
    unsafe { FilterHandle::from_raw(emu.module_handle(a) as NDIS_HANDLE) }.expect("attached")
}

/// A frame whose byte `i` is `i`.
fn frame() -> Vec<u8> {
    (0..=255u8).collect()
}

/// An MDL over `bytes` (which the caller keeps alive and in place).
fn mdl_over(bytes: &mut [u8]) -> MDL {
    // SAFETY: MDL is plain data; all zeroes is valid.
    let mut m: MDL = unsafe { core::mem::zeroed() };
    m.MappedSystemVa = bytes.as_mut_ptr().cast();
    m.ByteCount = u32::try_from(bytes.len()).unwrap();
    m
}

/// A pool for the "protocol" NBLs the test sends through the wrappers.
fn protocol_pool(h: NDIS_HANDLE) -> NDIS_HANDLE {
    let mut p = NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x10),
        ProtocolId: 0,
        fAllocateNetBuffer: 1,
        ContextSize: 0,
        PoolTag: 1,
        DataSize: 0,
    };
    // SAFETY: a module handle and valid parameters.
    let pool = unsafe { x::NdisAllocateNetBufferListPool(h, &raw mut p) };
    assert!(!pool.is_null());
    pool
}

/// What a one-MDL "protocol" NBL rests on: the frame's bytes and the MDL over them, kept in
/// place on the heap until the NBL is freed.
struct OneMdl {
    _bytes: Vec<u8>,
    mdl: MDL,
}

/// A "protocol" NBL, 64 bytes of [`frame`] over one MDL, from a new pool on adapter `a`'s
/// module: the pool, the NBL (raw and owned), and what it rests on (keep it until the NBL is
/// freed).
fn protocol_nbl(
    emu: &Emulator,
    a: usize,
) -> (NDIS_HANDLE, *mut NET_BUFFER_LIST, OwnedNbl, Box<OneMdl>) {
    let proto = protocol_pool(emu.module_handle(a) as NDIS_HANDLE);
    let mut bytes = frame();
    let mdl = mdl_over(&mut bytes);
    // The Vec's buffer stays where it is when the Vec moves into the box.
    let mut held = Box::new(OneMdl { _bytes: bytes, mdl });
    // SAFETY: the test's pool and the boxed MDL, which the caller keeps until the NBL is freed.
    let raw =
        unsafe { x::NdisAllocateNetBufferAndNetBufferList(proto, 0, 0, &raw mut held.mdl, 0, 64) };
    (proto, raw, owned(raw), held)
}

/// Takes the NBL `n` as the filter owns one it was handed.
fn owned(n: *mut NET_BUFFER_LIST) -> OwnedNbl {
    // SAFETY: a live NBL of the test's pool, unlinked, that nothing else touches.
    unsafe { NblChain::from_raw(n) }.pop_front().unwrap()
}

/// Frees a "protocol" NBL the test allocated from `proto`, and the pool.
fn free_protocol_nbl(nbl: OwnedNbl, proto: NDIS_HANDLE) {
    // SAFETY: the test's NBL, back with the test, and its pool, with nothing else allocated.
    unsafe {
        x::NdisFreeNetBufferList(nbl.into_raw());
        x::NdisFreeNetBufferListPool(proto);
    }
}

/// No rule broken; detach and unload; nothing leaked.
fn finish(mut emu: Emulator, a: usize) {
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
    emu.stop(a);
    emu.unload();
    assert!(emu.leaks().is_empty(), "{:?}", emu.leaks());
}

fn meta(n: u8) -> SendMeta {
    SendMeta {
        sent_ns: 123_456_789 + u64::from(n),
        target: 0x0011_2233_4455_6677,
        len: 1514,
        generation: 9,
        path: n,
        retries: 1,
        kind: 2,
        reserved: [0; 5],
        lso_request: 0x4000_0218,
        spare: u64::from(n),
    }
}

#[test]
fn peek_meta_and_child_completion_through_the_emulator() {
    let (emu, a) = booted();
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let proto = protocol_pool(h);
    let clones = NblPool::for_clones(filter(&emu, a)).expect("a clone pool");
    let whole = frame();
    // The Ethernet header split 6 | 8, then the rest: a header across three MDLs.
    let (mut head, mut mid, mut rest) = (
        whole[..6].to_vec(),
        whole[6..14].to_vec(),
        whole[14..].to_vec(),
    );
    let (mut m0, mut m1, mut m2) = (mdl_over(&mut head), mdl_over(&mut mid), mdl_over(&mut rest));
    m1.Next = &raw mut m2;
    m0.Next = &raw mut m1;
    // SAFETY: the test's pool and MDL chain, which outlive the NBL.
    let raw = unsafe { x::NdisAllocateNetBufferAndNetBufferList(proto, 0, 0, &raw mut m0, 0, 200) };
    assert!(!raw.is_null());
    let parent = owned(raw);

    let mut storage = [0u8; 54];
    assert_eq!(
        parent.peek_front(&mut storage),
        &whole[..54],
        "copied across MDLs"
    );
    let mut small = [0u8; 4];
    let seen = parent.peek_front(&mut small);
    assert_eq!(seen, &whole[..4]);
    assert_ne!(
        seen.as_ptr(),
        small.as_ptr(),
        "in the first MDL: a view, not a copy"
    );
    let mut big = [0u8; 300];
    assert_eq!(
        parent.peek_front(&mut big).len(),
        200,
        "never past DataLength"
    );

    // Meta on the protocol's NBL: pushed, rewritten, popped; the stack is as before.
    assert!(parent.push_meta(meta(1)));
    assert_eq!(parent.meta(), meta(1));
    parent.set_meta(meta(2));
    assert_eq!(parent.pop_meta(), meta(2));
    // SAFETY: a plain read of the live NBL.
    assert!(unsafe { (*raw).Context }.is_null());

    // The parent asks for checksum and LSO offload and carries a VLAN tag.
    parent.set_info(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO, 0x15);
    parent.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, 0x1_0000_05B4);
    parent.set_info(IEEE8021Q_NET_BUFFER_LIST_INFO, 0x2A);
    let cloning = parent.start_cloning(filter(&emu, a));
    assert_eq!(cloning.parent().child_count(), 1, "the cloning's own count");
    let child = cloning
        .clone_in(&clones, CloneFlags::NEW_MDLS)
        .expect("a clone");
    assert_eq!(
        child.parent().child_count(),
        2,
        "the child and the unfinished cloning, in the emulator's ChildRefCount"
    );
    child.copy_send_info();
    assert_eq!(child.info(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO), Some(0x15));
    assert_eq!(child.info(IEEE8021Q_NET_BUFFER_LIST_INFO), Some(0x2A));
    let mut child_storage = [0u8; 20];
    assert_eq!(
        child.peek_front(&mut child_storage),
        &whole[..20],
        "the clone sees the same data"
    );
    assert!(child.push_meta(meta(3)));
    // The miniport completes the clone with an error and the LSOv1 bytes it sent.
    child.set_status(NDIS_STATUS_MEDIA_DISCONNECTED);
    child.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, 2920);
    assert_eq!(child.pop_meta(), meta(3));
    let (status, lso) = child.completion();
    assert_eq!((status, lso), (NDIS_STATUS_MEDIA_DISCONNECTED, 2920));
    assert!(cloning.finish().is_none());
    let parent = child
        .release()
        .expect("the last child gives the parent back");
    parent.set_status(status);
    parent.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, lso);
    assert_eq!(parent.status(), NDIS_STATUS_MEDIA_DISCONNECTED);
    assert_eq!(parent.info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO), Some(2920));
    parent.set_status(NDIS_STATUS_SUCCESS);

    // Back from its only clone.
    free_protocol_nbl(parent, proto);
    drop(clones);
    finish(emu, a);
}

#[test]
fn a_clone_pool_with_a_clone_out_is_a_violation() {
    let (emu, a) = booted();
    let h = emu.module_handle(a) as NDIS_HANDLE;
    let proto = protocol_pool(h);
    let clones = NblPool::for_clones(filter(&emu, a)).expect("a clone pool");
    let mut bytes = frame();
    let mut m = mdl_over(&mut bytes);
    // SAFETY: the test's pool and MDL.
    let raw = unsafe { x::NdisAllocateNetBufferAndNetBufferList(proto, 0, 0, &raw mut m, 0, 64) };
    let cloning = owned(raw).start_cloning(filter(&emu, a));
    let child = cloning.clone_in(&clones, CloneFlags::NEW_MDLS);
    assert!(child.is_some());
    drop(clones);
    let v = emu.violations();
    assert_eq!(v[0].rule, ndis_emu::Rule::PoolFreeOutstanding, "{v:?}");
    assert!(emu.halted());
    // The emulator has halted: nothing is given back.
    let _ = (child, cloning);
}

/// The out-of-band readers over an NBL the emulator allocated and the protocol filled in.
#[test]
fn out_of_band_readers_see_what_the_protocol_set() {
    let (emu, a) = booted();
    let (proto, raw, nbl, _held) = protocol_nbl(&emu, a);

    // 802.1Q: UserPriority in bits 0-2, CanonicalFormatId in bit 3, VlanId in bits 4-15.
    assert_eq!(nbl.vlan_id(), None, "no tag");
    for (tag, vlan) in [
        ((0x2A << 4) | 5, Some(0x2A)),
        (0x7 | 0x8, None),
        ((0xFFF << 4) | 0x1_0000, Some(0xFFF)),
        (0x10, Some(1)),
    ] {
        nbl.set_info(IEEE8021Q_NET_BUFFER_LIST_INFO, tag);
        assert_eq!(nbl.vlan_id(), vlan, "tag {tag:#x}");
    }

    // Large send: MSS in bits 0-19, Type (LSOv2) in bit 30, IPVersion (LSOv2: IPv6) in bit 31.
    let v2 = 1usize << 30;
    let v6 = 1usize << 31;
    let (mss, mss6) = (0x5B4, 0x5A0);
    for (info, expected) in [
        (0, None),
        (v2 | v6, None),
        (mss, Some(false)),
        (mss | v2, Some(false)),
        (mss6 | v2 | v6, Some(true)),
        // LSOv1 has no IP version: its reserved top bit does not make it IPv6.
        (mss | v6, Some(false)),
        // Only the low 32 bits are the bit-fields.
        ((1 << 32) | mss | v2, Some(false)),
    ] {
        nbl.set_info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, info);
        assert_eq!(nbl.large_send(), expected, "info {info:#x}");
    }

    // A slot past NDIS 6.30's last is no slot: nothing is read, nothing written.
    assert_eq!(nbl.info(MAX_NET_BUFFER_LIST_INFO), None);
    assert_eq!(nbl.info(MAX_NET_BUFFER_LIST_INFO - 1), Some(0));
    nbl.set_info(MAX_NET_BUFFER_LIST_INFO, 0x77);
    nbl.set_info(MAX_NET_BUFFER_LIST_INFO - 1, 0x66);
    assert_eq!(nbl.info(MAX_NET_BUFFER_LIST_INFO - 1), Some(0x66));
    nbl.set_info(MAX_NET_BUFFER_LIST_INFO - 1, 0);

    // NblFlags, the field NDIS reads for the loopback mark.
    assert_eq!(nbl.nbl_flags(), 0, "NDIS zeroes a new NBL's flags");
    nbl.set_nbl_flags(NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET | 0x3);
    // SAFETY: a plain read of the live NBL.
    let written = unsafe { (*raw).NblFlags };
    assert_eq!(written, NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET | 0x3);
    assert_eq!(nbl.nbl_flags(), NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET | 0x3);

    free_protocol_nbl(nbl, proto);
    finish(emu, a);
}

/// `FilterHandle::restart_complete` reaches NdisFRestartComplete: outside a restart, the
/// emulator names the violation.
#[test]
fn restart_complete_outside_a_restart_is_a_violation() {
    let (emu, a) = booted();
    filter(&emu, a).restart_complete(NDIS_STATUS_SUCCESS);
    let v = emu.violations();
    assert_eq!(
        v[0].rule,
        ndis_emu::Rule::RestartCompleteNotPending,
        "{v:?}"
    );
}

/// An own set request carries at most the block's buffer: one of exactly `OWN_QUERY_BUFFER`
/// bytes goes down to the miniport (which does not know the OID), one byte more is refused
/// before any call.
#[test]
fn an_own_set_of_the_whole_buffer_goes_down_and_one_byte_more_does_not() {
    use mpfilter::ndis::own_query::OWN_QUERY_BUFFER;
    use mpfilter::ndis::{OwnQuery, QueryStart};
    const OID_NOBODY_KNOWS: u32 = 0xFF00_0001;
    let mut emu = Emulator::new(EmuConfig {
        random: ndis_emu::Randomization {
            oid_pending_percent: 0,
            ..ndis_emu::Randomization::default()
        },
        ..EmuConfig::default()
    });
    let a = emu.add_adapter(AdapterConfig::numbered(3), TrafficConfig::default());
    let img = image(Fault::None).load().expect("host image");
    emu.load(img.entry).expect("loads");
    assert!(emu.start(a));
    let query = OwnQuery::new().expect("memory");
    let taken = |emu: &Emulator| emu.stats(a).mp_oids_sync + emu.stats(a).mp_oids_pending;
    let before = taken(&emu);
    let whole = [0x5Au8; OWN_QUERY_BUFFER + 1];
    assert_eq!(
        query.issue_set(
            filter(&emu, a),
            OID_NOBODY_KNOWS,
            &whole[..OWN_QUERY_BUFFER]
        ),
        QueryStart::Done(mpfilter::ndis::consts::NDIS_STATUS_NOT_SUPPORTED, 0)
    );
    assert_eq!(taken(&emu), before + 1, "the miniport got it");
    assert_eq!(
        query.issue_set(filter(&emu, a), OID_NOBODY_KNOWS, &whole),
        QueryStart::Done(mpfilter::ndis::consts::NDIS_STATUS_BUFFER_TOO_SHORT, 0)
    );
    assert_eq!(taken(&emu), before + 1, "refused before any call");
    assert!(emu.violations().is_empty(), "{:?}", emu.violations());
}

/// The filter's meta lives only in a context area it pushed: on an NBL whose top area is
/// another driver's 16 bytes, there is no meta to read and none to pop. A backfill request near
/// the 16-bit limit reaches NDIS whole (rounded up to 16).
#[test]
fn meta_only_in_the_filters_own_context_area_and_backfill_asked_whole() {
    let (emu, a) = booted();
    let (proto, raw, nbl, _held) = protocol_nbl(&emu, a);
    // SAFETY: the "protocol" pushes 16 bytes of its own on its live NBL.
    let status = unsafe { x::NdisAllocateNetBufferListContext(raw, 16, 0, 7) };
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    // SAFETY: a plain read of the live NBL.
    let theirs = unsafe { (*raw).Context };
    assert_eq!(
        nbl.meta(),
        SendMeta::default(),
        "another driver's area holds no meta"
    );
    assert_eq!(nbl.pop_meta(), SendMeta::default());
    // SAFETY: as above.
    assert_eq!(unsafe { (*raw).Context }, theirs, "nothing popped");
    // SAFETY: the protocol pops its own area.
    unsafe { x::NdisFreeNetBufferListContext(raw, 16) };

    for (asked, offset) in [(8_190u16, 8_192u16), (65_000, 65_008)] {
        assert!(nbl.push_meta_with_backfill(meta(4), asked));
        // SAFETY: the area NDIS just pushed.
        let pushed = unsafe { &*(*raw).Context };
        assert_eq!(pushed.Offset, offset, "backfill asked {asked}");
        assert_eq!(nbl.pop_meta(), meta(4));
    }
    // SAFETY: as above.
    assert!(unsafe { (*raw).Context }.is_null());

    free_protocol_nbl(nbl, proto);
    finish(emu, a);
}

/// The filter's own frame NBL carries 1 to `OWN_FRAME_CAPACITY` bytes: an empty frame or one
/// byte too many is refused, and nothing is lent out for it.
#[test]
fn an_own_frame_takes_one_to_capacity_bytes() {
    use mpfilter::ndis::nbl::{OWN_FRAME_CAPACITY, OwnFrame};
    let (emu, a) = booted();
    let own = OwnFrame::new(filter(&emu, a)).expect("resources");
    let bytes = [0x42u8; OWN_FRAME_CAPACITY + 1];
    assert!(own.take(&[]).is_none(), "empty");
    assert!(own.take(&bytes).is_none(), "one byte too many");
    assert!(!own.is_away());
    for len in [1, OWN_FRAME_CAPACITY] {
        let nbl = own.take(&bytes[..len]).expect("a frame");
        assert!(own.is_away());
        assert_eq!(nbl.data_length(), len as u64);
        let mut seen = [0u8; OWN_FRAME_CAPACITY + 1];
        assert_eq!(nbl.peek_front(&mut seen), &bytes[..len]);
        assert_eq!(own.reclaim(nbl).ok(), Some(NDIS_STATUS_SUCCESS));
    }
    drop(own);
    finish(emu, a);
}
