#!/usr/bin/python3
"""Draws the loss curve of a ctrlfuse-train run (train_log.csv) as a PNG.

usage: bench/plot_train_log.py OUT.png LOG.csv [LOG.csv ...]
Several logs (the phases of one recipe) are drawn one after another on one
step axis; each term is smoothed with a running mean over 100 steps.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TERMS = ["total", "fusion_ref", "fusion_fused", "pixel", "segmentation"]


def running_mean(values, window=100):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    series = {t: [] for t in TERMS}
    boundaries = []
    for path in sys.argv[2:]:
        with open(path) as f:
            rows = list(csv.DictReader(f))
        for t in TERMS:
            series[t].extend(float(r[t]) for r in rows)
        boundaries.append(len(series["total"]))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    steps = range(1, len(series["total"]) + 1)
    for t in TERMS:
        ax.plot(steps, running_mean(series[t]), label=t, linewidth=1.2)
    for b in boundaries[:-1]:
        ax.axvline(b, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (running mean of 100 steps)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("ctrlfuse-train, tiny, synthetic scenes")
    fig.tight_layout()
    fig.savefig(sys.argv[1])


if __name__ == "__main__":
    main()
