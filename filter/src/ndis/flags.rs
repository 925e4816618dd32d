//! Typed data-path flags.
//!
//! Each direction has its own type so that a receive flag can never be passed where a send flag is
//! expected. The DISPATCH bit is only ever *carried* from the flags NDIS gave us (never derived by
//! testing the IRQL): a completion or return issued inside a callback carries DISPATCH exactly when
//! the flags of that callback did.

use super::consts::{
    NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES,
    NDIS_RETURN_FLAGS_DISPATCH_LEVEL, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
    NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK, NDIS_SEND_FLAGS_DISPATCH_LEVEL,
};

/// Flags of `FilterSendNetBufferLists` / `NdisFSendNetBufferLists`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendFlags(u32);

/// Flags of `FilterSendNetBufferListsComplete` / `NdisFSendNetBufferListsComplete`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendCompleteFlags(u32);

/// Flags of `FilterReceiveNetBufferLists` / `NdisFIndicateReceiveNetBufferLists`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiveFlags(u32);

/// Flags of `FilterReturnNetBufferLists` / `NdisFReturnNetBufferLists`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReturnFlags(u32);

impl SendFlags {
    /// The flags exactly as NDIS passed them.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }
    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// The caller said it runs at DISPATCH_LEVEL.
    pub const fn is_dispatch(self) -> bool {
        self.0 & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0
    }
    /// The flags for sending, down another module's stack, NBLs that came down this send: only
    /// DISPATCH (true for that call too: it is made inside this one).
    ///
    /// Everything else describes the sender's own binding and must not reach the other stack
    /// (reroute facts §1.7): CHECK_FOR_LOOPBACK loops back only to the binding that sent (the
    /// filter owes that loopback itself), SINGLE_QUEUE is the originator's VMQ state, and the
    /// Hyper-V switch flags have meaning only inside one switch.
    #[must_use]
    pub const fn for_other_module(self) -> SendFlags {
        SendFlags(self.0 & NDIS_SEND_FLAGS_DISPATCH_LEVEL)
    }
    /// The caller asked for NDIS's loopback check (`NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK`).
    pub const fn checks_loopback(self) -> bool {
        self.0 & NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK != 0
    }
    /// These flags without `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK` (for a filter that provides the
    /// loopback itself).
    #[must_use]
    pub const fn without_loopback(self) -> SendFlags {
        SendFlags(self.0 & !NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK)
    }
    /// Flags for completing NBLs of this send without forwarding them: DISPATCH iff this send's.
    pub const fn to_complete_flags(self) -> SendCompleteFlags {
        if self.is_dispatch() {
            SendCompleteFlags(NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
        } else {
            SendCompleteFlags(0)
        }
    }
}

impl SendCompleteFlags {
    /// Flags for a completion the filter issues itself: DISPATCH exactly when the caller *knows*
    /// it runs at DISPATCH_LEVEL (from the flags of the callback it runs in, never by testing the
    /// IRQL).
    pub const fn dispatch(at_dispatch: bool) -> Self {
        if at_dispatch {
            Self(NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
        } else {
            Self(0)
        }
    }
    /// The flags exactly as NDIS passed them.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }
    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// The caller said it runs at DISPATCH_LEVEL.
    pub const fn is_dispatch(self) -> bool {
        self.0 & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0
    }
}

impl ReceiveFlags {
    /// The flags exactly as NDIS passed them.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }
    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// The caller said it runs at DISPATCH_LEVEL.
    pub const fn is_dispatch(self) -> bool {
        self.0 & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0
    }
    /// NDIS_RECEIVE_FLAGS_RESOURCES: the NBLs go back to the indicator when the callback returns;
    /// they must never be returned with `NdisFReturnNetBufferLists`.
    pub const fn has_resources(self) -> bool {
        self.0 & NDIS_RECEIVE_FLAGS_RESOURCES != 0
    }
    /// Flags for returning NBLs of this indication without passing them up: DISPATCH iff this
    /// indication's.
    pub const fn to_return_flags(self) -> ReturnFlags {
        if self.is_dispatch() {
            ReturnFlags(NDIS_RETURN_FLAGS_DISPATCH_LEVEL)
        } else {
            ReturnFlags(0)
        }
    }
}

impl ReturnFlags {
    /// The flags exactly as NDIS passed them.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }
    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// The caller said it runs at DISPATCH_LEVEL (the filter passes these flags on as they came;
    /// read by the unit tests).
    #[cfg(test)]
    pub const fn is_dispatch(self) -> bool {
        self.0 & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndis::consts::{
        NDIS_RECEIVE_FLAGS_MORE_NBLS, NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK,
        NDIS_SEND_FLAGS_SINGLE_QUEUE,
    };

    /// Every bit but DISPATCH: the switch flags and whatever a later NDIS adds are stripped too.
    const OTHER_BITS: u32 = !NDIS_SEND_FLAGS_DISPATCH_LEVEL;

    #[test]
    fn flags_for_another_module_keep_only_dispatch() {
        let every = SendFlags::from_bits(
            NDIS_SEND_FLAGS_DISPATCH_LEVEL
                | NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK
                | NDIS_SEND_FLAGS_SINGLE_QUEUE
                | OTHER_BITS,
        );
        assert_eq!(
            every.for_other_module().bits(),
            NDIS_SEND_FLAGS_DISPATCH_LEVEL
        );
        assert!(every.for_other_module().is_dispatch());
        let passive = SendFlags::from_bits(
            NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK | NDIS_SEND_FLAGS_SINGLE_QUEUE | OTHER_BITS,
        );
        assert_eq!(passive.for_other_module().bits(), 0);
        assert!(!passive.is_dispatch());
        assert_eq!(
            SendFlags::default().for_other_module(),
            SendFlags::default()
        );
    }

    #[test]
    fn a_completion_the_filter_issues_carries_dispatch_only_when_told() {
        assert_eq!(
            SendCompleteFlags::dispatch(true).bits(),
            NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        );
        assert!(SendCompleteFlags::dispatch(true).is_dispatch());
        assert_eq!(SendCompleteFlags::dispatch(false).bits(), 0);
        assert!(!SendCompleteFlags::dispatch(false).is_dispatch());
    }

    #[test]
    fn complete_flags_carry_dispatch_only_when_the_send_did() {
        let at_dispatch = SendFlags::from_bits(
            NDIS_SEND_FLAGS_DISPATCH_LEVEL | NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK,
        );
        assert!(at_dispatch.is_dispatch());
        assert_eq!(
            at_dispatch.to_complete_flags().bits(),
            NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        );
        let passive = SendFlags::from_bits(NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK);
        assert!(!passive.is_dispatch());
        assert_eq!(passive.to_complete_flags().bits(), 0);
    }

    #[test]
    fn return_flags_carry_dispatch_only_when_the_receive_did() {
        let r = ReceiveFlags::from_bits(
            NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
                | NDIS_RECEIVE_FLAGS_RESOURCES
                | NDIS_RECEIVE_FLAGS_MORE_NBLS,
        );
        assert!(r.is_dispatch() && r.has_resources());
        assert_eq!(r.to_return_flags().bits(), NDIS_RETURN_FLAGS_DISPATCH_LEVEL);
        let p = ReceiveFlags::from_bits(NDIS_RECEIVE_FLAGS_MORE_NBLS);
        assert!(!p.is_dispatch() && !p.has_resources());
        assert_eq!(p.to_return_flags().bits(), 0);
        assert!(ReturnFlags::from_bits(1).is_dispatch());
        assert!(SendCompleteFlags::from_bits(1).is_dispatch());
    }
}
