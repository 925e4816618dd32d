//! A small, fast, keyed 64-bit mixer for header fields. Not cryptographic: the keys only spread
//! flows over paths; a peer that could pick its ports to collide gains nothing but its own
//! flows on one path.

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
        let rest = chunks.remainder();
        let mut w = [0; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56))
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
