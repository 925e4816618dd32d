#!/usr/bin/env bash
# Cross-builds the real driver on Linux: target/x86_64-pc-windows-msvc/release/mpfilter.sys.
# Needs `rustup target add x86_64-pc-windows-msvc`; no WDK, no MSVC: rust-lld links against raw-dylib
# imports of ntoskrnl.exe and ndis.sys. Linker settings: .cargo/config.toml and filter/build.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p mpfilter --release --target x86_64-pc-windows-msvc --no-default-features
out="${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-msvc/release"
cp "$out/mpfilter.dll" "$out/mpfilter.sys"
echo "built $out/mpfilter.sys ($(stat -c %s "$out/mpfilter.sys") bytes)"
