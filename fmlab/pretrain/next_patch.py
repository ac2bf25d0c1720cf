"""NextPatch: predict every patch from the patches before it, the GPT side of "BERT vs GPT".

    tokens = encoder(x)[:, 1:]                         # causal encoder: token p has seen patches 0..p only
    pred = head(tokens)                                # [B, N, L]: its guess for patch p + 1
    loss = ((pred[:, :-1] - patches[:, 1:]) ** 2).mean()   # in each series' normalised units
MAE fills holes from both sides of them; a causal encoder only ever looks back, so what it predicts is a
forecast, and ``forecast(x, horizon)`` rolls it forward a patch at a time. One caveat of the simple recipe:
the encoder z-normalises each window with statistics of the whole window, so during pretraining a patch
knows its window's mean and spread, a little of its future; a forecast normalises by the context alone.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..models import Encoder


class NextPatch(nn.Module):
    """Next-patch prediction on a causal ``Encoder`` (``EncoderConfig(causal=True)``): a linear head reads each
    token and predicts the next patch of its channel."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        if not encoder.config.causal:
            raise ValueError("NextPatch: expected an encoder built with causal=True (a token must not see the patch "
                             "it predicts), got causal=False; build it with EncoderConfig.preset(..., causal=True)")
        self.encoder = encoder
        self.head = nn.Linear(encoder.dim, encoder.config.patch_size)

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, T] -> (pred [B', C', P, L] each token's guess of the next patch, normalised input patches
        [B', C', P, L]); B' C' = B C folded into univariate series for a channel-independent encoder."""
        x = self.encoder.fold(x)
        b, c, t = x.shape
        p = self.encoder.num_patches(t)
        tokens = self.encoder(x)[:, 1:]                                  # [B', C' * P, D]
        return self.head(tokens).view(b, c, p, -1), self.encoder.patches(x).view(b, c, p, -1)

    def forward(self, x: torch.Tensor) -> dict:
        """x [B, C, T] with at least two patches -> {"loss", "pred", "target"} (pred, target [B', C', P - 1, L])."""
        if self.encoder.num_patches(x.shape[-1]) < 2:
            raise ValueError(f"NextPatch: expected series of at least two patches ({2 * self.encoder.config.patch_size}"
                             f" samples), got input {tuple(x.shape)}; use longer windows")
        pred, patches = self.predict(x)
        pred, target = pred[:, :, :-1], patches[:, :, 1:]             # token p predicts patch p + 1
        return {"loss": ((pred.float() - target) ** 2).mean(), "pred": pred, "target": target}

    @torch.no_grad()
    def forecast(self, x: torch.Tensor, horizon: int) -> torch.Tensor:
        """Context x [B, C, T] (T >= one patch) -> the next ``horizon`` samples [B, C, horizon], in the signal's
        units: predict a patch, append it, repeat. The context is cut to whole patches (its first T mod L
        samples go) and to the encoder's longest series."""
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"NextPatch.forecast: expected a positive whole horizon in samples, got {horizon!r}")
        enc, size = self.encoder, self.encoder.config.patch_size
        b, c, t = x.shape
        if t < size:
            raise ValueError(f"NextPatch.forecast: expected a context of at least one patch ({size} samples), got "
                             f"input {tuple(x.shape)}")
        context, out = x.float()[..., t % size:], []
        for _ in range(-(-horizon // size)):
            context = context[..., -enc.config.patches * size:]
            series = enc.fold(context)
            _, mean, std = enc.normalize(series)
            guess = self.predict(series)[0][:, :, -1]                   # [B', C', L] in normalised units
            step = (guess * std + mean).reshape(b, c, size)
            out.append(step)
            context = torch.cat([context, step], -1)
        return torch.cat(out, -1)[..., :horizon]
