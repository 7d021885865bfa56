#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and the root-only
# integration tests over veth labs with real AF_XDP sockets.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

# 1. The pure suite (no root): unit tests, TCP conformance scripts, fuzz
#    bodies over the corpora, the worker over the in-memory datapath. This
#    is what a plain `cargo test` runs.
cargo test --locked --no-fail-fast

# 2. The veth suite (root): the optimized daemon users run, driven through
#    real AF_XDP sockets from a kernel peer. The tests refuse a binary older
#    than the sources. Integration tests run xskd workers that poll; two at
#    a time keeps them from starving each other on a 2-core machine.
cargo build --locked --release --bins
cargo test --locked --release --no-fail-fast -p xskd-veth-tests -- --test-threads=2
