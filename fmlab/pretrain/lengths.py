"""RandomLength: pretrain one encoder on many lengths and time scales, so it serves any series.

    obj = RandomLength(MAE(encoder))      # each step: one length L for the batch, a window per series
    out = obj(x)                          # x [B, C, T] -> window of w in [L, T] samples -> resampled to L
Every position row of the encoder is trained (L reaches T) and every series is seen at many zooms
(w / L from 1 to T / L), which is what lets a reference read GunPoint at 150 samples and eeg at 512.
"""
from __future__ import annotations

import torch
import torch.nn as nn

LENGTHS = (32, 64, 128, 256, 512)
WEIGHTS = (0.15, 0.3, 0.3, 0.15, 0.1)  # short windows are cheap: most steps use them


def random_windows(x: torch.Tensor, length: int) -> torch.Tensor:
    """[B, C, T] -> [B, C, length]: per series a window of w ~ U[length, T] samples at a random offset,
    linearly resampled to ``length`` (w == length is a plain crop)."""
    b, _, t = x.shape
    w = length + torch.rand(b, device=x.device) * (t - length)
    start = torch.rand(b, device=x.device) * (t - w)
    pos = start[:, None] + (w - 1)[:, None] * torch.linspace(0, 1, length, device=x.device)[None]   # [B, L]
    lo = pos.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    frac = (pos - lo)[:, None, :]
    idx = lambda i: i[:, None, :].expand(-1, x.shape[1], -1)
    return torch.gather(x, 2, idx(lo)) * (1 - frac) + torch.gather(x, 2, idx(hi)) * frac


class RandomLength(nn.Module):
    """Wrap an objective: every forward draws a length from ``lengths`` (by ``weights``; other lengths than
    the default are drawn equally often unless weighted) and trains the objective on random windows of that
    length. Lengths above the input's T are left out."""

    def __init__(self, objective: nn.Module, lengths=LENGTHS, weights=None):
        super().__init__()
        lengths = tuple(lengths)
        if weights is None:  # the default lengths' weights; any other list of lengths: each as often
            weights = WEIGHTS if lengths == LENGTHS else (1.0,) * len(lengths)
        if len(lengths) != len(weights) or not lengths or min(lengths) < 2 or min(weights) < 0:
            raise ValueError(f"RandomLength: expected lengths >= 2 with one weight >= 0 each, got {lengths}, {weights}")
        self.objective, self.lengths, self.weights = objective, tuple(lengths), tuple(weights)
        self.needs_meta = getattr(objective, "needs_meta", ())

    @property
    def encoder(self):
        return self.objective.encoder

    def forward(self, x: torch.Tensor, **kwargs) -> dict:
        fits = [(n, w) for n, w in zip(self.lengths, self.weights) if n <= x.shape[-1]]
        if not fits:
            raise ValueError(f"RandomLength: every length {self.lengths} exceeds the input's {x.shape[-1]} samples")
        p = torch.tensor([w for _, w in fits], dtype=torch.float)
        length = fits[int(torch.multinomial(p, 1))][0]
        return self.objective(random_windows(x, length), **kwargs)

    def after_step(self, step: int, total: int) -> None:
        if hasattr(self.objective, "after_step"):
            self.objective.after_step(step, total)
