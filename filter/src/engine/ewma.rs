//! Fixed-point exponential decay and the half-life EWMA used for measured path speed. Integer
//! arithmetic only (no floating point in the kernel).

/// `2^(-i/64)` in Q32 for `i` in 0..=64.
const EXP2_NEG_Q32: [u64; 65] = [
    4_294_967_296,
    4_248_701_965,
    4_202_935_003,
    4_157_661_043,
    4_112_874_773,
    4_068_570_940,
    4_024_744_348,
    3_981_389_855,
    3_938_502_376,
    3_896_076_880,
    3_854_108_391,
    3_812_591_987,
    3_771_522_796,
    3_730_896_002,
    3_690_706_840,
    3_650_950_594,
    3_611_622_603,
    3_572_718_252,
    3_534_232_978,
    3_496_162_267,
    3_458_501_653,
    3_421_246_719,
    3_384_393_094,
    3_347_936_457,
    3_311_872_529,
    3_276_197_082,
    3_240_905_930,
    3_205_994_934,
    3_171_459_999,
    3_137_297_074,
    3_103_502_151,
    3_070_071_267,
    3_037_000_500,
    3_004_285_971,
    2_971_923_842,
    2_939_910_317,
    2_908_241_642,
    2_876_914_102,
    2_845_924_021,
    2_815_267_765,
    2_784_941_738,
    2_754_942_382,
    2_725_266_179,
    2_695_909_648,
    2_666_869_345,
    2_638_141_863,
    2_609_723_834,
    2_581_611_923,
    2_553_802_834,
    2_526_293_303,
    2_499_080_105,
    2_472_160_047,
    2_445_529_972,
    2_419_186_755,
    2_393_127_307,
    2_367_348_571,
    2_341_847_524,
    2_316_621_173,
    2_291_666_561,
    2_266_980_759,
    2_242_560_872,
    2_218_404_036,
    2_194_507_417,
    2_170_868_212,
    2_147_483_648,
];

/// One in Q32.
pub const ONE_Q32: u64 = 1 << 32;

/// `2^(-dt/half_life)` in Q32 (linear interpolation between 1/64 steps: relative error < 2e-5).
/// A zero half-life decays everything at once.
pub fn decay_q32(dt_ns: u64, half_life_ns: u64) -> u64 {
    if half_life_ns == 0 {
        return 0;
    }
    let whole = dt_ns / half_life_ns;
    if whole >= 64 {
        return 0;
    }
    // Fraction of a half-life in Q16; (dt mod h) < h <= 2^36, so the shift cannot overflow.
    let frac = ((dt_ns % half_life_ns) << 16) / half_life_ns;
    let idx = usize::try_from(frac >> 10).unwrap_or(63).min(63);
    let rem = frac & 1023;
    let hi = EXP2_NEG_Q32[idx];
    let lo = EXP2_NEG_Q32[idx + 1];
    let v = hi - (((hi - lo) * rem) >> 10);
    v >> whole
}

/// Mixes `sample` into `estimate` with weight `1 - decay` (both in the same unit), where `decay` is
/// a Q32 factor from [`decay_q32`].
pub fn ewma_mix(estimate: u64, sample: u64, decay: u64) -> u64 {
    let d = u128::from(decay.min(ONE_Q32));
    let v = (u128::from(estimate) * d + u128::from(sample) * (u128::from(ONE_Q32) - d)) >> 32;
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn decay_points() {
        assert_eq!(decay_q32(0, 100), ONE_Q32);
        assert_eq!(decay_q32(100, 100), ONE_Q32 / 2);
        assert_eq!(decay_q32(300, 100), ONE_Q32 / 8);
        assert_eq!(decay_q32(u64::MAX, 1), 0);
        let half_half = decay_q32(50, 100); // 2^-0.5
        assert!(half_half.abs_diff(3_037_000_500) < 100_000);
    }

    #[test]
    fn mix_moves_toward_sample() {
        assert_eq!(ewma_mix(100, 200, ONE_Q32 / 2), 150);
        assert_eq!(ewma_mix(100, 200, 0), 200);
        assert_eq!(ewma_mix(100, 200, ONE_Q32), 100);
    }
}
