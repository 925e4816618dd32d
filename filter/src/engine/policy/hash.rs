//! Address hash: rendezvous (highest-random-weight) hashing of the flow's layer-2 or layer-3+4
//! hash over the eligible paths. A flow stays on its path while that path is eligible, and when a
//! path leaves only its own flows move (no global reshuffle, unlike `hash % n`).

use super::super::config::HashLayer;
use super::super::mask::{Bits, mix64};
use super::super::types::{MAX_PATHS, SendRequest};
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

/// One random odd 64-bit seed per path.
const PATH_SEEDS: [u64; MAX_PATHS] = [
    0x4da4_f9fc_3c6d_a5d7,
    0xb8a1_abcd_1a69_16c7,
    0x7a97_c643_6564_12a9,
    0x1710_cf53_27ac_435b,
    0x0512_bd13_1107_2231,
    0x8ca5_9966_66ce_ab37,
    0x4a14_876a_eaff_1a09,
    0xfd72_4452_ccea_71ff,
    0x0f10_99c6_c3e1_b259,
    0x8534_f457_38d0_48ed,
    0x5c39_02b3_8963_dc6f,
    0xc79d_6793_46d4_ac7b,
    0xd3ad_dccb_2c33_be0b,
    0x4300_0de0_1b2e_d40f,
    0xf165_c8ce_36e2_f24b,
    0x0690_5269_ed6f_0b09,
];

impl Policy for AddressHash {
    fn name(&self) -> &'static str {
        "address-hash"
    }

    #[inline]
    fn select(&self, ctx: &HotCtx<'_>, req: &SendRequest, _now_ns: u64) -> Choice {
        let h = match self.layer {
            HashLayer::Layer2 => req.flow.l2,
            HashLayer::Layer34 => req.flow.l34,
        };
        // Mix the flow hash once; each path's score is then one multiply and a fold of it with
        // the path's seed (independent per path, so the loop pipelines).
        let hm = mix64(h);
        if ctx.mask == 0 {
            return Choice::NoPath;
        }
        // Branch-free arg-max: the score's low 4 bits are replaced by the path index, so `max`
        // (a conditional move) carries the winner along.
        let mut best = 0u64;
        for p in Bits(ctx.mask) {
            let x = (hm ^ PATH_SEEDS[p]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let key = ((x ^ (x >> 29)) & !0xf) | p as u64;
            best = best.max(key);
        }
        // The low 4 bits hold a path index (< 16).
        Choice::Path(usize::try_from(best & 0xf).unwrap_or(0))
    }
}
