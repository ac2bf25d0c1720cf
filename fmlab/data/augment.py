"""Signal augmentations for contrastive learning. Each maps a batch [B, C, T] to [B, C, T] with fresh
randomness per sample (from torch's global generator, which fit() seeds).

    views = Compose([Jitter(0.1), Scale(0.7, 1.3), TimeMask(0.2)])
    a, b = views(x), views(x)       # two views of the same signals
The named views the contrastive objective and the alignment metric use (default, weak, shape) are at the end.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _rand(b: int, *shape: int, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(b, *shape, device=like.device, dtype=like.dtype)


class Jitter:
    """Add Gaussian noise of ``sigma`` times each sample-channel's std."""

    def __init__(self, sigma: float = 0.1):
        self.sigma = sigma

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * x.std(-1, keepdim=True) * torch.randn_like(x)


class Scale:
    """Multiply each channel by its own factor in [low, high] (hides per-channel gain, a subject trait)."""

    def __init__(self, low: float = 0.7, high: float = 1.3, per_channel: bool = True):
        self.low, self.high, self.per_channel = low, high, per_channel

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        return x * (self.low + (self.high - self.low) * _rand(b, c if self.per_channel else 1, 1, like=x))


class TimeShift:
    """Roll each sample circularly by up to ``max_fraction`` of its length."""

    def __init__(self, max_fraction: float = 0.25):
        self.max_fraction = max_fraction

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        shift = ((_rand(b, like=x) * 2 - 1) * self.max_fraction * t).long()
        idx = (torch.arange(t, device=x.device)[None] - shift[:, None]) % t
        return torch.gather(x, 2, idx[:, None, :].expand_as(x))


class CropResize:
    """Crop a random window of ``min_fraction``..1 of the length and stretch it back to the full length."""

    def __init__(self, min_fraction: float = 0.6):
        self.min_fraction = min_fraction

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        frac = self.min_fraction + (1 - self.min_fraction) * _rand(b, like=x)
        start = _rand(b, like=x) * (1 - frac)
        pos = start[:, None] + frac[:, None] * torch.linspace(0, 1, t, device=x.device)[None]  # [B, T] in [0, 1]
        grid = torch.stack([pos * 2 - 1, torch.zeros_like(pos)], -1)[:, None]                # [B, 1, T, 2]
        return F.grid_sample(x[:, :, None, :], grid, align_corners=True).squeeze(2)


class TimeMask:
    """Zero one span of up to ``max_fraction`` of the length, in every channel."""

    def __init__(self, max_fraction: float = 0.2):
        self.max_fraction = max_fraction

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        width = (_rand(b, like=x) * self.max_fraction * t).long()
        start = (_rand(b, like=x) * (t - width)).long()
        pos = torch.arange(t, device=x.device)[None]
        hide = (pos >= start[:, None]) & (pos < (start + width)[:, None])
        return x.masked_fill(hide[:, None, :], 0.0)


class ChannelDropout:
    """Zero each channel with probability ``p`` (at least one channel survives)."""

    def __init__(self, p: float = 0.2):
        self.p = p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        keep = _rand(b, c, like=x) >= self.p
        keep[torch.arange(b), torch.randint(0, c, (b,), device=x.device)] = True
        return x * keep[..., None]


class BandStop:
    """Remove one random frequency band of ``width`` Hz between ``low`` and ``high`` Hz (FFT domain)."""

    def __init__(self, fs: float, width: float = 4.0, low: float = 1.0, high: float | None = None):
        self.fs, self.width, self.low, self.high = fs, width, low, high if high is not None else fs / 2

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        spec = torch.fft.rfft(x, dim=-1)
        freqs = torch.fft.rfftfreq(t, 1 / self.fs).to(x.device)
        lo = self.low + _rand(b, like=x) * max(0.0, self.high - self.low - self.width)
        stop = (freqs[None] >= lo[:, None]) & (freqs[None] < lo[:, None] + self.width)
        return torch.fft.irfft(spec.masked_fill(stop[:, None, :], 0), n=t, dim=-1)


class Offset:
    """Add a constant to each channel, drawn anew for every view: ``scale`` times the sample's std, times a standard
    normal (hides any offset a recording carries, e.g. an electrode's DC)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        return x + self.scale * x.std((1, 2), keepdim=True) * torch.randn(b, c, 1, device=x.device, dtype=x.dtype)


class Compose:
    """Apply each augmentation in turn; each one only with probability ``p`` if given as (aug, p)."""

    def __init__(self, augmentations: list):
        self.steps = [a if isinstance(a, tuple) else (a, 1.0) for a in augmentations]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for aug, p in self.steps:
            if p >= 1.0:
                x = aug(x)
            else:
                apply = _rand(len(x), 1, 1, like=x) < p
                x = torch.where(apply, aug(x), x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(f"{type(a).__name__}" + (f"@{p}" if p < 1 else "") for a, p in self.steps) + ")"


# -- the named views of fmlab.pretrain.Contrastive (and of fmlab.evaluate's alignment) ---------------------
def default_augment(fs: float) -> Compose:
    """Views that differ in gain per channel, timing, a missing band and missing channels: what stays
    the same is the rhythm content, which is what the state labels depend on."""
    return Compose([CropResize(0.7), Scale(0.5, 1.5), Jitter(0.1), (BandStop(fs, 4.0), 0.5),
                    (ChannelDropout(0.2), 0.5), (TimeMask(0.2), 0.5)])


def weak_augment() -> Compose:
    """Views that differ only by a little noise and a time shift: both keep every channel's gain, the
    artifacts and the subject's signature, so matching them is easiest by recognising those (the pitfall)."""
    return Compose([TimeShift(0.25), Jitter(0.05)])


def shape_augment() -> Compose:
    """Views for a corpus of any series (the pile): a crop stretched back, a gain, a little noise and a
    missing span. What stays the same is the shape, whatever its scale or offset."""
    return Compose([CropResize(0.6), Scale(0.5, 1.5), Jitter(0.1), (TimeMask(0.15), 0.5)])


def offset_augment(fs: float) -> Compose:
    """The default views, each with its own offset on every channel: a recording's offsets no longer find its
    partner view (notebook 03's fix for the electrode-offset shortcut)."""
    return Compose([*default_augment(fs).steps, Offset(1.0)])


AUGMENTS = {"default": default_augment, "weak": lambda fs: weak_augment(), "shape": lambda fs: shape_augment(),
            "offsets": offset_augment}
