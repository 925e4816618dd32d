//! The Ethernet frames the emulated protocol sends and the emulated miniport receives: each one
//! carries its adapter, direction and sequence number and a payload derived from them, so the far
//! end can tell an intact frame from a damaged one.

/// EtherType of emulator frames (IEEE local experimental).
pub const ETHERTYPE: u16 = 0x88B5;
/// Bytes of Ethernet header.
pub const ETH_HEADER: usize = 14;
/// Minimum frame the emulator builds (header + seq + adapter + direction).
pub const MIN_FRAME: usize = ETH_HEADER + 10;

/// The MAC of the far end of an adapter's link.
pub fn peer_mac(adapter: usize) -> [u8; 6] {
    [
        0x02,
        0x00,
        0x5E,
        0xFF,
        0x00,
        u8::try_from(adapter & 0xFF).unwrap_or(0),
    ]
}

fn fill(seq: u64, i: usize) -> u8 {
    seq.to_le_bytes()[0] ^ i.to_le_bytes()[0].wrapping_mul(31)
}

/// Writes a frame of `len` bytes into `buf`; returns the length written.
pub fn build(
    buf: &mut [u8],
    dst: [u8; 6],
    src: [u8; 6],
    seq: u64,
    adapter: usize,
    dir: u8,
    len: usize,
) -> usize {
    let len = len.clamp(MIN_FRAME, buf.len());
    buf[0..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    buf[14..22].copy_from_slice(&seq.to_le_bytes());
    buf[22] = u8::try_from(adapter & 0xFF).unwrap_or(0);
    buf[23] = dir;
    for (i, b) in buf[MIN_FRAME..len].iter_mut().enumerate() {
        *b = fill(seq, i);
    }
    len
}

/// What a check of a frame found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// An intact emulator frame with this sequence number.
    Good(u64),
    /// Not an emulator frame (another EtherType): something the filter originated.
    Foreign,
    /// An emulator frame that is damaged or misaddressed.
    Bad(&'static str),
}

/// Checks a frame (`data` holds its first `data.len()` bytes, `total` its full length).
pub fn check(
    data: &[u8],
    total: usize,
    dst: [u8; 6],
    src: [u8; 6],
    adapter: usize,
    dir: u8,
) -> Check {
    if data.len() < ETH_HEADER || u16::from_be_bytes([data[12], data[13]]) != ETHERTYPE {
        return Check::Foreign;
    }
    if data.len() < MIN_FRAME || data.len() != total {
        return Check::Bad("truncated");
    }
    if data[0..6] != dst {
        return Check::Bad("destination MAC");
    }
    if data[6..12] != src {
        return Check::Bad("source MAC");
    }
    if usize::from(data[22]) != adapter & 0xFF || data[23] != dir {
        return Check::Bad("adapter or direction");
    }
    let seq = u64::from_le_bytes(data[14..22].try_into().unwrap_or([0; 8]));
    if data[MIN_FRAME..]
        .iter()
        .enumerate()
        .any(|(i, &b)| b != fill(seq, i))
    {
        return Check::Bad("payload");
    }
    Check::Good(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_seen() {
        let mut buf = [0u8; 256];
        let (a, b) = ([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        let n = build(&mut buf, a, b, 77, 1, 0, 100);
        assert_eq!(n, 100);
        assert_eq!(check(&buf[..n], n, a, b, 1, 0), Check::Good(77));
        assert_eq!(
            check(&buf[..n], n, b, b, 1, 0),
            Check::Bad("destination MAC")
        );
        assert_eq!(
            check(&buf[..n], n, a, b, 1, 1),
            Check::Bad("adapter or direction")
        );
        buf[50] ^= 1;
        assert_eq!(check(&buf[..n], n, a, b, 1, 0), Check::Bad("payload"));
        buf[12] = 0x08;
        assert_eq!(check(&buf[..n], n, a, b, 1, 0), Check::Foreign);
        assert_eq!(build(&mut buf, a, b, 1, 0, 0, 3), MIN_FRAME);
    }
}
