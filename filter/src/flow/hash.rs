//! A small, fast, keyed 64-bit mixer for header fields. Not cryptographic: the keys only spread
//! flows over paths; a peer that could pick its ports to collide gains nothing but its own
//! flows on one path.

/// The last 0–7 bytes of a field as a little-endian word, zero-padded: assembled in registers,
/// because copying them into a zeroed 8-byte buffer and loading that as one word stalls the load
/// behind the narrower stores (most fields hashed per NBL — IPv4 addresses, ports — are such
/// tails).
fn tail_word(rest: &[u8]) -> u64 {
    let mut w = 0;
    for (i, &b) in rest.iter().enumerate().take(8) {
        w |= u64::from(b) << (8 * i);
    }
    w
}

/// Accumulates fields into one 64-bit hash.
#[derive(Clone, Copy, Debug)]
pub struct Mixer(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Mixer {
    /// A mixer seeded with `domain`, so equal fields in different roles hash differently.
    pub const fn new(domain: u64) -> Self {
        Mixer(domain ^ 0x243F_6A88_85A3_08D3)
    }

    /// Mixes `bytes` in, 8 at a time, the length included.
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self = self.word(u64::from_le_bytes(w));
        }
        self.word(tail_word(chunks.remainder()) ^ ((bytes.len() as u64) << 56))
    }

    /// Mixes one word in.
    pub fn word(self, w: u64) -> Self {
        let x = (self.0 ^ w).wrapping_mul(K);
        Mixer(x ^ (x >> 29))
    }

    /// The final hash.
    pub fn finish(self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        x ^ (x >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `bytes` mixes in, spelled out: every 8-byte chunk, then the zero-padded rest with the
    /// length in the top byte.
    fn reference(mut m: Mixer, bytes: &[u8]) -> Mixer {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            m = m.word(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let mut w = [0; 8];
        w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        m.word(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56))
    }

    #[test]
    fn bytes_mixes_the_zero_padded_little_endian_tail_for_every_length() {
        let data: [u8; 40] = core::array::from_fn(|i| u8::try_from(i * 37 % 256).unwrap() ^ 0xA5);
        for len in 0..=data.len() {
            for start in 0..3 {
                let field = &data[start..(start + len).min(data.len())];
                assert_eq!(
                    Mixer::new(7).bytes(field).finish(),
                    reference(Mixer::new(7), field).finish(),
                    "{len} bytes from {start}"
                );
            }
        }
    }

    #[test]
    fn a_tail_is_its_bytes_little_endian() {
        assert_eq!(tail_word(&[]), 0);
        assert_eq!(tail_word(&[0x01, 0x02, 0x03, 0x04]), 0x0403_0201);
        assert_eq!(tail_word(&[0xFF; 7]), 0x00FF_FFFF_FFFF_FFFF);
    }
}
