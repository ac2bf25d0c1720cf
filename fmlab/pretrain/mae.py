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
    ``out_dim`` values per token: latent [B, 1+K, D] + keep [B, K] -> [B, N, out_dim] (N = C * P).
    Its own time positions (and channel embeddings, if the encoder has them) fit any shape the encoder does."""

    def __init__(self, encoder: Encoder, out_dim: int, dim: int | None = None, depth: int = 1, heads: int = 4):
        super().__init__()
        c = encoder.config
        dim = dim or max(32, c.dim // 2)
        if dim % heads:
            raise ValueError(f"decoder: dim {dim} must be divisible by heads {heads}")
        self.default_shape = (1 if c.channel_independent else c.channels, c.patches)  # (C, P) of a full-size input
        self.proj = nn.Linear(c.dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(c.patches, dim))
        self.channel = nn.Parameter(torch.zeros(c.channels, dim)) if c.channel_embed else None
        self.blocks = nn.ModuleList(Block(dim, heads, 4.0) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_dim)
        for p in (self.mask_token, self.pos, self.channel):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    def forward(self, latent: torch.Tensor, keep: torch.Tensor, channels: int | None = None,
                patches: int | None = None) -> torch.Tensor:
        """``channels`` x ``patches`` = N tokens to predict (default: the encoder config's full-size input)."""
        channels, patches = channels or self.default_shape[0], patches or self.default_shape[1]
        v = self.proj(latent[:, 1:])                                  # drop CLS: [B, K, dim]
        b, _, d = v.shape
        full = self.mask_token.to(v.dtype).expand(b, channels * patches, d).clone()   # bf16 under autocast
        full.scatter_(1, keep[..., None].expand(-1, -1, d), v)         # visible tokens back in place
        pos = self.pos[:patches].repeat(channels, 1)
        h = full + (pos if self.channel is None else pos + self.channel[:channels].repeat_interleave(patches, 0))
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
        make_mask(mask_kind, 1, 1 if c.channel_independent else c.channels, c.patches, mask_ratio)  # refuse now
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
        """(keep [B', K], masked [B', N]) for x [B, C, T]; B' = B * C for a channel-independent encoder,
        which masks each channel as its own series (encoder.fold)."""
        x = self.encoder.fold(x)
        return make_mask(self.mask_kind if kind is None else kind, len(x), x.shape[1],
                         self.encoder.num_patches(x.shape[-1]), self.mask_ratio if ratio is None else ratio,
                         generator=generator, device=x.device)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None, masked: torch.Tensor | None = None) -> dict:
        """x [B, C, T] -> {"loss", "pred" [B, N, L], "target" [B, N, L], "masked" [B, N], "keep" [B, K],
        "latent" [B, 1+K, D]}. Pass ``keep`` and ``masked`` (as ``mask`` makes them) to use a mask of your own.
        A channel-independent encoder works on the folded series: B * C rows, N = P tokens each."""
        self.encoder.check_input(x)
        if len(x) == 0:
            raise ValueError(f"MAE: expected a batch of at least one signal, got shape {tuple(x.shape)}")
        if keep is None:
            keep, masked = self.mask(x)
        x = self.encoder.fold(x)
        latent = self.encoder(x, keep=keep)
        pred = self.decoder(latent, keep, x.shape[1], self.encoder.num_patches(x.shape[-1]))
        target = self.targets(self.encoder.patches(x))
        return {"loss": masked_mse(pred.float(), target, masked), "pred": pred, "target": target,
                "masked": masked, "keep": keep, "latent": latent}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, **mask_args) -> dict:
        """For plots: {"input", "recon" [B, C, T] (hidden patches predicted, in signal units), "masked" [B, N],
        "error" [B, N] per-token squared error (in the encoder's normalised units)}, N = C * P."""
        keep, masked = self.mask(x, **mask_args)
        out = self(x, keep=keep, masked=masked)
        b, ch, t = x.shape
        patches = self.encoder.patches(x).reshape(b, -1, self.encoder.config.patch_size)   # [B, N, L]
        pred, masked = out["pred"].float().reshape(patches.shape), masked.reshape(b, -1)
        if self.norm_target:  # back to the normalised units with each patch's own statistics
            pred = pred * (patches.std(-1, keepdim=True) + 1e-6) + patches.mean(-1, keepdim=True)
        _, mean, std = self.encoder.normalize(x)
        hidden = unpatchify(masked[..., None].expand_as(pred), ch)[..., :t]       # [B, C, T] bool
        recon = torch.where(hidden, unpatchify(pred, ch)[..., :t] * std + mean, x)  # visible samples exactly
        return {"input": x, "recon": recon, "masked": masked, "error": ((pred - patches) ** 2).mean(-1)}
