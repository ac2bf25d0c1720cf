"""Full fine-tuning: every weight trains, the encoder at a lower learning rate than the new head.

The head starts random, the encoder does not: a smaller step for the encoder keeps the head's first,
noisy gradients from wrecking pretrained features. Optional layer-wise decay (as in BEiT / MAE
fine-tuning) lowers it further for blocks nearer the input, which hold the most general features.
"""
from __future__ import annotations

import copy

from ..models import Encoder
from .base import Classifier


class FullFinetune(Classifier):
    """Every weight trains. Learning rates: head ``lr``; encoder ``lr * encoder_lr_scale``, times
    ``layer_decay ** k`` for a layer k steps below the final norm (embeddings are the lowest layer)."""
    strategy = "full_finetune"
    default_lr = 1e-2  # the head's; the encoder gets a tenth

    def __init__(self, encoder: Encoder, num_classes: int, classes: list[str] | None = None,
                 encoder_lr_scale: float = 0.1, layer_decay: float | None = None):
        super().__init__(encoder, num_classes, classes)
        if not encoder_lr_scale > 0:
            raise ValueError(f"FullFinetune: expected encoder_lr_scale > 0, got {encoder_lr_scale}")
        if layer_decay is not None and not 0 < layer_decay <= 1:
            raise ValueError(f"FullFinetune: expected layer_decay in (0, 1] (e.g. 0.75) or None, got {layer_decay}")
        self.encoder_lr_scale, self.layer_decay = encoder_lr_scale, layer_decay
        self.arguments = dict(encoder_lr_scale=encoder_lr_scale, layer_decay=layer_decay)

    def layer(self, name: str) -> int:
        """Depth of an encoder parameter: 0 embeddings, 1 + i block i, depth + 1 the final norm."""
        if name.startswith("blocks."):
            return 1 + int(name.split(".")[1])
        return self.encoder.config.depth + 1 if name.startswith("norm.") else 0

    def param_groups(self, lr: float) -> list[dict]:
        """For fit(): one group for the head, one per encoder layer (one in all without layer decay)."""
        top, decay = self.encoder.config.depth + 1, self.layer_decay or 1.0
        by_layer: dict[int, list] = {}
        for name, p in self.encoder.named_parameters():
            by_layer.setdefault(self.layer(name) if self.layer_decay else top, []).append(p)
        groups = [{"params": ps, "lr": lr * self.encoder_lr_scale * decay ** (top - k)} for k, ps in by_layer.items()]
        return groups + [{"params": list(self.head.parameters()), "lr": lr}]


def full_finetune(encoder: Encoder, num_classes: int, encoder_lr_scale: float = 0.1, layer_decay: float | None = None,
                  classes: list[str] | None = None) -> FullFinetune:
    """Full fine-tuning of a copy of ``encoder`` (the encoder you pass is never changed)."""
    return FullFinetune(copy.deepcopy(encoder), num_classes, classes, encoder_lr_scale, layer_decay)
