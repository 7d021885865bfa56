#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and the root-only
# integration tests over veth labs with real AF_XDP sockets.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# Layering (no module cycles in the protocol crate), unsafe only in the
# datapath, RFC citations well-formed and docs/COMPLIANCE.md current.
bash scripts/check_layers.sh
# The protocol crate builds and passes with no clang and no privileges.
bash scripts/laptop_check.sh

# 1. The pure suite (no root): every default member of the workspace --
#    unit tests, TCP conformance scripts (crates/proto), service tests over
#    back-to-back TCPs (crates/services), fuzz bodies over the corpora, the
#    worker over the in-memory datapath. This is what a plain `cargo test`
#    runs; `cargo test -p xskd-proto` needs no clang and no root.
cargo test --locked --no-fail-fast

# 2. The veth suite (root): the optimized daemon users run, driven through
#    real AF_XDP sockets from a kernel peer. The tests refuse a binary older
#    than the sources. Integration tests run xskd workers that poll; two at
#    a time keeps them from starving each other on a 2-core machine.
cargo build --locked --release --bins
cargo test --locked --release --no-fail-fast -p xskd-veth-tests -- --test-threads=2
