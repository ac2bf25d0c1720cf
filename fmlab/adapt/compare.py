"""Strategies side by side: every strategy at every label budget and seed, in one tidy table.

    table = compare(encoder, train, test, budgets=(10, 1.0), seeds=(0, 1))
    plot_accuracy_vs_budget(table); plot_accuracy_vs_parameters(table)     # fmlab.viz.adaptation
    forgetting(encoder, {"lora": clf, "full_finetune": other}, data)     # what the adapted features lost
The table's readers (summarize, strategy_table, gap, which_strategy) are in fmlab.adapt.readout, the sentences a
notebook prints in fmlab.adapt.narration, and the memory probe every run is measured by in fmlab.adapt.memory.

Each strategy adapts its own copy of ``encoder``, so every row starts from the same weights. Seeds
vary both which labels are drawn and the initialisation (head, LoRA, adapters, prompts).
"""
from __future__ import annotations

import numbers
import pickle
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch

from ..data.dataset import SignalDataset
from ..evaluate import what_it_encodes
from ..models import Encoder
from ..profiles import PROFILES, say
from ..train import fit, seeded
from .base import Classifier
from .baselines import CLASSIC, classic_for, fitted_parameters
from .budget import FairBudget, fair_fit
from .delta import save_delta
from .memory import PeakRSS
from .strategies import STRATEGIES, build

ADAPTATIONS = ("linear_probe", "full_finetune", "lora", "adapter", "prompt_tuning")
COLUMNS = ("strategy", "budget", "labels", "seed", "accuracy", "trainable_params", "all_params", "train_seconds",
           "peak_rss_increase_mb", "peak_cuda_mb", "delta_bytes")
FAIR_COLUMNS = ("steps", "best_step", "val_acc", "train_labels")  # added under a FairBudget rule
# fit() for one notebook adaptation run, per profile (Profile.adapt_run), under the name notebooks import.
RUNS = {name: p.adapt_run for name, p in PROFILES.items()}


def label_budget(train: SignalDataset, budget: int | float, seed: int) -> SignalDataset:
    """An int is labels per class, a float a stratified fraction of ``train``."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise ValueError(f"compare: a budget is labels per class (int, e.g. 10) or a fraction of the training "
                         f"labels (float, e.g. 0.1), got {budget!r}")
    if isinstance(budget, numbers.Integral):
        return train.subset(per_class=int(budget), seed=seed)
    return train.subset(fraction=float(budget), seed=seed)


def _specs(strategies) -> list[tuple[str, str, dict]]:
    """(label, name, arguments) for each item: a name, or (name, {argument: value})."""
    out = []
    for item in strategies:
        name, arguments = (item, {}) if isinstance(item, str) else item
        if name not in STRATEGIES and name not in CLASSIC:
            raise ValueError(f"compare: unknown strategy {name!r}; choose from {', '.join([*STRATEGIES, *CLASSIC])}, "
                             f"or pass (name, {{argument: value}}) such as ('lora', {{'rank': 8}})")
        label = f"{name}({', '.join(f'{k}={v}' for k, v in arguments.items())})" if arguments else name
        out.append((label, name, dict(arguments)))
    return out


def adapt_once(encoder: Encoder, name: str, arguments: dict, few: SignalDataset, test: SignalDataset, seed: int,
               steps: int, batch_size: int, lr: float, device=None,
               rule: FairBudget | None = None) -> tuple[dict, Classifier]:
    """Train one strategy on ``few`` and measure it on ``test``: (one row of the table less its keys, the model).
    With a ``rule`` the run's length and its kept weights follow it (fmlab.adapt.budget); else ``steps``."""
    with seeded(seed):  # the new head's (and LoRA's, prompts') initial weights
        clf = build(name, encoder, few.num_classes, few.classes, **arguments)
    fair = {}
    with PeakRSS() as mem:
        if rule is None:
            hist = fit(clf, few, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device, progress=False)
        else:
            hist, fair = fair_fit(clf, few, rule, lr=lr, seed=seed, device=device)
    with tempfile.TemporaryDirectory() as folder:
        delta_bytes = save_delta(clf, Path(folder) / "delta.safetensors")
    return dict(accuracy=clf.accuracy(test), trainable_params=clf.trainable_parameters(),
                all_params=sum(p.numel() for p in clf.parameters()), train_seconds=hist.seconds,
                peak_rss_increase_mb=mem.increase_mb, peak_cuda_mb=hist.peak_memory_mb or float("nan"),
                delta_bytes=delta_bytes, **fair), clf


