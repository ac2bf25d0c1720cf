"""SignalDataset: every source (eeg, mnist1d, ucr) becomes one of these.

A dataset is plain tensors plus names:
    x       [N, C, T] float32   the signals
    y       [N] int64           class index into ``classes``
    meta    dict of [N] arrays  per-sample facts (subject, artifact flags, ...)
Splits and label budgets return new datasets that share nothing mutable with the old one.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import torch


def check_signal(x: torch.Tensor, name: str = "x") -> None:
    """Raise a ValueError unless ``x`` is a finite float tensor of shape [N, C, T]."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape [N, C, T], got {type(x).__name__}; "
                         f"convert with torch.as_tensor(arr, dtype=torch.float32)")
    if x.dim() != 3:
        hint = " (a single signal? add a batch axis with x[None])" if x.dim() == 2 else ""
        raise ValueError(f"{name}: expected rank 3 [N, C, T] (samples, channels, time), "
                         f"got rank {x.dim()} with shape {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a float tensor, got {x.dtype}; use x.float()")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten()
        raise ValueError(f"{name}: {len(bad)} sample(s) hold NaN or Inf (first: {bad[:5].tolist()}); "
                         f"drop them or fill gaps, e.g. torch.nan_to_num(x)")


def _labels(y, name: str, device) -> torch.Tensor:
    """``y`` as int64 class indices; float labels only when every one is a whole number (no silent truncation)."""
    y = torch.as_tensor(y, device=device)
    if y.is_floating_point():
        fractional = ~torch.isfinite(y) | (y != y.round())
        if fractional.any():
            first = fractional.nonzero().flatten()[:5].tolist()
            raise ValueError(f"{name}.y: expected whole-number class indices, got {y.dtype} labels with fractions or "
                             f"NaN (e.g. {y.flatten()[first].tolist()} at {first}); pass integer indices into classes, "
                             f"e.g. torch.as_tensor(labels).long() once they are whole, or map names to indices")
    elif y.dtype == torch.bool:
        raise ValueError(f"{name}.y: expected class indices, got bool labels; use y.long() (False -> 0, True -> 1)")
    return y.to(torch.int64)


