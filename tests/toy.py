"""Tiny datasets and objectives for fast tests of the training machinery."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from fmlab.data import SignalDataset


def sine_classes(n: int = 128, channels: int = 2, length: int = 64, seed: int = 0) -> SignalDataset:
    """Two classes told apart by frequency (4 vs 9 cycles per window), random phase, noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    t = torch.arange(length) / length
    freq = torch.where(y == 1, 9.0, 4.0)[:, None, None]
    phase = torch.rand(n, channels, 1, generator=g) * 6.283
    x = torch.sin(6.283 * freq * t + phase) + 0.3 * torch.randn(n, channels, length, generator=g)
    return SignalDataset(x, y, ["slow", "fast"], fs=float(length), meta={"subject": torch.arange(n) % 8},
                         name="sines")


class NoisyReconstruction(nn.Module):
    """A stand-in objective: predict each channel's mean from a noised view (uses the global RNG)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.dim, encoder.config.channels)

    def forward(self, x):
        pred = self.head(self.encoder.embed(x + 0.1 * torch.randn_like(x)))
        return {"loss": F.mse_loss(pred, x.abs().mean(-1))}
