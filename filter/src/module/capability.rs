//! What a member's stack can carry, and what an NBL needs: a team never sends an NBL down a stack
//! that cannot take it.
//!
//! A protocol builds its NBLs for the offloads and MTU *its* stack presented (large sends up to
//! its LSO limit, frames up to its MTU). Another member may have a smaller LSO limit, no LSO for
//! that IP version, or a smaller MTU; a large send reaching such a miniport unsegmented, or a
//! frame above its MTU, is what NDIS forbids ("must ensure the miniport below gets no larger
//! packets"). The teamed send path therefore checks every choice against the member's limits and
//! chooses again among the capable paths; when none is eligible the NBL completes with
//! `NDIS_STATUS_INVALID_LENGTH` (counted) — the protocol's TCP sends the data again, and no
//! software segmentation is done in the filter (it would allocate and copy on the send path).
//!
//! A member's limits: LSOv2 `MaxOffLoadSize` per IP version from the attach parameters'
//! `DefaultOffloadConfiguration` and every `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` that passes
//! it, the MTU from its restart attributes (`MtuSize`, payload bytes after the link header).

use super::Module;
use super::route::Route;
use crate::engine::types::MAX_PATHS;
use crate::ndis::offload::{MAX_OFFLOAD_COPY, NarrowedOffload};
use crate::ndis::{Nbl, OffloadLimits, SpinLock};
use alloc::boxed::Box;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, Ordering};

/// Bytes of an Ethernet header, and of an 802.1Q tag carried in the frame.
const ETH_HEADER: u32 = 14;
const VLAN_TAG: u32 = 4;

/// A member's limits, read on the send path of any CPU (relaxed: a send racing a change sees the
/// old or the new limit, as it would racing the miniport's own indication).
#[derive(Debug, Default)]
pub struct Capability {
    lso_v4_max: AtomicU32,
    lso_v6_max: AtomicU32,
    /// 0 until the first restart tells.
    mtu: AtomicU32,
    /// What the drivers above this module were last presented (LSOv2 per IP version).
    presented_v4: AtomicU32,
    presented_v6: AtomicU32,
}

impl Capability {
    /// New large-send limits (attach, or a current-config indication).
    pub fn set_offload(&self, l: OffloadLimits) {
        self.lso_v4_max.store(l.lso_v4_max, Ordering::Relaxed);
        self.lso_v6_max.store(l.lso_v6_max, Ordering::Relaxed);
    }

    /// The MTU from a restart (0: unknown, no limit applied).
    pub fn set_mtu(&self, mtu: u32) {
        self.mtu.store(mtu, Ordering::Relaxed);
    }

    /// The stack's large-send limits.
    pub fn offload(&self) -> OffloadLimits {
        OffloadLimits {
            lso_v4_max: self.lso_v4_max.load(Ordering::Relaxed),
            lso_v6_max: self.lso_v6_max.load(Ordering::Relaxed),
        }
    }

    /// The stack's MTU (0: not known yet).
    pub fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    /// Records the large-send limits the drivers above were presented.
    pub fn set_presented_offload(&self, l: OffloadLimits) {
        self.presented_v4.store(l.lso_v4_max, Ordering::Relaxed);
        self.presented_v6.store(l.lso_v6_max, Ordering::Relaxed);
    }

    /// The large-send limits the drivers above were last presented.
    pub fn presented_offload(&self) -> OffloadLimits {
        OffloadLimits {
            lso_v4_max: self.presented_v4.load(Ordering::Relaxed),
            lso_v6_max: self.presented_v6.load(Ordering::Relaxed),
        }
    }

    /// Whether an NBL with `need` fits this stack.
    pub fn carries(&self, need: Need) -> bool {
        match need {
            Need::Frames { payload } => {
                let mtu = self.mtu.load(Ordering::Relaxed);
                mtu == 0 || payload <= mtu
            }
            Need::LargeSend { ipv6, payload } => {
                let max = if ipv6 {
                    &self.lso_v6_max
                } else {
                    &self.lso_v4_max
                };
                let max = max.load(Ordering::Relaxed);
                max != 0 && payload <= max
            }
        }
    }
}

/// The last full offload configuration a member's stack reported (attach parameters, or a
/// current-config indication), kept to present the group's limits to the drivers above again
/// when they narrow later (a smaller member joins). Behind a spin lock: written in FilterAttach
/// and FilterStatus, read when another member joins.
pub struct LastOffload(Pin<Box<SpinLock<OffloadBytes>>>);

/// The bytes of an offload configuration.
struct OffloadBytes {
    bytes: [u8; MAX_OFFLOAD_COPY],
    len: usize,
}

impl LastOffload {
    /// Nothing reported yet (allocates the lock; PASSIVE_LEVEL, at attach).
    pub fn new() -> Self {
        Self(SpinLock::new(OffloadBytes {
            bytes: [0; MAX_OFFLOAD_COPY],
            len: 0,
        }))
    }

    /// Keeps `bytes` (ignored when longer than [`MAX_OFFLOAD_COPY`]).
    pub fn store(&self, bytes: &[u8]) {
        if bytes.len() > MAX_OFFLOAD_COPY {
            return;
        }
        let mut g = self.0.lock();
        g.bytes[..bytes.len()].copy_from_slice(bytes);
        g.len = bytes.len();
    }

    /// The last configuration narrowed to `limits` (see [`NarrowedOffload::of`]).
    pub fn narrowed(&self, limits: OffloadLimits) -> Option<NarrowedOffload> {
        let g = self.0.lock();
        NarrowedOffload::of(&g.bytes[..g.len], limits)
    }
}