@dataclass
class SignalDataset:
    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    fs: float
    meta: dict[str, torch.Tensor] = field(default_factory=dict)
    name: str = "signals"
    channels: list[str] | None = None

    def __post_init__(self) -> None:
        self.x = torch.as_tensor(self.x, dtype=torch.float32) if not isinstance(self.x, torch.Tensor) else self.x
        check_signal(self.x, f"{self.name}.x")
        if self.x.dtype != torch.float32:
            self.x = self.x.float()
        self.y = _labels(self.y, self.name, self.x.device)
        n = len(self.x)
        if self.y.shape != (n,):
            raise ValueError(f"{self.name}.y: expected shape [{n}] (one label per sample), got {tuple(self.y.shape)}")
        if n and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(f"{self.name}.y: labels must lie in [0, {len(self.classes)}) for classes "
                             f"{self.classes}, got range [{int(self.y.min())}, {int(self.y.max())}]")
        self.meta = {k: torch.as_tensor(v) for k, v in self.meta.items()}
        for k, v in self.meta.items():
            if len(v) != n:
                raise ValueError(f"{self.name}.meta[{k!r}]: expected {n} values (one per sample), got {len(v)}")
        if self.channels is not None and len(self.channels) != self.x.shape[1]:
            raise ValueError(f"{self.name}.channels: {len(self.channels)} names for {self.x.shape[1]} channels")

    # -- basics -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        n, c, t = self.x.shape
        counts = torch.bincount(self.y.cpu(), minlength=self.num_classes).tolist()
        per = ", ".join(f"{k}={v}" for k, v in zip(self.classes, counts))
        return (f"SignalDataset({self.name!r}: {n} samples x {c} channels x {t} steps at {self.fs:g} Hz; "
                f"classes {per}; meta {sorted(self.meta)})")

    def take(self, idx) -> "SignalDataset":
        """The samples at ``idx`` (indices or a boolean mask) as a new dataset."""
        idx = torch.as_tensor(idx)
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        idx = idx.to(torch.int64)
        return SignalDataset(self.x[idx.to(self.x.device)], self.y[idx.to(self.y.device)], list(self.classes),
                             self.fs, {k: v[idx.to(v.device)] for k, v in self.meta.items()}, self.name,
                             self.channels)

    def to(self, device) -> "SignalDataset":
        return SignalDataset(self.x.to(device), self.y.to(device), list(self.classes), self.fs,
                             dict(self.meta), self.name, self.channels)

    # -- splits and label budgets ----------------------------------------------------------------
    def split(self, test_size: float = 0.2, by: str | None = None, seed: int = 0):
        """(train, test). ``by=None`` splits samples at random (stratified by class);
        ``by="subject"`` (or any meta key) keeps every value of that key on one side, so the test
        set holds unseen subjects."""
        if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
            raise ValueError(f"split(test_size=...): expected a fraction in (0, 1), got {test_size!r}; e.g. 0.2")
        g = np.random.default_rng(seed)
        n = len(self)
        if by is None:
            y = self.y.cpu().numpy()
            test = np.zeros(n, dtype=bool)
            for c in np.unique(y):
                members = g.permutation(np.flatnonzero(y == c))
                test[members[: max(1, round(test_size * len(members)))]] = True
        else:
            if by not in self.meta:
                raise ValueError(f"split(by={by!r}): {self.name} has no such meta key; "
                                 f"known keys: {sorted(self.meta)} (or by=None for a random split)")
            groups = self.meta[by].cpu().numpy()
            values = g.permutation(np.unique(groups))
            if len(values) < 2:
                raise ValueError(f"split(by={by!r}): needs at least 2 distinct values, found {len(values)}")
            n_test = min(len(values) - 1, max(1, round(test_size * len(values))))
            test = np.isin(groups, values[:n_test])
        if test.all() or not test.any():
            side = "train" if test.all() else "test"
            raise ValueError(f"split(test_size={test_size}): the {side} side would be empty ({n} samples; "
                             f"classes of {np.bincount(self.y.cpu().numpy(), minlength=self.num_classes).tolist()}); "
                             f"pass a test_size nearer 0.5 (e.g. 0.2), or use more data")
        test = torch.from_numpy(test)
        return self.take(~test), self.take(test)

    def subset(self, per_class: int | None = None, fraction: float | None = None, seed: int = 0):
        """A label budget: ``per_class=k`` samples of each class, or a stratified ``fraction``."""
        if (per_class is None) == (fraction is None):
            raise ValueError(f"subset: give exactly one of per_class=k or fraction=f, got per_class={per_class!r} "
                             f"and fraction={fraction!r}")
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
                                     or not 0 < fraction <= 1):
            raise ValueError(f"subset(fraction=...): expected a fraction in (0, 1], got {fraction!r}; e.g. 0.1")
        if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral)
                                      or per_class < 1):
            raise ValueError(f"subset(per_class=...): expected a whole number of samples per class >= 1, got "
                             f"{per_class!r}; e.g. per_class=10 (for a share of each class: fraction=0.1)")
        g = np.random.default_rng(seed)
        y = self.y.cpu().numpy()
        chosen = []
        for c in range(self.num_classes):
            members = g.permutation(np.flatnonzero(y == c))
            if len(members) == 0:
                continue
            k = per_class if per_class is not None else max(1, round(fraction * len(members)))
            if k > len(members):
                raise ValueError(f"subset(per_class={per_class}): class {self.classes[c]!r} has only "
                                 f"{len(members)} samples; ask for at most {len(members)}")
            chosen.append(members[:k])
        return self.take(torch.from_numpy(np.sort(np.concatenate(chosen))))
