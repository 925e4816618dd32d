//! `ndis-emu`: a strict, deterministic NDIS 6 emulator for Linux that hosts the mpfilter LWF.
#![allow(unsafe_code)]

pub mod abi;
pub mod pe;
