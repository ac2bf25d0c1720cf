"""Pictures of a scaling grid (fmlab.scaling): loss against data per model size, and against compute.

    fig = plot_scaling(runs, law, check=check_run, name="next-patch")
Every helper returns a Figure detached from pyplot (conventions in style.py).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import detached, palette_color


def plot_scaling(runs: list[dict], law, check: dict | None = None, name: str = ""):
    """Left: held-out loss against tokens seen D, one line per width, the fitted law L(N, D) dashed. Right: loss
    against compute C with the law's compute-optimal frontier. ``check``: a larger run (a result of
    fmlab.scaling.run) drawn as a star beside the law's prediction for it and its 90 % interval."""
    if not runs:
        raise ValueError("plot_scaling: expected the runs of a grid (fmlab.scaling.grid), got none")
    fig, (by_data, by_compute) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    widths = sorted({r["width"] for r in runs})
    for i, w in enumerate(widths):
        rows = sorted((r for r in runs if r["width"] == w), key=lambda r: r["tokens"])
        d, loss, n = np.array([r["tokens"] for r in rows], float), [r["loss"] for r in rows], rows[0]["parameters"]
        by_data.plot(d, loss, "o-", color=palette_color(i), label=f"width {w}: N = {n:,}")
        more = np.logspace(np.log10(d.min()), np.log10(d.max() * 2), 40)
        by_data.plot(more, law.predict(n, more), "--", color=palette_color(i), lw=0.8)
        by_compute.scatter([r["flops"] for r in rows], loss, color=palette_color(i), s=18)
    flops = np.array([r["flops"] for r in runs + ([check] if check else [])], float)
    budget = np.logspace(np.log10(flops.min()), np.log10(flops.max() * 3), 40)
    by_compute.plot(budget, [law.optimal(c)["loss"] for c in budget], "k-", lw=1,
                    label="compute-optimal frontier (the fitted law)")
    if check:
        pred = float(law.predict(check["parameters"], check["tokens"]))
        lo, hi = law.interval("loss", n=check["parameters"], d=check["tokens"])
        for ax, x in ((by_data, check["tokens"]), (by_compute, check["flops"])):
            ax.errorbar([x], [pred], yerr=[[pred - lo], [hi - pred]], fmt="_", color="k", capsize=4, ms=14,
                        label="predicted before training (90 % interval)")
            ax.scatter([x], [check["loss"]], marker="*", s=140, color="crimson", zorder=3,
                       label=f"measured: width {check['width']}, N = {check['parameters']:,}")
    by_data.set(xscale="log", yscale="log", xlabel="tokens seen D", ylabel="held-out loss",
                title=f"{name}: loss against data, by model size")
    by_compute.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="held-out loss",
                   title=f"{name}: loss against compute")
    by_data.legend(fontsize=7)
    by_compute.legend(fontsize=7)
    return detached(fig)
