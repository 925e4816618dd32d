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
}
