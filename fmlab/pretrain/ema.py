"""The exponential moving average that makes a target encoder (JEPA, BYOL):
    target <- m * target + (1 - m) * online,   m rising from m0 (0.996) to 1 along a cosine.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn


def momentum_at(step: int, total: int, start: float = 0.996, end: float = 1.0) -> float:
    """Cosine schedule from ``start`` at step 0 to ``end`` at ``total``."""
    return end - (end - start) * (math.cos(math.pi * min(step, total) / max(1, total)) + 1) / 2


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy that gets no gradients: it only moves by ema_update."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)
