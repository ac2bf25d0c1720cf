"""Reading a compare() table: summaries, the "which strategy when" table, paired gaps, and the sentences a notebook
prints about them (so prose and numbers cannot drift apart).

    summarize(table)                                   # one row per strategy and budget, over seeds
    strategy_table(table)                              # labels needed, accuracy per budget, costs
    gap(table, "lora", "full_finetune", budget=0.1)    # one strategy against another, seed by seed
    versus(gap(...), noise)                            # "within noise of" / "3.1 points above"
    budget_sentences(table, len(test), baselines=("from_scratch", "minirocket"))   # per budget: the best, and why
    forgetting_sentences(forgetting(...), len(data) // 2)                          # what each strategy lost
    full_finetune_sentences(table, len(test))          # does full fine-tuning win given enough labels?
    fewer_passes_sentences(table, 50, 32, len(test))   # where more labels lowered accuracy, and why
    accuracy_by_budget(table)                          # {strategy: {"10%": accuracy, ...}}, for report.record
    forgetting_by_strategy(forgetting(...))            # {strategy: {target: forgetting, "base_intact": ...}}
A gap is a tie when it is under ``noise``: two standard errors of an accuracy on the test set
(fmlab.evaluate.within_noise).
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

from ..evaluate import within_noise
from .baselines import CLASSIC
from .compare import ADAPTATIONS, COLUMNS

CLASSIC_NAMES = tuple(CLASSIC)  # fitted pipelines, not runs of steps


def budget_name(budget: int | float) -> str:
    """A budget as a table heading: 0.1 -> "10%", 10 -> "10/class"."""
    if isinstance(budget, numbers.Integral) and not isinstance(budget, bool):
        return f"{int(budget)}/class"
    return f"{100 * float(budget):g}%"


def _check_table(table, fn: str) -> None:
    missing = [c for c in COLUMNS if c not in getattr(table, "columns", ())]
    if missing or len(table) == 0:
        raise ValueError(f"{fn}: expected a non-empty table from fmlab.adapt.compare with columns {list(COLUMNS)}; "
                         f"{'missing ' + str(missing) if missing else 'it is empty'}")


def summarize(table):
    """One row per strategy and budget (in the table's order), over seeds: strategy, budget, budget_name,
    labels, accuracy (mean), accuracy_sd (NaN for one seed), seeds, and the means of trainable_params,
    trainable_pct (100 * trainable / all parameters, PEFT's trainable%), train_seconds, memory_mb (peak CUDA
    memory where measured, else the rise of process memory) and delta_bytes."""
    _check_table(table, "summarize")
    t = table.assign(budget_name=table["budget"].map(budget_name),
                     trainable_pct=100 * table["trainable_params"] / table["all_params"],
                     memory_mb=table["peak_cuda_mb"].fillna(table["peak_rss_increase_mb"]))
    out = t.groupby(["strategy", "budget_name"], sort=False).agg(
        budget=("budget", "first"), labels=("labels", "mean"), accuracy=("accuracy", "mean"),
        accuracy_sd=("accuracy", "std"), seeds=("seed", "nunique"), trainable_params=("trainable_params", "mean"),
        trainable_pct=("trainable_pct", "mean"), train_seconds=("train_seconds", "mean"),
        memory_mb=("memory_mb", "mean"), delta_bytes=("delta_bytes", "mean"))
    return out.reset_index()[["strategy", "budget", "budget_name", *out.columns.drop("budget")]]


def strategy_table(table, within: float = 0.05):
    """The "which strategy when" table: one row per strategy (index), from a compare() table.

    labels_needed   fewest labels at which its mean accuracy comes within ``within`` of the best mean accuracy
                    anywhere in the table (NaN: not even with the most labels tried)
    "acc <budget>"  mean accuracy over seeds at each budget, fewest labels first
    trainable_pct, train_seconds, memory_mb   at the largest budget (see summarize)
    stored_bytes    what one more task adds on disk: the task delta (the base encoder is shared), or a
                    classic method's whole fitted pipeline
    """
    import pandas as pd
    s = summarize(table)
    best = s["accuracy"].max()
    order = s.groupby("budget_name", sort=False)["labels"].mean().sort_values(kind="stable").index
    rows = {}
    for name, g in s.groupby("strategy", sort=False):
        g = g.set_index("budget_name")
        g = g.reindex([b for b in order if b in g.index])  # fewest labels first
        reached = g[g["accuracy"] >= best - within - 1e-12]  # slack for rounding in best - within
        top = g.iloc[-1]
        rows[name] = {"labels_needed": reached["labels"].iloc[0] if len(reached) else float("nan"),
                      **{f"acc {b}": g["accuracy"].get(b, float("nan")) for b in order},
                      "trainable_pct": top["trainable_pct"], "train_seconds": top["train_seconds"],
                      "memory_mb": top["memory_mb"], "stored_bytes": top["delta_bytes"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def accuracy_by_budget(table, digits: int = 4) -> dict[str, dict[str, float]]:
    """{strategy: {budget name: mean accuracy over seeds, rounded to ``digits``}} of a compare() table, budgets
    fewest labels first (the "acc" columns of strategy_table): a table as report.record takes it."""
    acc = strategy_table(table).filter(like="acc ")
    return acc.rename(columns=lambda c: c.removeprefix("acc ")).round(digits).to_dict(orient="index")


def forgetting_by_strategy(lost, digits: int = 4) -> dict[str, dict]:
    """{strategy: {target: forgetting rounded to ``digits``, ..., "base_intact": bool}} of a forgetting() table
    (one row per strategy and target): what report.record takes."""
    expected = ("strategy", "target", "forgetting", "base_intact")
    missing = [c for c in expected if c not in getattr(lost, "columns", ())]
    if missing or len(lost) == 0:
        raise ValueError(f"forgetting_by_strategy: expected a non-empty table from fmlab.adapt.forgetting with columns "
                         f"{list(expected)}; {'missing ' + str(missing) if missing else 'it is empty'}")
    return {name: {**rows.set_index("target")["forgetting"].round(digits).to_dict(),
                   "base_intact": bool(rows["base_intact"].iloc[0])}
            for name, rows in lost.groupby("strategy", sort=False)}


def by_strategy_name(table):
    """The table with a label such as "full_finetune(layer_decay=0.75)" read as its strategy's name, where that
    strategy has no other row (one variant of a strategy stands for it: gap(table, "full_finetune", ...) finds it)."""
    base = table["strategy"].str.split("(").str[0]
    variants = table.assign(base=base).groupby("base")["strategy"].nunique()
    plain = set(table["strategy"])
    alone = base.map(lambda b: variants[b] == 1 and b not in plain)
    return table.assign(strategy=base.where(alone, table["strategy"]))


def gap(table, strategy: str, reference: str, budget: int | float) -> dict:
    """``strategy`` minus ``reference`` at one budget, seed by seed (both saw the same labels): gap (mean
    accuracy difference), gap_sd (over seeds; NaN for one), seeds, the two mean accuracies and the two
    trainable_pct. A strategy run with arguments (e.g. "lora(rank=8)") answers to its name when it is the only one."""
    _check_table(table, "gap")
    table, name = by_strategy_name(table), budget_name(budget)
    at = table[table["budget"].map(budget_name) == name]
    per = {}
    for s in (strategy, reference):
        rows = at[at["strategy"] == s]
        if len(rows) == 0:
            raise ValueError(f"gap: no {s!r} rows at budget {name} in the table; it has strategies "
                             f"{list(dict.fromkeys(table['strategy']))} and budgets "
                             f"{list(dict.fromkeys(table['budget'].map(budget_name)))}")
        per[s] = rows.set_index("seed")
    seeds = per[strategy].index.intersection(per[reference].index)
    if len(seeds) == 0:
        raise ValueError(f"gap: {strategy!r} ran with seeds {per[strategy].index.tolist()} and {reference!r} with "
                         f"{per[reference].index.tolist()} at budget {name}; a paired gap needs a seed in common")
    diff = per[strategy].loc[seeds, "accuracy"] - per[reference].loc[seeds, "accuracy"]
    pct = {s: float((100 * per[s]["trainable_params"] / per[s]["all_params"]).mean()) for s in per}
    return dict(gap=float(diff.mean()), gap_sd=float(diff.std()) if len(diff) > 1 else float("nan"),
                seeds=len(seeds), accuracy=float(per[strategy]["accuracy"].mean()),
                reference_accuracy=float(per[reference]["accuracy"].mean()),
                trainable_pct=pct[strategy], reference_trainable_pct=pct[reference])


def which_strategy(table, baselines: Sequence[str] = ("from_scratch", "minirocket"), within: float = 0.02) -> list[str]:
    """"Which strategy when", as sentences read from a compare() table: per budget (fewest labels first) the best
    adapted strategy, the others within ``within`` of it, and its margin over each baseline that ran."""
    s = summarize(table)
    out = []
    for name, g in sorted(s.groupby("budget_name", sort=False), key=lambda kv: kv[1]["labels"].mean()):
        acc = g.set_index("strategy")["accuracy"]
        ours = acc.drop([b for b in baselines if b in acc.index])
        best = ours.idxmax()
        ties = [k for k in ours.index if k != best and ours[k] >= ours[best] - within]
        margins = ", ".join(f"{100 * (ours[best] - acc[b]):+.1f} points against {b}" for b in baselines
                            if b in acc.index)
        out.append(f"{name} ({g['labels'].mean():.0f} labels): {best} {ours[best]:.3f}"
                   + (f" (within {100 * within:.0f} points: {', '.join(ties)})" if ties else "")
                   + (f"; {margins}" if margins else ""))
    return out


def versus(g: dict, noise: float) -> str:
    """How a gap() reads: "within noise of", or "N points above" / "below"."""
    d = g["gap"]
    return "within noise of" if abs(d) < noise else f"{100 * abs(d):.1f} points {'above' if d > 0 else 'below'}"


def budget_sentences(table, test_size: int, baselines: Sequence[str], adaptations: Sequence[str] = ADAPTATIONS,
                     name: str = "") -> list[str]:
    """Per budget of a compare() table (in its order): the best strategies (all within noise of the top), and the
    best adaptation against each baseline that ran. ``test_size``: the test signals each accuracy was measured on
    (the noise is within_noise(test_size)); ``name`` leads each sentence (e.g. the dataset)."""
    noise = within_noise(test_size)
    s = summarize(table)
    out = []
    for b in dict.fromkeys(table["budget"]):
        at = s[s["budget_name"] == budget_name(b)].set_index("strategy")
        top = at["accuracy"].max()
        tied = at.index[at["accuracy"] >= top - noise].tolist()
        best = at.loc[[a for a in adaptations if a in at.index], "accuracy"].idxmax()
        against = " and ".join(f"{versus(gap(table, best, base, b), noise)} {base}" for base in baselines
                               if base in at.index)
        out.append(f"{name + ', ' if name else ''}{budget_name(b)} of the labels ({int(at['labels'].iloc[0])}): best "
                   f"{' = '.join(tied)} ({top:.3f}{', tied within noise' if len(tied) > 1 else ''}); best adaptation "
                   f"{best} ({at.loc[best, 'accuracy']:.3f}) is {against} (ties under {noise:.3f})")
    return out


def full_finetune_sentences(table, test_size: int, adaptations: Sequence[str] = ADAPTATIONS) -> list[str]:
    """Does full fine-tuning win given enough labels? Per budget (fewest labels first): full fine-tuning against
    the best other adaptation and against the linear probe, seed-paired, read against the noise of ``test_size``
    test signals. A variant of full fine-tuning (e.g. with layer decay) stands for it when it is the only one."""
    table = by_strategy_name(table)
    noise, s = within_noise(test_size), summarize(table)
    out = []
    for b in sorted(dict.fromkeys(table["budget"]), key=lambda b: s[s["budget"] == b]["labels"].mean()):
        at = s[s["budget_name"] == budget_name(b)].set_index("strategy")["accuracy"]
        others = at[[a for a in adaptations if a in at.index and a != "full_finetune"]]
        rival = others.idxmax()
        out.append(f"{budget_name(b)} of the labels ({int(s[s['budget'] == b]['labels'].iloc[0])}): full fine-tuning "
                   f"{at['full_finetune']:.3f} is {versus(gap(table, 'full_finetune', rival, b), noise)} the best "
                   f"other adaptation ({rival}, {others[rival]:.3f}) and "
                   f"{versus(gap(table, 'full_finetune', 'linear_probe', b), noise)} the linear probe")
    return out


def fewer_passes_sentences(table, steps: int, batch_size: int, test_size: int) -> list[str]:
    """Where more labels lowered a strategy's mean accuracy beyond the noise (from one budget to the next larger),
    with the cause a fixed run has: ``steps`` of ``batch_size`` are fewer passes over more labels."""
    noise, s = within_noise(test_size), summarize(table)
    seen, out = steps * batch_size, []
    for name, g in s.groupby("strategy", sort=False):
        g = g.sort_values("labels")
        for (_, a), (_, b) in zip(g.iloc[:-1].iterrows(), g.iloc[1:].iterrows()):
            if a["accuracy"] - b["accuracy"] >= noise and name not in CLASSIC_NAMES:
                out.append(f"{name}: {a['accuracy']:.3f} with {a['labels']:.0f} labels, {b['accuracy']:.3f} with "
                           f"{b['labels']:.0f}; each run is {steps} steps of {batch_size}, {seen / a['labels']:.1f} "
                           f"passes over {a['labels']:.0f} labels but {seen / b['labels']:.1f} over {b['labels']:.0f}")
    return out or [f"no deep strategy lost accuracy beyond the noise ({noise:.3f}) with more labels"]


def forgetting_sentences(lost, test_size: int) -> list[str]:
    """One line per strategy of a forgetting() table: each target's probe before -> after, read against the
    noise of ``test_size`` test signals (lost / gained / tie), and whether the base weights are intact."""
    noise = within_noise(test_size)
    out = []
    for name, rows in lost.groupby("strategy", sort=False):
        parts = []
        for _, row in rows.iterrows():
            f = row["forgetting"]
            word = "no score" if math.isnan(f) else "tie" if abs(f) < noise else "lost" if f > 0 else "gained"
            parts.append(f"{row['target']} {row['base_accuracy']:.2f} -> {row['adapted_accuracy']:.2f} ({word})")
        out.append(f"{name:>14}: {'; '.join(parts)}; base {'intact' if rows['base_intact'].iloc[0] else 'CHANGED'}")
    return out
