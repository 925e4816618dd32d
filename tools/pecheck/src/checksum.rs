//! The PE image checksum (`CheckSumMappedFile`'s algorithm).

/// Offset of `OptionalHeader.CheckSum` from the start of the NT headers (signature 4 + file
/// header 20 + 64 bytes of optional header before it; the same for PE32 and PE32+).
const CHECKSUM_IN_NT_HEADERS: usize = 4 + 20 + 64;

/// Where the checksum field sits in `image`, if the DOS header points at NT headers inside it.
pub fn checksum_offset(image: &[u8]) -> Option<usize> {
    let lfanew = image.get(0x3C..0x40)?;
    let nt = u32::from_le_bytes(lfanew.try_into().ok()?) as usize;
    let offset = nt.checked_add(CHECKSUM_IN_NT_HEADERS)?;
    (offset.checked_add(4)? <= image.len()).then_some(offset)
}

/// Computes the checksum of a PE file: the one's-complement-style 16-bit sum of the file's
/// little-endian words (an odd last byte padded with zero), the checksum field itself counted as
/// zero, folded to 16 bits, plus the file length.
pub fn compute(image: &[u8]) -> Option<u32> {
    let skip = checksum_offset(image)?;
    let mut sum: u64 = 0;
    for (i, pair) in image.chunks(2).enumerate() {
        let at = i * 2;
        if (skip..skip + 4).contains(&at) {
            continue;
        }
        let word = u16::from_le_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u64::from(word);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    let total = sum + image.len() as u64;
    u32::try_from(total).ok()
}

/// Writes the correct checksum into `image` (used to build test images).
pub fn stamp(image: &mut [u8]) -> Option<()> {
    let at = checksum_offset(image)?;
    let sum = compute(image)?;
    image[at..at + 4].copy_from_slice(&sum.to_le_bytes());
    Some(())
}

/// The checksum recorded in the optional header.
pub fn recorded(image: &[u8]) -> Option<u32> {
    let at = checksum_offset(image)?;
    Some(u32::from_le_bytes(image[at..at + 4].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::{compute, recorded, stamp};
    use crate::image::ImageBuilder;

    #[test]
    fn stamped_checksum_verifies_and_any_flipped_byte_breaks_it() {
        let mut image = ImageBuilder::driver().build();
        stamp(&mut image).unwrap();
        assert_eq!(compute(&image), recorded(&image));
        let last = image.len() - 1;
        image[last] ^= 0x5A;
        assert_ne!(compute(&image), recorded(&image));
    }

    #[test]
    fn odd_length_pads_the_last_byte_and_counts_the_length() {
        let mut image = ImageBuilder::driver().build();
        image.push(0);
        let with_zero = compute(&image).unwrap();
        let even = compute(&image[..image.len() - 1]).unwrap();
        // A trailing zero byte adds nothing to the word sum, only one to the length.
        assert_eq!(with_zero, even + 1);
    }

    #[test]
    fn truncated_headers_have_no_checksum() {
        assert_eq!(compute(&[0u8; 16]), None);
    }
}
