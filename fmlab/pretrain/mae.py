"""MAE: hide most patch tokens, encode the visible ones, reconstruct the hidden patches' values.

    keep, masked = make_mask("random", B, C, P, ratio=0.75)     # [B, K], [B, N]
    latent = encoder(x, keep=keep)                               # visible tokens only: [B, 1+K, D]
    pred = decoder(latent, keep)                                 # every token: [B, N, L]
    loss = ((pred - patches) ** 2).mean(-1)[masked].mean()       # hidden tokens only
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..masking import make_mask, unpatchify
from ..models import Block, Encoder


class MaskedDecoder(nn.Module):
    """A light transformer that puts a learned mask token in every hidden slot and predicts
    ``out_dim`` values per token: latent [B, 1+K, D] + keep [B, K] -> [B, N, out_dim]."""

    def __init__(self, encoder: Encoder, out_dim: int, dim: int | None = None, depth: int = 1, heads: int = 4):
        super().__init__()
        c = encoder.config
        dim = dim or max(32, c.dim // 2)
        if dim % heads:
            raise ValueError(f"decoder: dim {dim} must be divisible by heads {heads}")
        self.num_tokens = c.num_tokens
        self.proj = nn.Linear(c.dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, c.num_tokens, dim))  # its own (channel, patch) positions
        self.blocks = nn.ModuleList(Block(dim, heads, 4.0) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_dim)
        for p in (self.mask_token, self.pos):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, latent: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        v = self.proj(latent[:, 1:])                                  # drop CLS: [B, K, dim]
        b, _, d = v.shape
        full = self.mask_token.expand(b, self.num_tokens, d).clone()
        full.scatter_(1, keep[..., None].expand(-1, -1, d), v)         # visible tokens back in place
        h = full + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))


def masked_mse(pred: torch.Tensor, target: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Mean squared error over hidden tokens only: pred, target [B, N, L], masked [B, N] bool."""
    per_token = ((pred - target) ** 2).mean(-1)
    return (per_token * masked).sum() / masked.sum()


class MAE(nn.Module):
    """Masked autoencoder on raw patch values.

    mask_kind:    "random" tokens, a "block" of time, or whole "channel"s (fmlab.masking)
    norm_target:  reconstruct each patch standardised by its own mean and std (MAE's variant)
    """

    def __init__(self, encoder: Encoder, mask_ratio: float = 0.75, mask_kind: str = "random",
                 decoder_dim: int | None = None, decoder_depth: int = 1, decoder_heads: int = 4,
                 norm_target: bool = False):
        super().__init__()
        c = encoder.config
        make_mask(mask_kind, 1, c.channels, c.patches, mask_ratio)  # refuse a bad ratio or kind now, not mid-run
        self.encoder, self.mask_ratio, self.mask_kind, self.norm_target = encoder, mask_ratio, mask_kind, norm_target
        self.decoder = MaskedDecoder(encoder, self.target_dim, decoder_dim, decoder_depth, decoder_heads)

    @property
    def target_dim(self) -> int:
        return self.encoder.config.patch_size

    def targets(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, N, L] patch values -> [B, N, L] what the decoder must predict."""
        if not self.norm_target:
            return patches
        mean, std = patches.mean(-1, keepdim=True), patches.std(-1, keepdim=True)
        return (patches - mean) / (std + 1e-6)

    def mask(self, x: torch.Tensor, ratio: float | None = None, kind: str | None = None,
             generator: torch.Generator | None = None):
        c = self.encoder.config
        return make_mask(kind or self.mask_kind, len(x), c.channels, c.patches, ratio or self.mask_ratio,
                         generator=generator, device=x.device)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None, masked: torch.Tensor | None = None) -> dict:
        """x [B, C, T] -> {"loss", "pred" [B, N, L], "target" [B, N, L], "masked" [B, N], "keep" [B, K],
        "latent" [B, 1+K, D]}. Pass ``keep`` and ``masked`` to use a mask of your own."""
        self.encoder.check_input(x)
        if keep is None:
            keep, masked = self.mask(x)
        latent = self.encoder(x, keep=keep)
        pred = self.decoder(latent, keep)
        target = self.targets(self.encoder.patches(x))
        return {"loss": masked_mse(pred.float(), target, masked), "pred": pred, "target": target,
                "masked": masked, "keep": keep, "latent": latent}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, **mask_args) -> dict:
        """For plots: {"input", "recon" [B, C, T] (hidden patches predicted, in signal units), "masked",
        "error" [B, N] per-token squared error}."""
        keep, masked = self.mask(x, **mask_args)
        out = self(x, keep=keep, masked=masked)
        patches = self.encoder.patches(x)
        pred = out["pred"].float()
        if self.norm_target:  # back to signal units with each patch's own statistics
            pred = pred * (patches.std(-1, keepdim=True) + 1e-6) + patches.mean(-1, keepdim=True)
        recon = torch.where(masked[..., None], pred, patches) * self.encoder.config.input_scale
        return {"input": x, "recon": unpatchify(recon, x.shape[1]), "masked": masked,
                "error": ((pred - patches) ** 2).mean(-1)}
