#!/usr/bin/env bash
# The protocol crate's promise, checked: its tests build and pass on a
# machine with no clang/BPF toolchain and no root privileges. Inside a
# private mount namespace the LLVM install is hidden (so no clang), and the
# tests run with every capability dropped (uid 0 without capabilities can
# create no namespace, load no BPF, open no raw socket).
set -euo pipefail
cd "$(dirname "$0")/.."
llvm_dirs=$(ls -d /usr/lib/llvm-* 2>/dev/null || true)
unshare --mount --propagation private bash -euo pipefail -c '
    for d in '"$llvm_dirs"'; do mount -t tmpfs -o ro none "$d"; done
    if command -v clang >/dev/null && clang --version >/dev/null 2>&1; then
        echo "laptop_check: clang is still usable; the check would prove nothing" >&2
        exit 1
    fi
    exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- \
        env CARGO_TARGET_DIR=target/laptop \
        cargo test --locked --offline -p xskd-proto --quiet
'
echo "laptop_check: xskd-proto passes without clang and without privileges"
