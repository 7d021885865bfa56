#!/usr/bin/env bash
# Build xskd and run `xskd demo`: a veth lab it builds for itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
cargo build --release --locked
exec ./target/release/xskd demo
