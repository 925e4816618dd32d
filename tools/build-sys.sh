#!/usr/bin/env bash
# Cross-builds the real driver on Linux: target/x86_64-pc-windows-msvc/release/mpfilter.sys.
# Needs `rustup target add x86_64-pc-windows-msvc`; no WDK, no MSVC: rust-lld links against raw-dylib
# imports of ntoskrnl.exe and ndis.sys. The link settings live in the `build-sys` alias of
# .cargo/config.toml (see docs/windows-fidelity.md for why they are not target rustflags).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build-sys
out="${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-msvc/release"
cp "$out/mpfilter.dll" "$out/mpfilter.sys"
echo "built $out/mpfilter.sys ($(stat -c %s "$out/mpfilter.sys") bytes)"
