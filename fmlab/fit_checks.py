"""What fit() refuses before it trains: options that would train wrongly and data the model cannot learn from.
Each refusal is a ValueError that names what was expected, what came, and how to fix it."""
from __future__ import annotations

import math
import numbers

import torch.nn as nn

from .data.dataset import SignalDataset


def _whole(name: str, value, least: int | None, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (least is not None and value < least):
        bound = f" >= {least}" if least is not None else ""
        raise ValueError(f"fit: expected {name} to be a whole number{bound}, got {value!r}; e.g. {example}")


def _real(name: str, value, positive: bool, example: str, meaning: str = "") -> None:
    bound = "> 0" if positive else ">= 0"
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < 0 or (positive and value == 0)):
        raise ValueError(f"fit: expected {name} to be a finite number {bound}{meaning}, got {value!r}; e.g. {example}")


def check_options(steps, batch_size, lr, weight_decay, warmup, clip, seed, eval_every, checkpoint_every) -> int:
    """Refuse options that would train wrongly (a negative clip flips gradients, lr=inf leaves NaN weights, ...);
    returns the warm-up in steps."""
    _whole("steps", steps, 1, "steps=500")
    _whole("batch_size", batch_size, 1, "batch_size=128")
    _whole("seed", seed, None, "seed=0")
    for name, every in (("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
        if every is not None:
            _whole(name, every, 1, f"{name}={max(1, steps // 10)}, or None for a tenth of the run")
    _real("lr", lr, True, "lr=1e-3")
    _real("weight_decay", weight_decay, False, "weight_decay=0.05")
    if clip is not None:
        _real("clip", clip, False, "clip=1.0", " (the largest gradient norm; 0 or None: no clipping)")
    if isinstance(warmup, float):
        if not 0 <= warmup <= 1:  # NaN fails here too
            hint = (f"for {warmup:g} steps of warm-up pass the whole number warmup={int(warmup)}"
                    if warmup.is_integer() else "e.g. warmup=0.1")
            raise ValueError(f"fit: a float warmup is a fraction of the steps, in [0, 1], got {warmup!r}; {hint}")
        return int(warmup * steps)
    _whole("warmup", warmup, 0, "warmup=0.1 (a tenth of the steps) or warmup=50 (steps)")
    if warmup > steps:
        raise ValueError(f"fit: warmup={warmup} steps is longer than the run (steps={steps}), so the learning rate "
                         f"would never reach lr; pass at most {steps}, or a fraction such as warmup=0.1")
    return warmup


def check_data(model: nn.Module, data: SignalDataset) -> None:
    """Refuse data the model cannot learn from: none at all, labels it cannot hold, meta it needs but lacks."""
    if not isinstance(data, SignalDataset):
        raise ValueError(f"fit: expected a SignalDataset, got {type(data).__name__}; wrap tensors with "
                         f"fmlab.data.SignalDataset(x, y, classes, fs)")
    if len(data) == 0:
        raise ValueError(f"fit: expected a dataset with samples, got an empty one ({data.name!r}); check the split "
                         f"or label budget that produced it")
    if hasattr(model, "check_data"):
        model.check_data(data)
    missing = [k for k in getattr(model, "needs_meta", ()) if k not in data.meta]
    if missing:
        raise ValueError(f"fit: {type(model).__name__} needs data.meta{missing} for every sample, but {data.name!r} "
                         f"has meta {sorted(data.meta)}; use data that carries it (e.g. eeg's 'subject') or "
                         f"build the objective without the option that asks for it")
