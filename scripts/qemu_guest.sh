#!/usr/bin/env bash
# A QEMU guest (TCG, Debian 12's kernel) whose multi-queue virtio-net NIC is
# served by xskd in native (driver) XDP mode: the real-driver path that the
# veth labs never reach. Used by crates/veth-tests/tests/virtio_guest.rs.
#
#   qemu_guest.sh prepare XSKD_BIN   fetch the kernel (cached), build the initramfs
#   qemu_guest.sh boot TAP           boot it; run inside the network namespace
#                                    that holds the multi-queue tap device TAP
#
# Everything downloaded or built lives in target/qemu-guest/ (never
# committed). The guest talks over its serial console (QEMU's stdin and
# stdout): it prints `xskd-guest: ...` lines, waits for a `stop` line once
# xskd is ready, then stops xskd, reports and powers off.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${XSKD_QEMU_CACHE:-$ROOT/target/qemu-guest}"
# The guest's NIC: as many queue pairs as xskd serves (2), not more. With a
# program attached, Debian 12's virtio_net (6.1) asks the device for one
# more queue pair per CPU for XDP_TX (curr + nr_cpu_ids), and the device
# then delivers received frames on those queues too: the tap hashes host
# flows over all of them, and frames on a queue with no AF_XDP socket miss
# xskd (XSKD_QEMU_QUEUE_PAIRS=4 shows it: about 40% of UDP flows and TCP
# connects lost). With no spare queues the driver falls back to its
# "locked tx mode" for XDP_TX and redirects to devices, which AF_XDP in
# copy mode does not use (its TX is the ordinary xmit path).
VCPUS=2
QUEUE_PAIRS="${XSKD_QEMU_QUEUE_PAIRS:-2}"
# Guest offloads off, so the tap hands over fully checksummed frames, as a
# wire would. (With them on, XDP still attaches: QEMU offers
# CTRL_GUEST_OFFLOADS and the driver turns them off itself; with
# ctrl_guest_offloads=off as well, virtio_net refuses native XDP.)
NIC_OFFLOADS="${XSKD_QEMU_OFFLOADS-,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off,guest_csum=off}"
# The hard bound on one boot, whatever the guest does.
BOOT_TIMEOUT_SECS="${XSKD_QEMU_TIMEOUT:-900}"
# Loaded in this order's dependency closure (modules.dep).
MODULES=(virtio_pci virtio_net)

die() { echo "qemu_guest: $*" >&2; exit 1; }

