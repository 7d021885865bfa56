#!/usr/bin/env bash
# Count how many of N active opens (`xskd tcp-probe`) to a kernel echo
# server succeed on a veth lab with Q queues, one worker per queue.
# Usage (root): scripts/measure_active_opens.sh [XSKD_BIN] [QUEUES] [N]
# The probes alternate between the workers when the binary has
# `tcp-probe --worker` (older ones only ever use worker 0).
set -euo pipefail
BIN=${1:-target/release/xskd}
Q=${2:-2}
N=${3:-50}
BIN=$(readlink -f "$BIN")
id=$$
X=mq-$id-x P=mq-$id-p IX=mq${id}x IP=mq${id}p
dir=$(mktemp -d)
cleanup() {
    [[ -n ${xpid:-} ]] && kill -INT "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null || true
    [[ -n ${spid:-} ]] && kill "$spid" 2>/dev/null || true
    ip netns del "$X" 2>/dev/null || true
    ip netns del "$P" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$X"
ip netns add "$P"
ip link add "$IX" numtxqueues "$Q" numrxqueues "$Q" type veth peer name "$IP" numtxqueues "$Q" numrxqueues "$Q"
ip link set "$IX" netns "$X"
ip link set "$IP" netns "$P"
ip -n "$X" link set lo up
ip -n "$X" addr add 198.18.0.3/24 dev "$IX"
ip -n "$X" link set "$IX" up
ip -n "$P" link set lo up
ip -n "$P" addr add 198.18.0.2/24 dev "$IP"
ip -n "$P" link set "$IP" up
ip netns exec "$P" ethtool -K "$IP" tx off gso off tso off >/dev/null
ip netns exec "$X" ethtool -K "$IX" tx off gso off tso off >/dev/null
queues=$(seq 0 $((Q - 1)) | sed 's/.*/{ queue = & }/' | paste -sd, -)
cat >"$dir/xskd.toml" <<EOF
[interface]
name = "$IX"
queues = [$queues]
[address]
ipv4 = "198.18.0.1/24"
[worker]
poll = "backoff"
EOF
ip netns exec "$P" socat TCP-LISTEN:9000,bind=198.18.0.2,reuseaddr,fork PIPE &
spid=$!
ip netns exec "$X" "$BIN" run --config "$dir/xskd.toml" >"$dir/out" 2>"$dir/err" &
xpid=$!
for _ in $(seq 100); do grep -q ready "$dir/out" 2>/dev/null && break; sleep 0.1; done
worker_flag=false
"$BIN" tcp-probe --help 2>/dev/null | grep -q -- --worker && worker_flag=true
ok=0
for i in $(seq 0 $((N - 1))); do
    args=(tcp-probe 198.18.0.2:9000 --send "probe $i" --timeout-ms 3000)
    $worker_flag && args+=(--worker $((i % Q)))
    if ip netns exec "$X" "$BIN" "${args[@]}" 2>/dev/null | grep -q "\"answer\":\"probe $i\""; then
        ok=$((ok + 1))
    fi
done
kill -INT "$xpid"
wait "$xpid" || true
xpid=
report=$(grep xskd-report "$dir/out" | sed 's/^xskd-report //')
echo "$ok/$N active opens answered ($Q queues, $BIN)"
python3 - "$report" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
for q in r["queues"]:
    s = q["stack"]
    print(f"queue {q['queue']}: rx_frames {q['rx_frames']} active_opens {s['tcp']['active_opens']}"
          f" out_rsts {s['tcp']['out_rsts']} tcp_no_listener {s['drops'].get('tcp_no_listener', 0)}"
          f" handoff_sent {s.get('handoff', {}).get('sent', '-')}")
EOF
