"""The transformer's building blocks: attention, MLP and the pre-norm block that the encoder (fmlab.models)
and the MAE decoder stack.

Attention uses explicit q, k, v, out ``nn.Linear`` layers, so LoRA and friends can target them.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """[B, S, D] -> [B, S, D]; mask [B, 1, 1, S] bool, True where a token may be attended to."""
        b, s, d = h.shape
        split = lambda t: t.view(b, s, self.heads, d // self.heads).transpose(1, 2)  # [B, H, S, D/H]
        a = F.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)), attn_mask=mask,
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

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = h + self.attn(self.norm1(h), mask)
        return h + self.mlp(self.norm2(h))
