#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and the root-only
# integration tests over veth labs with real AF_XDP sockets.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# Integration tests build veth labs and run xskd workers that poll; two at a
# time keeps them from starving each other on a 2-core machine.
cargo test --locked --lib --bins --tests -- --test-threads=2
