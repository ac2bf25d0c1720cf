"""Linear probe: the encoder frozen and in eval mode, only a linear head on its pooled features trains."""
from __future__ import annotations

import copy

from ..models import Encoder
from .base import Classifier


class LinearProbe(Classifier):
    """Head only: D * num_classes + num_classes trainable parameters. Wraps ``encoder`` as it is."""
    strategy = "linear_probe"
    frozen_encoder = True
    default_lr = 3e-2  # one linear layer on fixed, standardised features: a large step is safe


def linear_probe(encoder: Encoder, num_classes: int, classes: list[str] | None = None) -> LinearProbe:
    """A linear probe on a copy of ``encoder`` (the encoder you pass is never changed)."""
    return LinearProbe(copy.deepcopy(encoder), num_classes, classes)
