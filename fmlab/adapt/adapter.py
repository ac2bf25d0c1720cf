"""Bottleneck adapters (Houlsby et al., 2019), LoRA's sibling: small MLPs inserted in a frozen encoder.

In each block, after the attention's output projection and after the MLP's second layer:

    z -> z + up(gelu(down(z)))        down D -> b, up b -> D, up initialised to zero

so before training each adapter is the identity and the model is exactly the base encoder plus a head.
Unlike LoRA an adapter cannot be merged away: it costs a little extra compute at inference.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import Encoder
from .base import Classifier, swap_linears

SITES = {"attn": "attn.out", "mlp": "mlp.fc2"}  # where an adapter goes: after these layers of a block


class AdapterLinear(nn.Module):
    """An nn.Linear (frozen, its ``weight`` and ``bias`` under their own names) followed by a bottleneck
    adapter with a skip connection: [..., in] -> [..., out]."""

    def __init__(self, linear: nn.Linear, bottleneck: int):
        super().__init__()
        out_f = linear.weight.shape[0]
        if isinstance(bottleneck, bool) or not isinstance(bottleneck, int) or not 1 <= bottleneck <= out_f:
            raise ValueError(f"adapter: expected an integer bottleneck in [1, {out_f}] (at most the layer's "
                             f"width {out_f}, or it is no bottleneck), got {bottleneck!r}; try bottleneck=16")
        self.weight, self.bias = linear.weight, linear.bias
        dev = linear.weight.device
        self.down, self.up = nn.Linear(out_f, bottleneck, device=dev), nn.Linear(bottleneck, out_f, device=dev)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.linear(x, self.weight, self.bias)
        return z + self.up(F.gelu(self.down(z)))


class Adapter(Classifier):
    """The encoder frozen; a bottleneck adapter at each of ``where`` in every block, and the head, train.
    Trainable: per adapter 2 * D * b + b + D, plus the head. Wraps ``encoder`` as it is."""
    strategy = "adapter"
    frozen_encoder = True
    default_lr = 1e-2

    def __init__(self, encoder: Encoder, num_classes: int, classes: list[str] | None = None,
                 bottleneck: int = 16, where=("attn", "mlp")):
        where = (where,) if isinstance(where, str) else tuple(where)
        if not where or any(w not in SITES for w in where):
            raise ValueError(f"adapter: expected where to be some of {tuple(SITES)}, got {where}")
        super().__init__(encoder, num_classes, classes)
        paths = [f"blocks.{i}.{SITES[w]}" for i in range(len(encoder.blocks)) for w in where]
        swap_linears(encoder, paths, lambda linear: AdapterLinear(linear, bottleneck))
        self.arguments = dict(bottleneck=bottleneck, where=list(where))


def adapter(encoder: Encoder, num_classes: int, bottleneck: int = 16, where=("attn", "mlp"),
            classes: list[str] | None = None) -> Adapter:
    """Houlsby adapters of width ``bottleneck`` on a copy of ``encoder`` (yours is never changed)."""
    return Adapter(copy.deepcopy(encoder), num_classes, classes, bottleneck, where)
