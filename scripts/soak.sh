#!/usr/bin/env bash
# Long soak of a running xskd in a veth lab (root): mixed UDP/TCP/HTTP/DNS
# traffic with SYN floods and slowloris clients, round after round, printing
# xskd's RSS after each round, then asserting that RSS plateaued after
# warm-up, no UMEM frame leaked and no connection outlived its timeouts.
#
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 3600       # an hour
#
# Against the release build, as the veth suite runs it for 12 s
# (`cargo test --release -p xskd-veth-tests --test soak`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
export XSKD_SOAK_SECS="$secs"
cargo build --release --locked --bins
exec cargo test --release --locked -p xskd-veth-tests "$@" --test soak -- --nocapture --test-threads=1
