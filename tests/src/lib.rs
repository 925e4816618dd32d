//! NDIS emulator.
