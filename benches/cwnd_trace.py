#!/usr/bin/python3
"""Plot the cwnd/ssthresh trace of a bulk transfer under seeded loss.

Usage:
    benches/cwnd_trace.py            # runs the trace test, then plots
    benches/cwnd_trace.py trace.csv  # plots an existing CSV

(/usr/bin/python3: Debian's python3-matplotlib lives there, not in pyenv.)

The trace comes from the `cwnd_trace_shows_slow_start_sawtooth_and_recovery`
test in tests/tcp_conformance/pair.rs with CWND_TRACE_OUT set: two stacks
back to back, deterministic, the sender's NewReno then CUBIC state sampled
every round of a bulk transfer through a drop-tail bottleneck, with one
300 ms outage. Output: bench-out/cwnd_trace.png (about 15 s to generate).
"""
import csv
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "bench-out")


def generate(path):
    env = dict(os.environ, CWND_TRACE_OUT=path)
    subprocess.run(
        ["cargo", "test", "--test", "tcp_conformance", "cwnd_trace", "--", "--nocapture"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def load(path):
    runs = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            r = runs.setdefault(row["algo"], {k: [] for k in row if k != "algo"})
            for k, v in row.items():
                if k != "algo":
                    r[k].append(v)
    return runs


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        path = os.path.join(OUT_DIR, "cwnd_trace.csv")
        generate(path)
    runs = load(path)
    fig, axes = plt.subplots(len(runs), 1, figsize=(12, 4.5 * len(runs)), squeeze=False)
    for ax, (algo, r) in zip(axes[:, 0], runs.items()):
        rnd = [int(x) for x in r["round"]]
        kib = lambda xs: [int(x) / 1024 if x else None for x in xs]  # noqa: E731
        cwnd = kib(r["cwnd"])
        ssthresh = kib(r["ssthresh"])
        ax.step(rnd, cwnd, where="post", label="cwnd", color="tab:blue")
        ax.step(rnd, [s if s is not None else float("nan") for s in ssthresh],
                where="post", label="ssthresh", color="tab:orange", linestyle="--")
        marks = {"fast_retransmit": ("v", "tab:red", "fast retransmit"),
                 "rto": ("x", "black", "RTO")}
        for ev, (m, c, label) in marks.items():
            xs = [x for x, e in zip(rnd, r["event"]) if e == ev]
            ys = [y for y, e in zip(cwnd, r["event"]) if e == ev]
            if xs:
                ax.scatter(xs, ys, marker=m, color=c, zorder=3, label=label)
        # Shade slow start and recovery.
        shade = {"slow_start": "tab:green", "recovery": "tab:red", "loss": "grey"}
        for i, st in enumerate(r["state"]):
            if st in shade:
                end = rnd[i + 1] if i + 1 < len(rnd) else rnd[i] + 1
                ax.axvspan(rnd[i], end, color=shade[st], alpha=0.12, lw=0)
        ms = float(r["ms"][-1])
        ax.set_title(f"{algo}: 400 MiB through a drop-tail bottleneck (400 frames/round, "
                     f"400-frame queue, 50 ms rounds) + a 300 ms outage at 15 s "
                     f"({ms / 1000:.0f} s virtual)", fontsize=10)
        ax.set_xlabel("round (one exchange; an idle wait for a timer is one round)")
        ax.set_ylabel("KiB")
        ax.set_ylim(bottom=0, top=max(c for c in cwnd if c) * 1.1)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right")
        ax.text(0.01, 0.95, "green: slow start  red: fast recovery  grey: RTO loss",
                transform=ax.transAxes, va="top", fontsize=8)
    fig.tight_layout()
    png = os.path.join(OUT_DIR, "cwnd_trace.png")
    fig.savefig(png, dpi=110)
    print(png)


if __name__ == "__main__":
    main()
