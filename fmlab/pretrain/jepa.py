"""JEPA: predict the *latents* of hidden tokens, not their values.

    keep, masked = make_mask("block", ...)                       # context = visible, target = hidden block
    ctx = encoder(x, keep=keep)                                  # the online (context) encoder
    with torch.no_grad():
        tgt = layer_norm(target_encoder(x)[:, 1:])               # EMA copy, sees everything, no gradients
    pred = predictor(ctx, keep)                                  # narrow transformer + mask tokens at targets
    loss = smooth_l1(pred[masked], tgt[masked])
    after each step: target <- m * target + (1 - m) * encoder    # m: 0.996 -> 1
Collapse shows as embeddings that stop varying: the output logs their std and effective rank.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..evaluate import effective_rank
from ..masking import make_mask
from ..models import Encoder
from .ema import ema_update, frozen_copy, momentum_at
from .mae import MaskedDecoder


class JEPA(nn.Module):
    """mask_kind/mask_ratio choose the target tokens ("block": a span of time in every channel)."""

    def __init__(self, encoder: Encoder, mask_ratio: float = 0.5, mask_kind: str = "block",
                 predictor_dim: int | None = None, predictor_depth: int = 2, momentum: float = 0.996):
        super().__init__()
        c = encoder.config
        make_mask(mask_kind, 1, 1 if c.channel_independent else c.channels, c.patches, mask_ratio)  # refuse now
        if not 0 < momentum <= 1:
            raise ValueError(f"JEPA: momentum must be in (0, 1], got {momentum}")
        self.encoder, self.mask_ratio, self.mask_kind, self.momentum = encoder, mask_ratio, mask_kind, momentum
        self.target_encoder = frozen_copy(encoder)
        self.predictor = MaskedDecoder(encoder, c.dim, predictor_dim or max(32, c.dim // 2), predictor_depth)

    def forward(self, x: torch.Tensor) -> dict:
        """x [B, C, T] -> {"loss", "pred", "target" [B, N, D], "masked" [B, N], "embeddings" [B, D], "logs"}
        (a channel-independent encoder works on the folded series: B * C rows of N = P tokens)."""
        self.encoder.check_input(x)
        x = self.encoder.fold(x)
        ch, p = x.shape[1], self.encoder.num_patches(x.shape[-1])
        keep, masked = make_mask(self.mask_kind, len(x), ch, p, self.mask_ratio, device=x.device)
        ctx = self.encoder(x, keep=keep)
        with torch.no_grad():
            tokens = self.target_encoder(x)[:, 1:]
            target = F.layer_norm(tokens.float(), tokens.shape[-1:])
        pred = self.predictor(ctx, keep, ch, p)
        loss = F.smooth_l1_loss(pred.float()[masked], target[masked])
        emb = self.encoder.pool(ctx).detach().float()
        logs = {"emb_std": float(F.normalize(emb, dim=-1).std(0).mean()), "eff_rank": effective_rank(emb)}
        return {"loss": loss, "pred": pred, "target": target, "masked": masked, "embeddings": emb, "logs": logs}

    def after_step(self, step: int, total: int) -> None:
        ema_update(self.target_encoder, self.encoder, momentum_at(step, total, self.momentum))