impl Default for LastOffload {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for LastOffload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LastOffload").finish_non_exhaustive()
    }
}

/// What an NBL needs of the stack that sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Plain frames: the largest payload after the link header (and an in-frame 802.1Q tag).
    Frames {
        /// Bytes.
        payload: u32,
    },
    /// A large send (LSO info set): segmented by the miniport.
    LargeSend {
        /// LSOv2 for IPv6 (else IPv4).
        ipv6: bool,
        /// Bytes after the link header.
        payload: u32,
    },
}

impl Need {
    /// What `nbl` needs: from its LSO out-of-band information, its NET_BUFFERs' lengths and its
    /// first frame's `front` bytes (an in-frame 802.1Q tag).
    pub fn of(nbl: &Nbl, front: &[u8]) -> Need {
        let tagged = front.get(12..14) == Some(&[0x81, 0x00][..]);
        let link = ETH_HEADER + if tagged { VLAN_TAG } else { 0 };
        let longest = nbl
            .net_buffers()
            .map(crate::ndis::NetBuffer::data_length)
            .max()
            .unwrap_or(0);
        let payload = longest.saturating_sub(link);
        match nbl.large_send() {
            Some(ipv6) => Need::LargeSend { ipv6, payload },
            None => Need::Frames { payload },
        }
    }
}

impl Module {
    /// This module's stack limits.
    pub fn capability(&self) -> &Capability {
        &self.capability
    }

    /// Tells the drivers above the group's narrower large-send limits: its stack's last offload
    /// configuration, narrowed to `limits`, indicated up as its own current-config indication.
    /// Nothing when the module keeps no configuration or it is within `limits` already.
    ///
    /// IRQL: <= DISPATCH_LEVEL. Serialised: with the group's writers (attach, detach), PASSIVE.
    pub fn present_offload(&self, limits: OffloadLimits) {
        let Some(mut n) = self.last_offload.as_ref().and_then(|l| l.narrowed(limits)) else {
            return;
        };
        self.handle.indicate_offload(&mut n);
        self.capability.set_presented_offload(n.limits);
        self.counters.status_indications_narrowed.inc();
    }
}

/// What every member of `route` can carry: the smallest LSO limit per IP version (0 where any
/// member has none) and the smallest known MTU (0 when no member knows its MTU yet). What a
/// member presents to the protocol above it, so that the protocol builds NBLs any path can take.
pub fn group_limits(route: &Route<'_>) -> (OffloadLimits, u32) {
    let mut lso = OffloadLimits {
        lso_v4_max: u32::MAX,
        lso_v6_max: u32::MAX,
    };
    let mut mtu = 0u32;
    for m in route.seats.iter().flatten() {
        let c = m.capability();
        let o = c.offload();
        lso.lso_v4_max = lso.lso_v4_max.min(o.lso_v4_max);
        lso.lso_v6_max = lso.lso_v6_max.min(o.lso_v6_max);
        let own = c.mtu();
        if own != 0 {
            mtu = if mtu == 0 { own } else { mtu.min(own) };
        }
    }
    if lso.lso_v4_max == u32::MAX {
        lso = OffloadLimits::default();
    }
    (lso, mtu)
}

/// Presents the group's large-send limits to every member whose drivers above were shown more:
/// a narrowed current-config indication up its stack. Called when the group's limits may have
/// shrunk: a member joined or reported a new configuration.
///
/// The MTU is not pushed the same way: a bound stack learns a new MTU only through a restart,
/// and restarting a member takes its path out of service (its up delay, its failback), so a
/// smaller MTU reaches a member's drivers above at that member's next restart, and until then
/// the per-NBL check keeps every frame on a path whose MTU takes it.
///
/// IRQL: <= DISPATCH_LEVEL. Serialised: against nothing it relies on (an indication racing
/// another member's change presents the older or the newer limits; the next change corrects it).
pub fn present_group(route: &Route<'_>) {
    let (lso, _) = group_limits(route);
    for m in route.seats.iter().flatten() {
        let shown = m.capability().presented_offload();
        if shown.lso_v4_max > lso.lso_v4_max || shown.lso_v6_max > lso.lso_v6_max {
            m.present_offload(lso);
        }
    }
}

/// The engine paths of `route` whose member cannot carry `need` (a bit per path).
pub(super) fn incapable_paths(route: &Route<'_>, need: Need) -> u32 {
    let mut mask = 0;
    for (path, &seat) in route.path_seat.iter().enumerate().take(MAX_PATHS) {
        if let Some(m) = route.member_at(seat)
            && !m.capability().carries(need)
        {
            mask |= 1u32 << (path & 31);
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_fit_the_mtu_and_large_sends_the_lso_limit_of_their_ip_version() {
        let c = Capability::default();
        // Unknown MTU: no limit; no LSO yet: no large send.
        assert!(c.carries(Need::Frames { payload: 9000 }));
        assert!(!c.carries(Need::LargeSend {
            ipv6: false,
            payload: 1000
        }));
        c.set_mtu(1500);
        c.set_offload(OffloadLimits {
            lso_v4_max: 16_384,
            lso_v6_max: 0,
        });
        assert!(c.carries(Need::Frames { payload: 1500 }));
        assert!(!c.carries(Need::Frames { payload: 1501 }));
        assert!(c.carries(Need::LargeSend {
            ipv6: false,
            payload: 16_384
        }));
        assert!(!c.carries(Need::LargeSend {
            ipv6: false,
            payload: 16_385
        }));
        assert!(!c.carries(Need::LargeSend {
            ipv6: true,
            payload: 100
        }));
    }
}
