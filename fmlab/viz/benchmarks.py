"""Pictures of the saved benchmark results (benchmarks/results/*.json); every helper returns a detached Figure.

    result = json.loads(Path("benchmarks/results/ucr-cpu.json").read_text())
    plot_ucr(result)                  # fmlab encoders beside MiniRocket, 1NN-DTW and the published T-Loss
    plot_label_efficiency(json.loads(Path("benchmarks/results/mnist1d-cpu.json").read_text()))
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import MARKERS, detached, palette_color


def _check(result, benchmark: str, keys: tuple[str, ...], fn: str) -> None:
    if not isinstance(result, dict) or result.get("benchmark") != benchmark:
        got = result.get("benchmark") if isinstance(result, dict) else type(result).__name__
        raise ValueError(f"{fn}: expected the dict that benchmarks/{benchmark}.py writes (json.loads of "
                         f"benchmarks/results/{benchmark}-<profile>.json), got {got!r}; load the right file")
    missing = [k for k in keys if k not in result]
    if missing:
        raise ValueError(f"{fn}: the result has no {missing}; rerun benchmarks/{benchmark}.py to rewrite it")


def plot_ucr(result: dict, rows: list[str] | None = None):
    """Test accuracy per dataset, one bar per row (default: random init, the best pretrained encoder, the best
    "foundation" row where the file has one, and the measured baselines), the published references as markers.
    "foundation" rows are in result files written before the reference encoders (ucr-cpu.json): an encoder that
    benchmarks/ucr.py pretrained on a pile resampled to 128 samples, a variant since removed."""
    _check(result, "ucr", ("summary", "references"), "plot_ucr")
    table, names = result["summary"], list(result["summary"])
    if rows is None:
        every = list(dict.fromkeys(r for t in table.values() for r in t))
        mean = {r: np.mean([table[n].get(r, np.nan) for n in names]) for r in every}
        old_pile = [r for r in every if r.startswith("foundation")]
        own = [r for r in every if "measured" not in r and r != "random init" and r not in old_pile]
        rows = ["random init", *(sorted(own, key=mean.get)[-1:]), *(sorted(old_pile, key=mean.get)[-1:]),
                *(r for r in every if "measured" in r)]
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    x, width = np.arange(len(names)), 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        ax.bar(x - 0.4 + (i + 0.5) * width, [table[n].get(row, np.nan) for n in names], width, color=palette_color(i),
               label=row)
    for j, (ref, r) in enumerate(result["references"].items()):
        ax.scatter(x, [r["accuracy"].get(n, np.nan) for n in names], marker=MARKERS[j], s=60, color="black",
                   zorder=3, label=f"{ref} (published)", facecolors="none" if j else "black")
    ax.set_xticks(x, names)
    ax.set(ylabel="test accuracy", ylim=(0, 1.05),
           title=f"UCR/UEA, frozen features + SVM ({result['profile']} profile)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    return detached(fig)


def plot_label_efficiency(result: dict, rows: list[str] | None = None):
    """MNIST-1D test accuracy against labels (log scale), one line per row of the summary (default: the best
    strategy of each encoder and the baselines), the paper's models as black marks at 4,000 labels."""
    _check(result, "mnist1d", ("summary", "references", "budgets", "train"), "plot_label_efficiency")
    summary = result["summary"]
    if rows is None:
        best = {}
        for row, per in summary.items():
            encoder = row.split(" / ")[0] if " / " in row else row
            if encoder not in best or per["100%"]["accuracy"] > summary[best[encoder]]["100%"]["accuracy"]:
                best[encoder] = row
        rows = list(best.values())
    labels = [round(f * result["train"]) for f in result["budgets"].values()]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for i, row in enumerate(rows):
        acc = [summary[row][b]["accuracy"] for b in result["budgets"]]
        ax.plot(labels, acc, marker=MARKERS[i % len(MARKERS)], color=palette_color(i), lw=1.6, label=row)
    for j, (name, acc) in enumerate(result["references"]["accuracy"].items()):  # the paper trained on all 4,000
        ax.scatter([4000], [acc], marker="*v^sD"[j % 5], s=50, facecolors="none", edgecolors="black", zorder=3,
                   label=f"{name} (paper) {acc:.2f}")
    ax.set_xscale("log")
    ax.set(xlabel="labelled training samples", ylabel="test accuracy", ylim=(0, 1),
           title=f"MNIST-1D label efficiency ({result['profile']} profile)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return detached(fig)
