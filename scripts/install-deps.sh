#!/usr/bin/env bash
# Installs what building and testing xskd needs on Debian 12, as root.
# Idempotent: packages already present are not touched.
set -euo pipefail

PKGS=(clang llvm libelf-dev zlib1g-dev libpcap-dev pkg-config m4 make gcc
      iproute2 iputils-ping arping ethtool curl socat netcat-openbsd prometheus
      python3-scapy python3-matplotlib hping3 nmap tshark wrk systemd bind9-dnsutils apache2-utils
      openssl python3 nginx-light nftables util-linux linux-perf
      qemu-system-x86 busybox-static cpio xz-utils)

if [ "$(id -u)" -ne 0 ]; then
    echo "xskd: run this as root (it installs packages and builds network namespaces)" >&2
    exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "xskd: installing ${missing[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "xskd: no Rust toolchain found: install one with rustup (stable), then rerun" >&2
        exit 1
    fi
fi
