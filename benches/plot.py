#!/usr/bin/python3
"""Plot an `xskd-bench` run.

Usage:
    benches/plot.py [bench-out/latest.json]

(/usr/bin/python3: Debian's python3-matplotlib lives there, not in pyenv.)
`xskd-bench` runs this at the end when it is started from the source tree
(pass --no-plot to skip). PNGs go next to the JSON:

- latency_cdf.png: round-trip time CDFs, xskd vs the kernel, one line per
  subject and round, for UDP echo and TCP request/response. The y axis is
  stretched toward the tail (90, 99, 99.9 ... equally spaced).
- http_rps.png: requests/s per round for each HTTP load, xskd vs nginx, so
  the spread behind each median in the table is visible.
- udp_rate.png: echoed datagrams/s per round, kernel-socket load (UDP
  table) and AF_XDP load (ceiling table): a noisy round shows up here.
- tls_rate.png: full TLS handshakes/s per round (openssl s_time -new),
  xskd (busy and back-off) vs nginx.
- https_rps.png: requests/s per round over HTTPS (wrk), close and keep-alive.
- loss_goodput.png (from loss-latest.json, `--only loss`): goodput against
  the random loss each way, download and upload, xskd vs Linux: the median
  per level as a line, every transfer as a dot, incomplete ones as an x at
  the bottom.
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "xskd": "tab:blue",
    "xskd-backoff": "tab:cyan",
    "kernel": "tab:red",
    "reflector": "tab:green",
    "nginx": "tab:orange",
    "nginx-offload": "tab:brown",
    "linux": "tab:red",
}
LATENCY_LOADS = [("udp-latency", "UDP echo RTT"), ("tcp-rr", "TCP request/response RTT (64 B)")]
UDP_RATE_LOADS = [
    ("udp-throughput", "UDP echo, kernel-socket load"),
    ("udp-throughput-xdp", "ceiling, AF_XDP load"),
]
HTTP_LOADS = [
    ("http-keepalive-64", "keep-alive, 64 B"),
    ("http-keepalive-16k", "keep-alive, 16 KB"),
    ("http-close-64", "Connection: close, 64 B"),
    ("http-close-16k", "Connection: close, 16 KB"),
]
HTTPS_LOADS = [
    ("https-close-64", "Connection: close, 64 B (full handshake each)"),
    ("https-keepalive-64", "keep-alive, 64 B"),
]
TLS_LOADS = [("tls-full-handshake", "full handshakes, no resumption")]
# The tail axis: y = -log10(1 - p); p = 100% is drawn at this depth.
TAIL_MAX = 5.0


def tail(pct):
    rest = 1.0 - pct / 100.0
    return TAIL_MAX if rest <= 10 ** -TAIL_MAX else -math.log10(rest)


def plot_cdfs(samples, out):
    present = [(k, t) for k, t in LATENCY_LOADS if any(s["load"] == k for s in samples)]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(7 * len(present), 5), squeeze=False)
    for ax, (load, title) in zip(axes[0], present):
        seen = set()
        for s in samples:
            lat = s.get("latency")
            if s["load"] != load or not lat or not lat.get("cdf"):
                continue
            subj = s["subject"]
            xs = [max(us, 1e-3) for _, us in lat["cdf"]]
            ys = [tail(p) for p, _ in lat["cdf"]]
            label = None if subj in seen else f"{subj} (p50 {lat['p50_us']:.1f} us)"
            seen.add(subj)
            ax.plot(xs, ys, color=COLORS.get(subj, "black"), alpha=0.8, lw=1.4, label=label)
        ticks = [0, 1, 2, 3, 4, 5]
        ax.set_yticks([tail(0), *ticks[1:]])
        ax.set_yticklabels(["0", "90", "99", "99.9", "99.99", "max"])
        ax.set_xscale("log")
        ax.set_xlabel("round-trip time (us, log)")
        ax.set_ylabel("percentile")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Latency CDFs, one line per subject and round")
    fig.tight_layout()
    path = os.path.join(out, "latency_cdf.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_per_round(samples, out, loads, result, key, ylabel, title, name):
    present = [(k, t) for k, t in loads if any(s["load"] == k for s in samples)]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 4), squeeze=False)
    for ax, (load, panel) in zip(axes[0], present):
        by_subject = {}
        for s in samples:
            if s["load"] == load and s.get(result):
                by_subject.setdefault(s["subject"], []).append((s["round"], s[result][key]))
        for subj, pts in by_subject.items():
            pts.sort()
            ax.plot(
                [r for r, _ in pts],
                [v for _, v in pts],
                marker="o",
                color=COLORS.get(subj, "black"),
                label=subj,
            )
        ax.set_title(panel)
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def plot_loss(run, out):
    samples = run.get("loss_samples") or []
    if not samples:
        return None
    dirs = [d for d in ("download", "upload") if any(s["direction"] == d for s in samples)]
    fig, axes = plt.subplots(1, len(dirs), figsize=(6.5 * len(dirs), 4.5), squeeze=False)
    mb = run.get("args", {}).get("loss_mb", "?")
    for ax, d in zip(axes[0], dirs):
        floor = None
        for server in ("xskd", "linux"):
            mine = [s for s in samples if s["direction"] == d and s["server"] == server]
            if not mine:
                continue
            color = COLORS.get(server, "black")
            done = [s for s in mine if s["completed"]]
            ax.scatter(
                [s["loss_permille"] / 10 for s in done],
                [s["mbit_per_s"] for s in done],
                color=color, alpha=0.35, s=14,
            )
            levels = sorted({s["loss_permille"] for s in mine})
            meds = [(pm / 10, median([s["mbit_per_s"] for s in done if s["loss_permille"] == pm]))
                    for pm in levels]
            meds = [(x, y) for x, y in meds if y]
            ax.plot([x for x, _ in meds], [y for _, y in meds], marker="o", color=color,
                    label=f"{server} (median)")
            lows = [y for _, y in meds]
            if lows:
                floor = min(lows) if floor is None else min(floor, min(lows))
            failed = [s for s in mine if not s["completed"]]
            if failed:
                y = (floor or 1.0) / 2
                ax.scatter([s["loss_permille"] / 10 for s in failed], [y] * len(failed),
                           marker="x", color=color, label=f"{server} incomplete")
        ax.set_yscale("log")
        ax.set_xlabel("random loss each way (%)")
        ax.set_ylabel("goodput (Mbit/s, log)")
        ax.set_title(f"{d}, {mb} MB")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Goodput under the same random loss (nftables on a bridge)")
    fig.tight_layout()
    path = os.path.join(out, "loss_goodput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join("bench-out", "latest.json")
    with open(path) as f:
        run = json.load(f)
    out = os.path.dirname(os.path.abspath(path))
    if "loss_samples" in run:
        made = plot_loss(run, out)
        if made:
            print(f"plot: {made}")
        return
    samples = run["samples"]
    made_all = (
        plot_cdfs(samples, out),
        plot_per_round(
            samples, out, HTTP_LOADS, "http", "rps", "requests/s",
            "HTTP requests/s per round (wrk)", "http_rps.png",
        ),
        plot_per_round(
            samples, out, UDP_RATE_LOADS, "throughput", "echoed_per_sec", "echoed datagrams/s",
            "UDP echoed datagrams/s per round", "udp_rate.png",
        ),
        plot_per_round(
            samples, out, TLS_LOADS, "handshakes", "per_sec", "handshakes/s",
            "TLS 1.3 full handshakes/s per round (openssl s_time -new)", "tls_rate.png",
        ),
        plot_per_round(
            samples, out, HTTPS_LOADS, "http", "rps", "requests/s",
            "HTTPS requests/s per round (wrk)", "https_rps.png",
        ),
    )
    for made in made_all:
        if made:
            print(f"plot: {made}")


if __name__ == "__main__":
    main()
