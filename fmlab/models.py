"""The one encoder: a pre-norm transformer over (channel, patch) tokens.

x [B, C, T] -> patches [B, C*P, L] -> linear patch embedding + channel embedding + time-position
embedding -> (keep only visible tokens) -> [CLS | prompts | tokens] -> blocks -> LayerNorm.
Attention uses explicit q, k, v, out ``nn.Linear`` layers, so LoRA and friends can target them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data.core import check_signal
from .masking import patchify

# width, depth, heads: about 0.1 M / 1 M / 10 M / 40 M parameters
PRESETS = {
    "tiny": dict(dim=64, depth=2, heads=4),
    "small": dict(dim=128, depth=5, heads=4),
    "medium": dict(dim=384, depth=6, heads=6),
    "base": dict(dim=512, depth=12, heads=8),
}


def default_patch_size(length: int) -> int:
    """The largest of 64, 32, ..., 1 that divides ``length`` into at least 8 patches."""
    for p in (64, 32, 16, 8, 4, 2, 1):
        if length % p == 0 and length // p >= 8:
            return p
    return 1


@dataclass(frozen=True)
class EncoderConfig:
    channels: int
    length: int
    patch_size: int = 16
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    pool: str = "mean"        # embed(): "mean" of patch tokens or the "cls" token
    input_scale: float = 1.0  # inputs are divided by this (e.g. the training data's std), stored with the weights

    def __post_init__(self):
        for name in ("channels", "length", "patch_size", "dim", "depth", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"EncoderConfig.{name}: expected a positive integer, got {getattr(self, name)}")
        if self.length % self.patch_size:
            raise ValueError(f"EncoderConfig: length {self.length} does not cut into patches of "
                             f"{self.patch_size}; use patch_size={default_patch_size(self.length)} or "
                             f"bring the data to a multiple of {self.patch_size} "
                             f"(e.g. load('ucr:...', multiple={self.patch_size}))")
        if self.dim % self.heads:
            raise ValueError(f"EncoderConfig: dim {self.dim} must be divisible by heads {self.heads}")
        if not self.input_scale > 0:
            raise ValueError(f"EncoderConfig.input_scale: expected > 0, got {self.input_scale}")
        if self.pool not in ("mean", "cls"):
            raise ValueError(f"EncoderConfig.pool: expected 'mean' or 'cls', got {self.pool!r}")

    @property
    def patches(self) -> int:
        return self.length // self.patch_size

    @property
    def num_tokens(self) -> int:
        return self.channels * self.patches

    @classmethod
    def preset(cls, name: str, channels: int, length: int, patch_size: int | None = None, **overrides):
        """A named size ("tiny" | "small" | "medium" | "base") for data of ``channels`` x ``length``."""
        if name not in PRESETS:
            raise ValueError(f"EncoderConfig.preset: unknown size {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(channels=channels, length=length, patch_size=patch_size or default_patch_size(length),
                   **{**PRESETS[name], **overrides})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """[B, S, D] -> [B, S, D]."""
        b, s, d = h.shape
        split = lambda t: t.view(b, s, self.heads, d // self.heads).transpose(1, 2)  # [B, H, S, D/H]
        a = F.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)),
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(a.transpose(1, 2).reshape(b, s, d))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1, self.fc2, self.drop = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(F.gelu(self.fc1(h))))


class Block(nn.Module):
    """Pre-norm: h + attn(norm(h)), then h + mlp(norm(h))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class Encoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = c = config
        self.patch_embed = nn.Linear(c.patch_size, c.dim)
        self.channel_embed = nn.Parameter(torch.zeros(c.channels, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(c.patches, c.dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.apply(self._init)
        for p in (self.channel_embed, self.pos_embed, self.cls_token):
            nn.init.trunc_normal_(p, std=0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    @property
    def dim(self) -> int:
        return self.config.dim

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def check_input(self, x: torch.Tensor) -> None:
        check_signal(x)
        c = self.config
        if tuple(x.shape[1:]) != (c.channels, c.length):
            raise ValueError(f"Encoder: expected input [B, {c.channels}, {c.length}] (channels, length of its "
                             f"config), got {tuple(x.shape)}; build the encoder with EncoderConfig.preset(..., "
                             f"channels={x.shape[1]}, length={x.shape[2]}) for this data")

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, N, D] patch tokens with channel and time embeddings (N = C * P)."""
        c = self.config
        pos = (self.channel_embed[:, None, :] + self.pos_embed[None, :, :]).reshape(c.num_tokens, c.dim)
        return self.patch_embed(self.patches(x)) + pos

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, N, L] patches of the scaled input (what tokens, and MAE targets, are made of)."""
        return patchify(x / self.config.input_scale, self.config.patch_size)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None,
                prompts: torch.Tensor | list[torch.Tensor] | None = None) -> torch.Tensor:
        """x [B, C, T] -> tokens [B, 1 + K, D]: CLS then the K visible tokens (K = N without ``keep``).

        keep:    [B, K] indices of visible tokens (from fmlab.masking); the rest never enter.
        prompts: [M, D] or [B, M, D] extra tokens placed after CLS (shallow prompt tuning), or a list
                 with one such tensor per block that replaces the prompt slots before each block
                 (deep, as VPT-deep). Prompt outputs are dropped, so the shape stays [B, 1 + K, D].
        """
        self.check_input(x)
        h = self.tokenize(x)
        if keep is not None:
            h = torch.gather(h, 1, keep[..., None].expand(-1, -1, h.shape[-1]))
        b = h.shape[0]
        per_block = isinstance(prompts, (list, tuple))
        if per_block and len(prompts) != len(self.blocks):
            raise ValueError(f"Encoder: deep prompts need one tensor per block ({len(self.blocks)}), got {len(prompts)}")
        m = 0 if prompts is None else (prompts[0] if per_block else prompts).shape[-2]
        as_batch = lambda p: p.expand(b, -1, -1) if p.dim() == 3 else p[None].expand(b, -1, -1)
        h = torch.cat([self.cls_token.expand(b, -1, -1), h], dim=1)
        if m and not per_block:
            h = torch.cat([h[:, :1], as_batch(prompts), h[:, 1:]], dim=1)
        for i, block in enumerate(self.blocks):
            if per_block:  # VPT-deep: fresh learned prompts enter before every block
                h = torch.cat([h[:, :1], as_batch(prompts[i]), h[:, 1 + (m if i else 0):]], dim=1)
            h = block(h)
        h = self.norm(h)
        return torch.cat([h[:, :1], h[:, 1 + m:]], dim=1) if m else h

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, 1 + K, D] -> [B, D] by the config's pooling."""
        return tokens[:, 0] if self.config.pool == "cls" else tokens[:, 1:].mean(dim=1)

    def embed(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Pooled features [B, D] (keyword arguments go to forward)."""
        return self.pool(self(x, **kwargs))
