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

from .dataset import SignalDataset


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


def resample(data: SignalDataset, length: int) -> SignalDataset:
    """The same dataset with every series linearly resampled (end points kept) to ``length`` samples: the
    explicit choice for series longer than an encoder's maximum. fs scales with it; labels and meta stay."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"resample(length=...): expected an int >= 2, got {length!r}")
    t = data.x.shape[-1]
    x = data.x if t == length else F.interpolate(data.x, size=length, mode="linear", align_corners=True)
    return SignalDataset(x, data.y, data.classes, data.fs * (length - 1) / max(t - 1, 1), dict(data.meta),
                         name=f"{data.name}@{length}", channels=data.channels)


# What the pile holds, per size: series generated per family, eeg samples (19 channels each), new mnist1d
# digits, and how many times each real train split is repeated (real series are few, and worth the most);
# "wide" is "cpu" and every other real series installed wheels carry (fmlab.data.wheels), repeated as often.
PILE_SIZES = {
    "smoke": dict(per_family=64, eeg=8, mnist1d=200, real_repeats=1, real=("GunPoint",), wheels=False),
    "cpu": dict(per_family=10_000, eeg=600, mnist1d=8_000, real_repeats=4, real=None, wheels=False),
    "wide": dict(per_family=10_000, eeg=600, mnist1d=8_000, real_repeats=4, real=None, wheels=True),
}
PILE_LENGTH = 512  # samples per pile series; pretraining draws shorter windows (fmlab.pretrain.RandomLength)
PILE_SEEDS = dict(generated=0, eeg=1, mnist1d=1)  # eeg seed 0 and the MNIST-1D paper's seed 42 are benchmarks'


def real_train_splits(names: Sequence[str] | None = None) -> list[SignalDataset]:
    """The *train* split of every UCR/UEA classification set aeon ships (or of ``names``); never a test split."""
    from .ucr import load_ucr, offline_datasets
    names = [n for n in offline_datasets() if n != "UnitTest"] if names is None else list(names)
    return [load_ucr(name, split="train", multiple=1) for name in names]


def build_pile(size: str = "cpu", seed: int = 0) -> SignalDataset:
    """The broad pretraining corpus (datasets/pile.md): x [M, 1, 512] z-normalised univariate series,
    without labels. meta["source"] [M] indexes ``pile_sources(size)``: the generated families, then eeg,
    mnist1d, each real train split, then (size "wide") each source of fmlab.data.wheels."""
    from . import load
    from .synthetic import FAMILIES, generate
    if size not in PILE_SIZES:
        raise ValueError(f"build_pile: unknown size {size!r}; choose one of {', '.join(PILE_SIZES)}")
    s = PILE_SIZES[size]
    parts = [generate(f, s["per_family"], PILE_LENGTH, seed + PILE_SEEDS["generated"]) for f in FAMILIES]
    parts.append(univariate(load("eeg", n=s["eeg"], seed=seed + PILE_SEEDS["eeg"]), PILE_LENGTH))
    parts.append(univariate(load("mnist1d", n=s["mnist1d"], seed=seed + PILE_SEEDS["mnist1d"]), PILE_LENGTH))
    parts += [univariate(d, PILE_LENGTH).repeat(s["real_repeats"], 1, 1) for d in real_train_splits(s["real"])]
    if s["wheels"]:
        from .wheels import wheel_series, windows
        parts += [windows(series, PILE_LENGTH).repeat(s["real_repeats"], 1, 1) for _, series in wheel_series()]
    x = torch.cat(parts)
    source = torch.cat([torch.full((len(p),), i) for i, p in enumerate(parts)])
    return SignalDataset(x, torch.zeros(len(x), dtype=torch.int64), ["unlabelled"], 1.0, {"source": source},
                         name=f"pile-{size}", channels=["x"])


def pile_sources(size: str = "cpu") -> list[str]:
    """The names of build_pile's sources, in the order of its meta["source"]."""
    from .synthetic import FAMILIES
    from .ucr import offline_datasets
    real = PILE_SIZES[size]["real"] or [n for n in offline_datasets() if n != "UnitTest"]
    names = [*FAMILIES, "eeg", "mnist1d", *(f"ucr:{n}" for n in real)]
    if PILE_SIZES[size]["wheels"]:
        from .wheels import WHEEL_SOURCES
        names += WHEEL_SOURCES
    return names
