#!/usr/bin/env bash
# The side-by-side benchmark (issue 7): builds a veth lab, runs xskd and the
# kernel doing the same work on the same core, alternating in rounds, and
# prints medians and ratios: UDP echo, datapath ceiling, TCP RR vs the
# kernel; HTTP (wrk), a bulk GET and TLS/HTTPS (s_time, wrk) vs nginx. About 5-8 minutes with the
# defaults. Needs root. Table, JSON and PNG plots (benches/plot.py) go to
# $BENCH_OUT (bench-out/).
#
#   bash benches/harness.sh                      # defaults
#   BENCH_ROUNDS=5 BENCH_SECONDS=10 bash benches/harness.sh
#   bash benches/harness.sh --only udp --poll busy   # extra args go to `xskd-bench`
#   bash benches/harness.sh --only http,bulk --bulk-mb 256
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo build --release --locked --bin xskd --bin xskd-bench
exec "${CARGO_TARGET_DIR:-target}/release/xskd-bench" \
    --rounds "${BENCH_ROUNDS:-3}" \
    --seconds "${BENCH_SECONDS:-5}" \
    --out "${BENCH_OUT:-bench-out}" \
    "$@"