def classic_once(name: str, arguments: dict, few: SignalDataset, test: SignalDataset, seed: int) -> dict:
    """Fit a classic baseline on ``few``; its "delta" is the pickled fitted pipeline."""
    threads, t0 = torch.get_num_threads(), time.perf_counter()
    try:
        with PeakRSS() as mem:
            model = CLASSIC[name](few, seed=seed, **arguments)
        seconds = time.perf_counter() - t0
        accuracy = float(model.score(test.x.cpu().numpy(), test.y.cpu().numpy()))
    finally:  # aeon's numba kernels reset the OpenMP thread count that torch shares
        torch.set_num_threads(threads)
    fitted = fitted_parameters(model)
    return dict(accuracy=accuracy, trainable_params=fitted, all_params=fitted, train_seconds=seconds,
                peak_rss_increase_mb=mem.increase_mb, peak_cuda_mb=float("nan"), delta_bytes=len(pickle.dumps(model)))


def compare(encoder: Encoder, train: SignalDataset, test: SignalDataset, strategies: Sequence | None = None,
            budgets: Sequence[int | float] = (0.1, 1.0), seeds: Sequence[int] = (0,), steps: int = 200,
            batch_size: int = 64, lr: dict[str, float] | None = None, device=None, models: dict | None = None,
            rule: FairBudget | None = None):
    """Train every strategy on every label budget and seed; a pandas DataFrame with one row per run.

    strategies: names ("linear_probe", "full_finetune", "lora", "adapter", "prompt_tuning", and the
                baselines "from_scratch", "bandpower_logreg", "minirocket") or (name, {argument: value})
                pairs such as ("lora", {"rank": 16}). Default: the five adaptations, from_scratch and
                the classic baseline that suits the data (band power for eeg, else MiniRocket).
    budgets:    ints are labels per class, floats fractions of ``train``'s labels.
    lr:         per strategy label or name; default each strategy's ``default_lr``.
    rule:       a FairBudget: every deep run's length grows with its labels and keeps its best validation
                step (fmlab.adapt.budget); ``steps`` and ``batch_size`` are then unused. Classic baselines
                fit on all the labels with their fixed settings (no steps to choose).
    models:     a dict to fill with every trained classifier, keyed (strategy label, budget, seed), e.g.
                for forgetting() or save_delta() afterwards (each holds its own copy of the encoder).
    Columns: strategy, budget, labels (how many were drawn), seed, accuracy (on ``test``),
    trainable_params, all_params (of the adapted model, as PEFT counts them; a classic's fitted weights),
    train_seconds (fit's loop), peak_rss_increase_mb (process memory, see PeakRSS),
    peak_cuda_mb (NaN off CUDA), delta_bytes (the saved task delta; a pickled pipeline for classics).
    """
    import pandas as pd
    if strategies is None:
        strategies = (*ADAPTATIONS, "from_scratch", classic_for(train))
    specs, lr = _specs(strategies), lr or {}
    if test.num_classes != train.num_classes:
        raise ValueError(f"compare: train has {train.num_classes} classes {train.classes}, test "
                         f"{test.num_classes} {test.classes}; both must come from one dataset")
    rows = []
    for seed in seeds:
        for budget in budgets:
            few = label_budget(train, budget, seed)
            for label, name, arguments in specs:
                if name in CLASSIC:
                    result = classic_once(name, arguments, few, test, seed)
                else:
                    rate = lr.get(label, lr.get(name, STRATEGIES[name].default_lr))
                    result, clf = adapt_once(encoder, name, arguments, few, test, seed, steps, batch_size, rate,
                                             device, rule)
                    if models is not None:
                        models[label, budget, seed] = clf
                rows.append(dict(strategy=label, budget=budget, labels=len(few), seed=seed, **result))
                say(f"fmlab.compare: {label}, budget {budget} ({len(few)} labels), seed {seed}: "
                    f"accuracy {result['accuracy']:.3f}")
    table = pd.DataFrame(rows, columns=[*COLUMNS, *(FAIR_COLUMNS if rule is not None else ())])
    table["budget"] = pd.Series([r["budget"] for r in rows], dtype=object)  # keep 10 (per class) apart from 1.0
    return table


def forgetting(encoder: Encoder, adapted: dict[str, Classifier], data: SignalDataset, seed: int = 0):
    """What the adapted models' features still tell about ``data`` that the base encoder's did: the
    state (label), the subject and the presence of an artifact (evaluate.what_it_encodes, a linear
    probe on each model's pooled features). A pandas DataFrame, one row per strategy and target:
    strategy, target, base_accuracy, adapted_accuracy, forgetting (base - adapted), base_intact
    (whether the model's own copy of the base weights is unchanged, so dropping the delta restores it).
    """
    import pandas as pd
    before = what_it_encodes(encoder, data, seed=seed)
    rows = []
    for name, clf in adapted.items():
        after = what_it_encodes(clf, data, seed=seed)
        intact = clf.base_unchanged()
        rows += [dict(strategy=name, target=t, base_accuracy=before[t], adapted_accuracy=after[t],
                      forgetting=before[t] - after[t], base_intact=intact) for t in before]
    return pd.DataFrame(rows, columns=["strategy", "target", "base_accuracy", "adapted_accuracy", "forgetting",
                                       "base_intact"])
