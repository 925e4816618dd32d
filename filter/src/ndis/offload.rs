//! What the filter reads of an offload configuration (`NDIS_OFFLOAD`): the large-send limits a
//! stack can carry. Read from the attach parameters' `DefaultOffloadConfiguration` and from
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indications.

use super::consts::{NDIS_OBJECT_TYPE_OFFLOAD, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1};
use super::types::NDIS_OFFLOAD;
use core::mem::MaybeUninit;

/// Large-send offload (LSOv2) limits of a stack: the largest TCP payload it segments per IP
/// version, 0 where it has no LSOv2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadLimits {
    /// IPv4 `MaxOffLoadSize` (0: none).
    pub lso_v4_max: u32,
    /// IPv6 `MaxOffLoadSize` (0: none).
    pub lso_v6_max: u32,
}

impl OffloadLimits {
    fn of(o: &NDIS_OFFLOAD) -> Self {
        let max = |encapsulation: u32, size: u32| if encapsulation == 0 { 0 } else { size };
        OffloadLimits {
            lso_v4_max: max(o.LsoV2IPv4.Encapsulation, o.LsoV2IPv4.MaxOffLoadSize),
            lso_v6_max: max(o.LsoV2IPv6.Encapsulation, o.LsoV2IPv6.MaxOffLoadSize),
        }
    }

    /// The limits in `bytes`, an `NDIS_OFFLOAD` of at least revision 1 with its type; `None` for
    /// anything shorter or of another type.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < usize::from(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1) {
            return None;
        }
        let mut o = MaybeUninit::<NDIS_OFFLOAD>::zeroed();
        let len = bytes.len().min(size_of::<NDIS_OFFLOAD>());
        // SAFETY: `len` bytes fit both the source slice and the zeroed destination; `NDIS_OFFLOAD`
        // is integers only, so any bytes are a valid value.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), o.as_mut_ptr().cast::<u8>(), len) };
        // SAFETY: zeroed, then partly overwritten with bytes: integers only, all initialised.
        let o = unsafe { o.assume_init() };
        let header_ok = o.Header.Type == NDIS_OBJECT_TYPE_OFFLOAD
            && o.Header.Size >= NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1;
        header_ok.then(|| Self::of(&o))
    }
}

/// Largest offload configuration buffer [`NarrowedOffload::of`] copies (revision 5 of
/// `NDIS_OFFLOAD` is well below this).
pub const MAX_OFFLOAD_COPY: usize = 512;

/// A copy of an offload configuration buffer with its LSOv2 limits narrowed.
pub struct NarrowedOffload {
    /// The copied bytes (the first `len` are the buffer's).
    pub bytes: [u8; MAX_OFFLOAD_COPY],
    /// The buffer's length.
    pub len: usize,
    /// The limits now in the copy.
    pub limits: OffloadLimits,
}

impl NarrowedOffload {
    /// `bytes` (an `NDIS_OFFLOAD` of revision 1 or later) with each LSOv2 limit lowered to
    /// `limits`' (turned off — encapsulation and size 0 — where that is 0), every other byte as
    /// it was. `None` when `bytes` is no readable offload configuration, longer than
    /// [`MAX_OFFLOAD_COPY`], or already within `limits` (nothing to narrow).
    pub fn of(bytes: &[u8], limits: OffloadLimits) -> Option<Self> {
        let current = OffloadLimits::from_bytes(bytes)?;
        let narrowed = OffloadLimits {
            lso_v4_max: current.lso_v4_max.min(limits.lso_v4_max),
            lso_v6_max: current.lso_v6_max.min(limits.lso_v6_max),
        };
        if narrowed == current || bytes.len() > MAX_OFFLOAD_COPY {
            return None;
        }
        let mut copy = [0u8; MAX_OFFLOAD_COPY];
        copy[..bytes.len()].copy_from_slice(bytes);
        let v4 = core::mem::offset_of!(NDIS_OFFLOAD, LsoV2IPv4);
        let v6 = core::mem::offset_of!(NDIS_OFFLOAD, LsoV2IPv6);
        for (at, limit) in [(v4, narrowed.lso_v4_max), (v6, narrowed.lso_v6_max)] {
            if limit == 0 {
                copy[at..at + 4].fill(0);
            }
            copy[at + 4..at + 8].copy_from_slice(&limit.to_ne_bytes());
        }
        Some(NarrowedOffload {
            bytes: copy,
            len: bytes.len(),
            limits: narrowed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndis::types::NDIS_OBJECT_HEADER;

    fn bytes_of(o: &NDIS_OFFLOAD) -> [u8; size_of::<NDIS_OFFLOAD>()] {
        let mut b = [0u8; size_of::<NDIS_OFFLOAD>()];
        // SAFETY: plain integers, copied byte for byte into an array of the same size.
        unsafe {
            core::ptr::copy_nonoverlapping(
                core::ptr::from_ref(o).cast::<u8>(),
                b.as_mut_ptr(),
                b.len(),
            );
        }
        b
    }

    #[test]
    fn lso_limits_are_read_per_ip_version_and_need_an_encapsulation() {
        let mut o = NDIS_OFFLOAD {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OFFLOAD, 3, 0x9C),
            ..NDIS_OFFLOAD::default()
        };
        o.LsoV2IPv4.Encapsulation = 1;
        o.LsoV2IPv4.MaxOffLoadSize = 65_535;
        o.LsoV2IPv6.MaxOffLoadSize = 32_000; // no encapsulation: not supported
        let b = bytes_of(&o);
        assert_eq!(
            OffloadLimits::from_bytes(&b),
            Some(OffloadLimits {
                lso_v4_max: 65_535,
                lso_v6_max: 0
            })
        );
        // Revision 1 is enough; less is not; another type is not.
        assert!(OffloadLimits::from_bytes(&b[..0x70]).is_some());
        assert_eq!(OffloadLimits::from_bytes(&b[..0x6F]), None);
        o.Header.Type = 0x80;
        assert_eq!(OffloadLimits::from_bytes(&bytes_of(&o)), None);
    }

    #[test]
    fn narrowing_lowers_or_turns_off_lso_and_keeps_every_other_byte() {
        let mut o = NDIS_OFFLOAD {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OFFLOAD, 3, 0x9C),
            ..NDIS_OFFLOAD::default()
        };
        o.Checksum[0].Bits = 0x2AA;
        o.LsoV2IPv4.Encapsulation = 2;
        o.LsoV2IPv4.MaxOffLoadSize = 64_000;
        o.LsoV2IPv6.Encapsulation = 2;
        o.LsoV2IPv6.MaxOffLoadSize = 32_000;
        let b = bytes_of(&o);
        let limits = OffloadLimits {
            lso_v4_max: 16_000,
            lso_v6_max: 0,
        };
        let n = NarrowedOffload::of(&b, limits).expect("something to narrow");
        assert_eq!(n.len, b.len());
        assert_eq!(OffloadLimits::from_bytes(&n.bytes[..n.len]), Some(limits));
        assert_eq!(n.limits, limits);
        let lso = 0x50..0x6C;
        for (i, (x, y)) in b.iter().zip(&n.bytes[..n.len]).enumerate() {
            if !lso.contains(&i) {
                assert_eq!(x, y, "byte {i}");
            }
        }
        // Within the limits already: nothing to narrow.
        assert!(NarrowedOffload::of(&n.bytes[..n.len], limits).is_none());
        assert!(NarrowedOffload::of(&b[..0x40], limits).is_none());
    }
}