# Debian 12's kernel: the package linux-image-amd64 points at, unpacked
# into $CACHE/kernel/ (the kernel image plus the modules the guest loads).
# The host has no /boot and no /lib/modules of its own to borrow.
fetch_kernel() {
    if [ -f "$CACHE/kernel/vmlinux" ] && [ -f "$CACHE/kernel/modules.load" ]; then
        return
    fi
    local pkg dl x kver
    pkg_name() {
        apt-cache depends linux-image-amd64 2>/dev/null |
            awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
    }
    pkg="$(pkg_name)"
    if [ -z "$pkg" ]; then
        apt-get update -q >&2
        pkg="$(pkg_name)"
    fi
    [ -n "$pkg" ] || die "apt knows no linux-image-amd64 (is this Debian 12 with its main archive?)"
    dl="$CACHE/download"
    rm -rf "$dl" && mkdir -p "$dl"
    # A stale package list may name a version the archive has dropped.
    if ! (cd "$dl" && apt-get download -q "$pkg" >&2 2>/dev/null); then
        apt-get update -q >&2
        pkg="$(pkg_name)"
        (cd "$dl" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
    fi
    x="$dl/x"
    dpkg-deb -x "$dl"/"$pkg"_*.deb "$x"
    kver="$(ls "$x/lib/modules")"
    [ -f "$x/boot/vmlinuz-$kver" ] || die "$pkg has no /boot/vmlinuz-$kver"
    busybox depmod -b "$x" "$kver"

    local out="$CACHE/kernel.tmp"
    rm -rf "$out" && mkdir -p "$out/lib/modules/$kver"
    # The uncompressed ELF image, booted through its PVH entry: unpacking
    # the xz'd bzImage under TCG takes longer than the rest of the boot.
    local off
    off="$(LC_ALL=C grep -obUaP -m1 '\xfd7zXZ\x00' "$x/boot/vmlinuz-$kver" | head -1 | cut -d: -f1 || true)"
    [ -n "$off" ] || die "$pkg: no xz stream in vmlinuz-$kver"
    tail -c +"$((off + 1))" "$x/boot/vmlinuz-$kver" | xz -dcq >"$out/vmlinux" 2>/dev/null || true
    [ "$(head -c 4 "$out/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
        die "$pkg: unpacking vmlinuz-$kver gave no ELF image"
    echo "$pkg $kver" >"$out/version"
    # Dependencies before dependents, each once: a depth-first walk of
    # modules.dep (whose own order is not guaranteed topological).
    declare -A deps=() seen=()
    local line m d
    while IFS= read -r line; do
        m="${line%%:*}"
        deps["$m"]="${line#*:}"
    done <"$x/lib/modules/$kver/modules.dep"
    local order=()
    visit() {
        local mod="$1" dep
        [ -n "${seen[$mod]:-}" ] && return
        seen["$mod"]=1
        for dep in ${deps[$mod]}; do visit "$dep"; done
        order+=("$mod")
    }
    for m in "${MODULES[@]}"; do
        d="$(printf '%s\n' "${!deps[@]}" | grep "/$m\.ko$" | head -1)"
        [ -n "$d" ] || die "$pkg has no module $m"
        visit "$d"
    done
    for m in "${order[@]}"; do
        mkdir -p "$out/lib/modules/$kver/$(dirname "$m")"
        cp "$x/lib/modules/$kver/$m" "$out/lib/modules/$kver/$m"
        echo "/lib/modules/$kver/$m" >>"$out/modules.load"
    done
    rm -rf "$CACHE/kernel" && mv "$out" "$CACHE/kernel"
    rm -rf "$dl"
}

# Copy an executable and the shared libraries it loads to the same paths
# under the guest's root.
copy_with_libs() {
    local bin="$1" dest="$2" lib
    mkdir -p "$ROOTFS$(dirname "$dest")"
    cp -L "$bin" "$ROOTFS$dest"
    for lib in $(ldd "$bin" | awk '/=> \// { print $3 } /^[ \t]*\/.*ld-linux/ { print $1 }'); do
        mkdir -p "$ROOTFS$(dirname "$lib")"
        cp -L "$lib" "$ROOTFS$lib"
    done
}

prepare() {
    local xskd="$1"
    [ -x "$xskd" ] || die "no xskd binary at $xskd (cargo build --release --bins)"
    command -v busybox >/dev/null || die "busybox-static missing (scripts/install-deps.sh)"
    command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86 missing (scripts/install-deps.sh)"
    mkdir -p "$CACHE"
    fetch_kernel
    ROOTFS="$CACHE/rootfs"
    rm -rf "$ROOTFS"
    mkdir -p "$ROOTFS"/{bin,sbin,opt/bin,etc/xskd,proc,sys,dev,tmp,run,lib64}
    cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
    cp -a "$CACHE/kernel/lib" "$ROOTFS/"
    cp "$CACHE/kernel/modules.load" "$ROOTFS/etc/modules.load"
    # iproute2's ip (busybox's shows no XDP program) and ethtool (channels,
    # per-queue driver counters).
    copy_with_libs "$xskd" /opt/bin/xskd
    copy_with_libs "$(command -v ip)" /opt/bin/ip
    copy_with_libs "$(command -v ethtool)" /opt/bin/ethtool
    # Debug info is most of the release binary; the guest holds it in RAM.
    strip --strip-debug "$ROOTFS/opt/bin/xskd"
    guest_config auto >"$ROOTFS/etc/xskd/xskd.toml"
    guest_config on >"$ROOTFS/etc/xskd/zc-on.toml"
    guest_init >"$ROOTFS/init"
    chmod +x "$ROOTFS/init"
    # Uncompressed: decompressing under TCG costs more than copying.
    (cd "$ROOTFS" && find . -print0 | cpio --null -o -H newc --quiet) >"$CACHE/initramfs.cpio"
    echo "kernel $(cat "$CACHE/kernel/version"): $CACHE/kernel/vmlinux"
    echo "initramfs: $CACHE/initramfs.cpio ($(du -m "$CACHE/initramfs.cpio" | cut -f1) MiB)"
}

guest_config() {
    cat <<EOF
[interface]
name = "eth0"
queues = [{ queue = 0 }, { queue = 1 }]
xdp_mode = "native"
zero_copy = "$1"

[address]
ipv4 = "198.18.0.1/24"

[services]
udp_echo_port = 7
tcp_echo_port = 7
http_port = 80

[worker]
# Two vCPUs under TCG: spinning workers would starve the guest's kernel.
poll = "backoff"

[dns]
zone = "xskd.test."
records = [{ name = "www", ipv4 = "198.18.0.1", ttl = 60 }]
EOF
}

# The guest's /init (busybox sh). Every line it prints for the host starts
# with "xskd-guest: ".
guest_init() {
    cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/opt/bin:/bin:/sbin
# This busybox prefers its own applets to PATH: iproute2's ip by full path.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t bpf bpf /sys/fs/bpf
# Kernel messages would interleave with the report lines on the console.
dmesg -n 1

say() { echo "xskd-guest: $*"; }
bye() { say "done"; sync; poweroff -f; }
fail() {
    say "FAIL: $*"
    dmesg | tail -30 | sed 's/^/xskd-guest: dmesg: /'
    bye
}
# Wait up to $2 tenths of a second for $1 to appear in file $3 while pid $4 lives.
wait_line() {
    i=0
    while [ "$i" -lt "$2" ]; do
        grep -q "$1" "$3" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# The attach mode as iproute2 names it (xdp = driver, xdpgeneric = SKB) and the program.
xdp_line() { /opt/bin/ip -d link show dev eth0 | grep -oE ' xdp[a-z]* |prog/xdp id [0-9]+' | tr -s ' \n' ' '; }

say "kernel $(uname -r), $(nproc) cpus, up $(cut -d' ' -f1 /proc/uptime)s"
for m in $(cat /etc/modules.load); do
    insmod "$m" || fail "insmod $m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || fail "no eth0 after loading virtio_net"
/opt/bin/ip link set lo up
ethtool -L eth0 combined 2 || fail "ethtool -L eth0 combined 2"
/opt/bin/ip link set eth0 up
say "channels: $(ethtool -l eth0 | grep -A4 'Current' | grep -E 'Combined' | tr -s ' \t' ' ')"
say "max channels: $(ethtool -l eth0 | grep -A4 'maximums' | grep -E 'Combined' | tr -s ' \t' ' ')"
say "offloads: $(ethtool -k eth0 | grep -E '^(rx-checksumming|generic-receive-offload|large-receive-offload|rx-gro-hw):' | tr '\n' ' ')"

# Zero-copy: does this driver offer it? zero_copy = "on" refuses to fall back.
xskd run --config /etc/xskd/zc-on.toml </dev/null >/tmp/zc.log 2>&1 &
zc=$!
if wait_line 'xskd: ready' 1200 /tmp/zc.log "$zc"; then
    say "zero-copy on: bound"
    kill -TERM "$zc"
    wait "$zc"
else
    kill -KILL "$zc" 2>/dev/null
    wait "$zc"
    rc=$?
    # Only a refused bind says "no zero-copy"; anything else is a failure.
    if grep -q 'binding an AF_XDP socket' /tmp/zc.log; then
        say "zero-copy on: refused (exit $rc): $(grep 'error' /tmp/zc.log | tail -1)"
    else
        say "zero-copy on: failed (exit $rc): $(tail -3 /tmp/zc.log | tr '\n' ' ')"
    fi
fi
say "xdp after zero-copy attempt: $(xdp_line)"

RUST_LOG=info xskd run --config /etc/xskd/xskd.toml </dev/null >/tmp/xskd.out 2>/tmp/xskd.err &
xskd=$!
if ! wait_line 'xskd: ready' 1200 /tmp/xskd.out "$xskd"; then
    sed 's/^/xskd-guest: log: /' /tmp/xskd.err | tail -40
    fail "xskd did not become ready"
fi
say "xdp while serving: $(xdp_line)"
sed 's/^/xskd-guest: log: /' /tmp/xskd.err | grep -i 'bound'
say "ready after $(cut -d' ' -f1 /proc/uptime)s"

# The host runs its checks, then sends "stop" (or closes the console).
while read -r line; do
    case "$line" in *stop*) break ;; esac
done

# While the program is attached: virtio_net then runs (and counts) every
# queue pair it enabled for XDP, which may be more than `ethtool -L` set.
say "channels while serving: $(ethtool -l eth0 | grep -A4 'Current' | grep -E 'Combined' | tr -s ' \t' ' ')"
ethtool -S eth0 | grep -E 'rx_queue_[0-9]+_(packets|xdp_redirects|xdp_drops)|tx_queue_[0-9]+_(packets|xdp_tx)' |
    tr -d ' ' | sed 's/^/xskd-guest: stat: /'
kill -TERM "$xskd"
wait "$xskd"
say "xskd exit $?"
grep '^xskd-report ' /tmp/xskd.out | tail -1 | sed 's/^/xskd-guest: /'
/opt/bin/ip -d link show dev eth0 | sed 's/^/xskd-guest: link: /'
if /opt/bin/ip -d link show dev eth0 | grep -q 'prog/xdp'; then
    say "xdp after exit: attached"
else
    say "xdp after exit: detached"
fi
dmesg | grep -iE 'xdp|virtio_net' | sed 's/^/xskd-guest: dmesg: /'
sed 's/^/xskd-guest: log: /' /tmp/xskd.err | tail -20
bye
EOF
}

boot() {
    local tap="$1"
    [ -f "$CACHE/initramfs.cpio" ] || die "no initramfs: run $0 prepare XSKD_BIN first"
    [ -e "/sys/class/net/$tap" ] || die "no tap $tap in this network namespace"
    # TCG only (KVM is not usable on the CI machines). Serial console on
    # stdio; -no-reboot turns a guest panic into QEMU's exit. No vhost-net
    # (the host loads no modules); no option ROM (no network boot).
    exec timeout -k 10 "$BOOT_TIMEOUT_SECS" qemu-system-x86_64 \
        -accel tcg -smp "$VCPUS" -m 1024 -nodefaults -no-user-config \
        -display none -serial stdio -no-reboot \
        -kernel "$CACHE/kernel/vmlinux" -initrd "$CACHE/initramfs.cpio" \
        -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3" \
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off,queues=$QUEUE_PAIRS" \
        -device "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:78:73:6b,mq=on,vectors=$((2 * QUEUE_PAIRS + 2))$NIC_OFFLOADS"
}

case "${1:-}" in
    prepare) [ $# -eq 2 ] || die "usage: $0 prepare XSKD_BIN"; prepare "$2" ;;
    boot) [ $# -eq 2 ] || die "usage: $0 boot TAP"; boot "$2" ;;
    *) die "usage: $0 prepare XSKD_BIN | boot TAP" ;;
esac
