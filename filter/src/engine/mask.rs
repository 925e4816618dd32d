//! Small helpers over path bitmasks (bit `i` = path `i`).

/// Bit for path `p`.
#[inline]
pub const fn bit(p: usize) -> u32 {
    1 << (p & 31)
}

/// Iterator over the set bits of a mask, lowest first.
#[derive(Clone)]
pub struct Bits(pub u32);

impl Iterator for Bits {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            let p = self.0.trailing_zeros() as usize;
            self.0 &= self.0 - 1;
            Some(p)
        }
    }
}

/// The set bits of `mask` in rotation order starting after `cur` (ending with `cur` itself if set).
#[inline]
pub fn rotation(mask: u32, cur: usize) -> impl Iterator<Item = usize> {
    let cur = cur & 31;
    let split = if cur >= 31 {
        u32::MAX
    } else {
        (2u32 << cur) - 1
    };
    Bits(mask & !split).chain(Bits(mask & split))
}

/// The first set bit of `mask` strictly after position `cur`, wrapping around; `None` if empty.
#[inline]
pub fn next_after(mask: u32, cur: usize) -> Option<usize> {
    rotation(mask, cur).next()
}

/// `splitmix64` finaliser: a fast 64-bit mixer.
#[inline]
pub const fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn next_and_rotation() {
        assert_eq!(next_after(0b1011, 0), Some(1));
        assert_eq!(next_after(0b1011, 1), Some(3));
        assert_eq!(next_after(0b1011, 3), Some(0));
        assert_eq!(next_after(0, 3), None);
        let v: alloc::vec::Vec<usize> = rotation(0b1011, 1).collect();
        assert_eq!(v, [3, 0, 1]);
        let v: alloc::vec::Vec<usize> = rotation(0b1011, 31).collect();
        assert_eq!(v, [0, 1, 3]);
    }
}
