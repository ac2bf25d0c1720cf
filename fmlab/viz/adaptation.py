"""Pictures of fmlab.adapt.compare() and forgetting() tables; every helper returns a detached Figure.

    table = fmlab.adapt.compare(enc, train, test, budgets=(5, 20, 1.0), seeds=(0, 1, 2))
    plot_accuracy_vs_budget(table)        # does pretraining help most when labels are few?
    plot_accuracy_vs_parameters(table)    # how much must train to get there?
    plot_forgetting(fmlab.adapt.forgetting(enc, models, data))
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import MARKERS, PALETTE, detached, palette_color


def _check(table, columns: tuple[str, ...], fn: str, made_by: str) -> None:
    missing = [c for c in columns if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(f"{fn}: expected a table from {made_by} with columns {list(columns)}; missing {missing}")
    if len(table) == 0:
        raise ValueError(f"{fn}: the table is empty")


def _mean_std(group, key: str):
    """Mean and standard deviation of ``accuracy`` over seeds, per value of ``key``, sorted by it."""
    stats = group.groupby(key)["accuracy"].agg(["mean", "std"]).sort_index()
    return stats.index.to_numpy(dtype=float), stats["mean"].to_numpy(), stats["std"].fillna(0).to_numpy()


def plot_accuracy_vs_budget(table, chance: float | None = None):
    """Test accuracy (mean +- sd over seeds) against the number of labels, one line per strategy."""
    _check(table, ("strategy", "labels", "accuracy"), "plot_accuracy_vs_budget", "fmlab.adapt.compare")
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for i, (name, group) in enumerate(table.groupby("strategy", sort=False)):
        x, mean, sd = _mean_std(group, "labels")
        ax.errorbar(x, mean, yerr=sd, marker=MARKERS[i % len(MARKERS)], ms=5, lw=1.6, capsize=3,
                    color=palette_color(i), label=name)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set(xlabel="labelled training samples", ylabel="test accuracy", title="Accuracy against label budget")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return detached(fig)


def plot_accuracy_vs_parameters(table, budget=None):
    """Test accuracy (mean +- sd over seeds) against trainable parameters, one point per strategy, at
    one label budget (default: the largest)."""
    _check(table, ("strategy", "budget", "labels", "accuracy", "trainable_params"), "plot_accuracy_vs_parameters",
           "fmlab.adapt.compare")
    if budget is None:
        budget = table.loc[table["labels"].idxmax(), "budget"]
    rows = table[table["budget"] == budget]
    if len(rows) == 0:
        raise ValueError(f"plot_accuracy_vs_parameters: no rows for budget {budget!r}; the table has "
                         f"{sorted(table['budget'].unique().tolist())}")
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for i, (name, group) in enumerate(rows.groupby("strategy", sort=False)):
        x = float(group["trainable_params"].mean())
        mean, sd = group["accuracy"].mean(), group["accuracy"].std() if len(group) > 1 else 0.0
        ax.errorbar([x], [mean], yerr=[sd], marker=MARKERS[i % len(MARKERS)], ms=7, capsize=3,
                    color=palette_color(i), label=name)
        ax.annotate(name, (x, mean), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="trainable parameters", ylabel="test accuracy",
           title=f"Accuracy against trainable parameters ({int(rows['labels'].iloc[0])} labels)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return detached(fig)


def plot_forgetting(table):
    """Linear-probe accuracy per target (state, subject, artifact) on the base encoder's features and
    on each adapted model's, as grouped bars; a hatched bar's base weights changed in adaptation."""
    _check(table, ("strategy", "target", "base_accuracy", "adapted_accuracy", "base_intact"), "plot_forgetting",
           "fmlab.adapt.forgetting")
    targets = list(dict.fromkeys(table["target"]))
    strategies = list(dict.fromkeys(table["strategy"]))
    base = table.groupby("target")["base_accuracy"].first()
    width = 0.8 / (len(strategies) + 1)
    fig, ax = plt.subplots(figsize=(min(12, 3 + 0.4 * len(targets) * (len(strategies) + 1)), 4), layout="constrained")
    x = np.arange(len(targets))
    ax.bar(x, [base[t] for t in targets], width, color="#c8c8c8", label="base encoder")
    for i, name in enumerate(strategies):
        rows = table[table["strategy"] == name].set_index("target")
        intact = bool(rows["base_intact"].iloc[0])
        ax.bar(x + (i + 1) * width, [rows.loc[t, "adapted_accuracy"] for t in targets], width, color=PALETTE[i % 8],
               hatch=None if intact else "//", edgecolor="white", label=name + ("" if intact else " (base changed)"))
    ax.set_xticks(x + width * len(strategies) / 2, targets)
    ax.set(ylabel="probe accuracy", ylim=(0, 1), title="What the adapted features still tell")
    ax.legend(fontsize=8, loc="best")
    return detached(fig)
