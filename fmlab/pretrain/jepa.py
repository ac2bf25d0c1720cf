"""JEPA: predict the *latents* of hidden tokens, not their values.

    keep, masked = make_mask("block", ...)                       # context = visible, target = hidden block
    ctx = encoder(x, keep=keep)                                  # the online (context) encoder
    with torch.no_grad():
        tgt = layer_norm(target_encoder(x)[:, 1:])               # EMA copy, sees everything, no gradients
    pred = predictor(ctx, keep)                                  # narrow transformer + mask tokens at targets
    loss = smooth_l1(pred[masked], tgt[masked])
    after each step: target <- m * target + (1 - m) * encoder    # m: 0.996 -> 1
Collapse shows as embeddings that stop varying: the output logs their std and effective rank.

fmlab's defaults differ from that sketch (I-JEPA's recipe, kept as target="last", variance_floor=0, mask_ratio=0.5)
in three ways, each needed at cpu size: the target is the mean of every block's tokens, each standardised per
feature (target="blocks", data2vec's); a hinge keeps every feature of the context tokens at a std of at least 1
(variance_floor, VICReg's, as C-JEPA adds it); and the block hides 0.75 of the time. With them (and lr 3e-3, the
recipes' LR_SCALE) the probe rises above random init on the cpu eeg corpus, where I-JEPA's recipe falls below it
(BENCHMARKS.md, "JEPA at cpu size").
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


def standardise(t: torch.Tensor) -> torch.Tensor:
    """[B, N, D] -> each feature at mean 0 and std 1 over the batch and its tokens."""
    return (t - t.mean((0, 1))) / (t.std((0, 1)) + 1e-6)


class JEPA(nn.Module):
    """mask_kind/mask_ratio choose the target tokens ("block": a span of time in every channel); target: "last" (the
    last block's tokens, layer-normed: I-JEPA's) or "blocks"; variance_floor: the weight of the variance hinge."""

    def __init__(self, encoder: Encoder, mask_ratio: float = 0.75, mask_kind: str = "block",
                 predictor_dim: int | None = None, predictor_depth: int = 2, momentum: float = 0.996,
                 target: str = "blocks", variance_floor: float = 1.0):
        super().__init__()
        c = encoder.config
        make_mask(mask_kind, 1, 1 if c.channel_independent else c.channels, c.patches, mask_ratio)  # refuse now
        if not 0 < momentum <= 1:
            raise ValueError(f"JEPA: momentum must be in (0, 1], got {momentum}")
        if target not in ("last", "blocks"):
            raise ValueError(f"JEPA: target must be 'last' (the last block, layer-normed) or 'blocks' (the mean of "
                             f"every block, standardised), got {target!r}")
        if isinstance(variance_floor, bool) or not isinstance(variance_floor, (int, float)) or not variance_floor >= 0:
            raise ValueError(f"JEPA: variance_floor is a loss weight >= 0 (0: off), got {variance_floor!r}")
        self.encoder, self.mask_ratio, self.mask_kind, self.momentum = encoder, mask_ratio, mask_kind, momentum
        self.target, self.variance_floor = target, float(variance_floor)
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
            target = self.targets(x)
        pred = self.predictor(ctx, keep, ch, p)
        loss = F.smooth_l1_loss(pred.float()[masked], target[masked])
        if self.variance_floor:  # every feature of the context tokens keeps a std of at least 1 over the batch
            loss = loss + self.variance_floor * F.relu(1 - ctx[:, 1:].float().flatten(0, 1).std(0)).mean()
        emb = self.encoder.pool(ctx).detach().float()
        logs = {"emb_std": float(F.normalize(emb, dim=-1).std(0).mean()), "eff_rank": effective_rank(emb)}
        return {"loss": loss, "pred": pred, "target": target, "masked": masked, "embeddings": emb, "logs": logs}

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """The target encoder's tokens of the whole (folded) x: [B, N, D]."""
        if self.target == "last":
            tokens = self.target_encoder(x)[:, 1:].float()
            return F.layer_norm(tokens, tokens.shape[-1:])
        outs = []  # every block's output tokens, CLS left out
        keep = lambda module, args, out: outs.append(out[:, 1:].float())  # noqa: E731
        hooks = [b.register_forward_hook(keep) for b in self.target_encoder.blocks]
        try:
            self.target_encoder(x)
        finally:
            for h in hooks:
                h.remove()
        return standardise(sum(standardise(o) for o in outs) / len(outs))

    def after_step(self, step: int, total: int) -> None:
        ema_update(self.target_encoder, self.encoder, momentum_at(step, total, self.momentum))
