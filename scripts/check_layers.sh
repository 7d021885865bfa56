#!/usr/bin/env bash
# The house rules the compiler does not check by itself (run by test.sh):
# the protocol crate's modules form a one-way stack, `unsafe` lives only in
# the datapath crate, the pure crates build without clang/libbpf/root, and
# every RFC citation is well-formed with its compliance report current.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 scripts/module_cycles.py crates/proto/src
python3 scripts/module_cycles.py crates/services/src
python3 scripts/module_cycles.py src

for c in crates/proto crates/services; do
    grep -q '^#!\[forbid(unsafe_code)\]' "$c/src/lib.rs" ||
        { echo "$c/src/lib.rs must carry #![forbid(unsafe_code)]" >&2; exit 1; }
done
# `unsafe` blocks, fns and impls outside the datapath crate (comments aside).
if grep -rnE '^\s*[^/]*\bunsafe\s*(\{|fn|impl)' --include=*.rs src crates fuzz benches |
    grep -v '^crates/datapath/'; then
    echo "unsafe code outside crates/datapath (the AF_XDP/UMEM boundary)" >&2
    exit 1
fi
# The protocol and services crates build on a laptop: no BPF toolchain.
for p in xskd-proto xskd-services; do
    if cargo tree --locked -p "$p" -e normal,build,dev --prefix none | grep -E '^(libbpf|xsk-rs)'; then
        echo "$p must not depend on libbpf or xsk-rs (it needs clang and root to build/test)" >&2
        exit 1
    fi
done

python3 scripts/citations.py
echo "check_layers: ok"
