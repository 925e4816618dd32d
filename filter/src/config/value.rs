//! What `NdisReadConfiguration` returns, and the text forms of the keys.

/// One value as read: NDIS gives REG_DWORD as an integer and REG_SZ as a counted UTF-16 string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawValue<'a> {
    /// `NdisParameterInteger` / `NdisParameterHexInteger`.
    Integer(u32),
    /// `NdisParameterString`: UTF-16 code units, no terminator.
    Text(&'a [u16]),
}

/// The longest text value considered; longer ones are rejected (and shown cut). An IPv6 address
/// literal takes up to 45 characters.
pub const MAX_TEXT: usize = 48;

/// A text value folded to lower-case ASCII in a fixed buffer, surrounding blanks removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ascii {
    bytes: [u8; MAX_TEXT],
    len: usize,
}

impl Ascii {
    /// `units` as lower-case ASCII, or `None` when it holds anything else or is too long.
    pub fn fold(units: &[u16]) -> Option<Ascii> {
        let units = trim(units);
        if units.len() > MAX_TEXT {
            return None;
        }
        let mut bytes = [0; MAX_TEXT];
        for (b, &u) in bytes.iter_mut().zip(units) {
            let c = u8::try_from(u).ok().filter(u8::is_ascii_graphic)?;
            *b = c.to_ascii_lowercase();
        }
        Some(Ascii {
            bytes,
            len: units.len(),
        })
    }

    /// The folded text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

fn trim(mut units: &[u16]) -> &[u16] {
    let blank = |u: &u16| *u == u16::from(b' ') || *u == u16::from(b'\t');
    while units.first().is_some_and(blank) {
        units = &units[1..];
    }
    while units.last().is_some_and(blank) {
        units = &units[..units.len() - 1];
    }
    units
}

/// A decimal integer (no sign, no leading `+`), or `None`.
pub fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `name:<n>` with `n` in `1..=max`, or `None`.
pub fn named_ms(text: &str, name: &str, max: u32) -> Option<u32> {
    let n = decimal(text.strip_prefix(name)?.strip_prefix(':')?)?;
    (1..=max).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> alloc::vec::Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn folding_trims_lowers_and_refuses_non_ascii_and_long_text() {
        assert_eq!(
            Ascii::fold(&utf16("  Speed-Share\t")).unwrap().as_str(),
            "speed-share"
        );
        assert!(Ascii::fold(&utf16("spéed")).is_none());
        assert!(Ascii::fold(&utf16("a b")).is_none());
        assert!(Ascii::fold(&utf16(&"x".repeat(MAX_TEXT + 1))).is_none());
        assert_eq!(Ascii::fold(&utf16("")).unwrap().as_str(), "");
    }

    #[test]
    fn decimals_and_named_times() {
        assert_eq!(decimal("4294967295"), Some(u32::MAX));
        assert_eq!(decimal("4294967296"), None);
        assert_eq!(decimal("+1"), None);
        assert_eq!(decimal(""), None);
        assert_eq!(named_ms("deferred:250", "deferred", 1000), Some(250));
        assert_eq!(named_ms("deferred:0", "deferred", 1000), None);
        assert_eq!(named_ms("deferred:1001", "deferred", 1000), None);
        assert_eq!(named_ms("deferred", "deferred", 1000), None);
        assert_eq!(named_ms("queue:5", "deferred", 1000), None);
    }
}
