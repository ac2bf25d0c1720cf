"""A broad unlabelled pile: many sources brought to one shape, for a foundation-style encoder.

    pile = make_pile([load("eeg", n=400), load("mnist1d", n=4000), load("ucr:GunPoint")], length=128)
    pile.x                                  # [M, 1, 128]: every channel of every series, on its own
    x = univariate(load("ucr:BasicMotions"), length=128)   # [N, 6, 128] -> [N * 6, 1, 128], the same recipe

The scheme, chosen to be simple and the same for pretraining and probing:
- channels one at a time: a [N, C, T] source becomes N * C univariate series (C-major per sample: the
  C channels of sample 0 come first), so any channel count fits one encoder;
- each series resampled by linear interpolation (end points kept) to ``length`` samples, whatever its own
  length and rate: the pile is about shapes, not about seconds;
- each series z-normalised (mean 0, std 1 over time; a constant one becomes zeros), as the UCR archive is.
Labels are dropped: y is all zeros and classes is ["unlabelled"]; meta["source"] [M] is the index, in the
order of the sources given, of the source each series came from.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .core import SignalDataset


def univariate(data: SignalDataset, length: int = 128) -> torch.Tensor:
    """[N, C, T] signals -> [N * C, 1, length]: each channel resampled and z-normalised on its own."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"univariate(length=...): expected an int >= 2 (samples per series), got {length!r}; "
                         f"e.g. 128")
    if not isinstance(data, SignalDataset):
        raise ValueError(f"univariate: expected a SignalDataset, got {type(data).__name__}; "
                         f"wrap arrays with SignalDataset(x, y, classes, fs)")
    n, c, t = data.x.shape
    x = data.x.reshape(n * c, 1, t).float()
    if t == 1:
        x = x.expand(-1, -1, length)
    elif t != length:
        x = F.interpolate(x, size=length, mode="linear", align_corners=True)
    mean, std = x.mean(-1, keepdim=True), x.std(-1, unbiased=False, keepdim=True)
    return ((x - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))).contiguous()


def make_pile(datasets: Sequence[SignalDataset], length: int = 128, per_source: int | None = None,
              seed: int = 0) -> SignalDataset:
    """Every dataset through ``univariate``, concatenated: a SignalDataset x [M, 1, length] without labels.

    per_source: keep at most this many series from each source (a random draw, ``seed``), so one big
                source (eeg has 19 channels a sample) does not drown the others. None keeps all.
    meta["source"] [M]: the index in ``datasets`` each series came from; the pile's name lists the sources.
    """
    if not datasets:
        raise ValueError("make_pile: expected at least one SignalDataset, got none; "
                         "e.g. make_pile([load('eeg', n=400), load('ucr:GunPoint')])")
    if per_source is not None and (isinstance(per_source, bool) or not isinstance(per_source, int)
                                   or per_source < 1):
        raise ValueError(f"make_pile(per_source=...): expected a positive int or None, got {per_source!r}")
    g = torch.Generator().manual_seed(seed)
    parts, sources = [], []
    for i, data in enumerate(datasets):
        x = univariate(data, length)
        if per_source is not None and len(x) > per_source:
            x = x[torch.randperm(len(x), generator=g)[:per_source].sort().values]
        parts.append(x)
        sources.append(torch.full((len(x),), i, dtype=torch.int64))
    x = torch.cat(parts)
    names = "+".join(d.name for d in datasets)
    return SignalDataset(x, torch.zeros(len(x), dtype=torch.int64), ["unlabelled"], 1.0,
                         {"source": torch.cat(sources)}, name=f"pile({names})", channels=["x"])
