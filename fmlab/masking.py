"""Signals to patch tokens and back, and the masks that hide tokens.

Token order is channel-major: token ``c * P + p`` is patch ``p`` of channel ``c``,
for C channels each cut into P patches of ``patch_size`` samples.

A mask is returned as ``(keep, masked)``:
    keep    [B, K] int64  indices of the visible tokens, sorted (the encoder sees only these)
    masked  [B, N] bool   True where a token is hidden (N = C * P)
Every sample in a batch hides the same number of tokens, so ``keep`` is a dense tensor.
"""
from __future__ import annotations

import torch

MASK_KINDS = ("random", "block", "channel")


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, C, T] -> [B, C * P, patch_size] with P = T // patch_size."""
    b, c, t = x.shape
    if t % patch_size:
        raise ValueError(f"patchify: length {t} does not cut into patches of {patch_size}; "
                         f"crop or pad to {t - t % patch_size} or {t + patch_size - t % patch_size}, "
                         f"or choose a patch_size that divides {t}")
    return x.reshape(b, c * (t // patch_size), patch_size)


def unpatchify(patches: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, C * P, L] -> [B, C, P * L]."""
    b, n, length = patches.shape
    return patches.reshape(b, channels, (n // channels) * length)


def check_ratio(ratio: float, units: int, what: str = "tokens") -> int:
    """How many of ``units`` a mask ``ratio`` hides; ValueError if none stays visible."""
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio: expected a value in (0, 1), got {ratio}; 0.75 is MAE's default")
    hidden = max(round(ratio * units), 1)  # a valid ratio hides at least one unit
    if hidden >= units:
        raise ValueError(f"mask ratio {ratio} hides all {units} {what}, leaving none visible; "
                         f"use a ratio below {(units - 0.5) / units:.3f}")
    return hidden


def _from_hidden_units(hidden_units: torch.Tensor, channels: int, patches: int, by: str):
    """Expand a [B, units] bool mask over channels or time patches to tokens -> (keep, masked)."""
    b = hidden_units.shape[0]
    if by == "time":
        masked = hidden_units[:, None, :].expand(b, channels, patches)
    else:
        masked = hidden_units[:, :, None].expand(b, channels, patches)
    masked = masked.reshape(b, channels * patches)
    return keep_from_masked(masked), masked


def keep_from_masked(masked: torch.Tensor) -> torch.Tensor:
    """[B, N] bool with the same count per row -> [B, K] sorted indices of visible tokens."""
    b, n = masked.shape
    order = torch.argsort(masked.to(torch.int8), dim=1, stable=True)  # visible (0) first, in order
    return order[:, : n - int(masked[0].sum())]


def random_token_mask(batch: int, channels: int, patches: int, ratio: float,
                      generator: torch.Generator | None = None, device=None):
    """Hide ``ratio`` of the C * P tokens, chosen independently per sample."""
    n = channels * patches
    hidden = check_ratio(ratio, n)
    noise = torch.rand(batch, n, generator=generator, device=device)
    masked = torch.zeros(batch, n, dtype=torch.bool, device=device)
    masked.scatter_(1, noise.argsort(dim=1)[:, :hidden], True)
    return keep_from_masked(masked), masked


def block_mask(batch: int, channels: int, patches: int, ratio: float,
               generator: torch.Generator | None = None, device=None):
    """Hide one contiguous span of ``round(ratio * P)`` time patches, in every channel."""
    hidden = check_ratio(ratio, patches, "time patches")
    start = torch.randint(0, patches - hidden + 1, (batch, 1), generator=generator, device=device)
    pos = torch.arange(patches, device=device)[None]
    return _from_hidden_units((pos >= start) & (pos < start + hidden), channels, patches, "time")


def channel_mask(batch: int, channels: int, patches: int, ratio: float,
                 generator: torch.Generator | None = None, device=None):
    """Hide ``round(ratio * C)`` whole channels, chosen per sample."""
    hidden = check_ratio(ratio, channels, "channels")
    noise = torch.rand(batch, channels, generator=generator, device=device)
    units = torch.zeros(batch, channels, dtype=torch.bool, device=device)
    units.scatter_(1, noise.argsort(dim=1)[:, :hidden], True)
    return _from_hidden_units(units, channels, patches, "channel")


def make_mask(kind: str, batch: int, channels: int, patches: int, ratio: float,
              generator: torch.Generator | None = None, device=None):
    """Dispatch on ``kind`` in MASK_KINDS -> (keep [B, K], masked [B, N])."""
    makers = {"random": random_token_mask, "block": block_mask, "channel": channel_mask}
    if kind not in makers:
        raise ValueError(f"mask kind: unknown {kind!r}; choose one of {', '.join(MASK_KINDS)}")
    return makers[kind](batch, channels, patches, ratio, generator=generator, device=device)
