#!/usr/bin/env bash
# Install xskd where config/xskd.service expects it:
#   /usr/local/bin/xskd                   the binary (built with --release if needed)
#   /etc/systemd/system/xskd.service      the unit (runs as the user `xskd`)
#   /usr/local/lib/sysusers.d/xskd.conf   that user, created here by systemd-sysusers
#   /etc/xskd/xskd.toml                   the config (kept if already there)
#   /usr/share/doc/xskd/README.md         the unit's Documentation=
# then check the installed unit with `systemd-analyze verify`.
#
#   bash scripts/install.sh                  install into /
#   bash scripts/install.sh --destdir DIR    install under DIR (packaging, tests)
#   bash scripts/install.sh --no-build       use target/release/xskd as it is
#
# Afterwards: edit /etc/xskd/xskd.toml (interface.name, address.ipv4), then
#   systemctl daemon-reload && systemctl enable --now xskd
set -euo pipefail
cd "$(dirname "$0")/.."

destdir=""
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "install.sh: unknown argument $1 (see the header of scripts/install.sh)" >&2; exit 2 ;;
    esac
done
if [ -n "$destdir" ]; then
    mkdir -p "$destdir"
    destdir="$(cd "$destdir" && pwd)"
fi

# XSKD_INSTALL_BIN: install this binary instead (the tests pass the one they run).
bin="${XSKD_INSTALL_BIN:-target/release/xskd}"
if [ "$build" = 1 ]; then
    source scripts/install-deps.sh
    cargo build --release --locked --bin xskd
fi
if [ ! -x "$bin" ]; then
    echo "install.sh: $bin is missing: build it with cargo build --release (or drop --no-build)" >&2
    exit 1
fi

install -D -m 0755 "$bin" "$destdir/usr/local/bin/xskd"
install -D -m 0644 config/xskd.service "$destdir/etc/systemd/system/xskd.service"
install -D -m 0644 config/xskd.sysusers "$destdir/usr/local/lib/sysusers.d/xskd.conf"
install -D -m 0644 README.md "$destdir/usr/share/doc/xskd/README.md"
if [ -e "$destdir/etc/xskd/xskd.toml" ]; then
    # Never overwrite an operator's config; leave the new reference beside it.
    install -D -m 0644 config/xskd.toml "$destdir/etc/xskd/xskd.toml.dist"
    echo "install.sh: kept $destdir/etc/xskd/xskd.toml (reference copy: xskd.toml.dist)"
else
    install -D -m 0644 config/xskd.toml "$destdir/etc/xskd/xskd.toml"
fi

"$destdir/usr/local/bin/xskd" check-config "$destdir/etc/xskd/xskd.toml" >/dev/null

# The unit's User=xskd. Into / the user is created now; under a destdir
# (a package, a test) only checked: the package's install step creates it.
if [ -n "$destdir" ]; then
    systemd-sysusers --dry-run --root="$destdir" "$destdir/usr/local/lib/sysusers.d/xskd.conf" >/dev/null
elif command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/local/lib/sysusers.d/xskd.conf
elif ! id xskd >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin xskd
fi

# Verify the unit as installed. Under a destdir, systemd-analyze needs the
# system's own units (sysinit.target, ...) in that root too: borrow them.
if command -v systemd-analyze >/dev/null 2>&1; then
    if [ -n "$destdir" ]; then
        units="$destdir/usr/lib/systemd/system"
        if [ ! -e "$units/sysinit.target" ]; then
            mkdir -p "$units"
            cp -a /lib/systemd/system/. "$units/"
        fi
        systemd-analyze verify --root="$destdir" /etc/systemd/system/xskd.service
    else
        systemd-analyze verify /etc/systemd/system/xskd.service
    fi
fi
echo "install.sh: installed xskd under ${destdir:-/}; edit /etc/xskd/xskd.toml, then: systemctl daemon-reload && systemctl enable --now xskd"
