//! Address hash: rendezvous (highest-random-weight) hashing of the flow's layer-2 or layer-3+4
//! hash over the eligible paths. A flow stays on its path while that path is eligible, and when a
//! path leaves only its own flows move (no global reshuffle, unlike `hash % n`).

use super::super::config::HashLayer;
use super::super::mask::{Bits, mix64};
use super::super::types::SendRequest;
use super::{Choice, HotCtx, Policy};

/// The address-hash policy.
pub struct AddressHash {
    layer: HashLayer,
}

impl AddressHash {
    /// A policy hashing `layer`.
    pub fn new(layer: HashLayer) -> Self {
        Self { layer }
    }
}

const PATH_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl Policy for AddressHash {
    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let h = match self.layer {
            HashLayer::Layer2 => req.flow.l2,
            HashLayer::Layer34 => req.flow.l34,
        };
        let mut best = None;
        let mut best_score = 0u64;
        for p in Bits(ctx.mask) {
            let score = mix64(h ^ PATH_SEED.wrapping_mul(p as u64 + 1));
            if best.is_none() || score > best_score {
                best = Some(p);
                best_score = score;
            }
        }
        best.map_or(Choice::NoPath, Choice::Path)
    }
}
