//! The probe's target address, as the `ProbeTarget` key gives it.

use core::net::IpAddr;
use core::str::FromStr;

/// Where the probe asks: an IPv4 address (ARP) or an IPv6 address (neighbour solicitation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeTarget {
    /// ARP request for this IPv4 address.
    V4([u8; 4]),
    /// Neighbour solicitation for this IPv6 address.
    V6([u8; 16]),
}

/// Why a `ProbeTarget` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Not an IPv4 or IPv6 address literal.
    NotAnAddress,
    /// An address no host can answer for: unspecified, multicast, broadcast, loopback.
    NotUnicast,
}

impl core::fmt::Display for TargetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAnAddress => f.write_str("not an IPv4 or IPv6 address"),
            Self::NotUnicast => f.write_str(
                "not a unicast address (unspecified, loopback, multicast and broadcast are refused)",
            ),
        }
    }
}

impl ProbeTarget {
    /// Parses an address literal (`192.0.2.1`, `fe80::1`, `2001:db8::7`).
    ///
    /// # Errors
    /// [`TargetError`] when the text is not an address or not one a host can own.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let addr = IpAddr::from_str(text.trim()).map_err(|_| TargetError::NotAnAddress)?;
        let unicast = match addr {
            IpAddr::V4(a) => {
                !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast())
            }
            IpAddr::V6(a) => !(a.is_unspecified() || a.is_loopback() || a.is_multicast()),
        };
        if !unicast {
            return Err(TargetError::NotUnicast);
        }
        Ok(match addr {
            IpAddr::V4(a) => Self::V4(a.octets()),
            IpAddr::V6(a) => Self::V6(a.octets()),
        })
    }
}
