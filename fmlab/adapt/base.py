"""Classifier: an encoder plus a linear head on its pooled features; the base of every strategy."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..models import Encoder


class Classifier(nn.Module):
    """x [B, C, T] -> logits [B, num_classes]. Every encoder weight trains unless a strategy freezes it."""

    def __init__(self, encoder: Encoder, num_classes: int):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"Classifier: expected num_classes >= 2, got {num_classes}")
        self.encoder, self.num_classes = encoder, num_classes
        self.head = nn.Linear(encoder.dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.embed(x))

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def summary(self) -> str:
        """PEFT's form: "trainable params: X || all params: Y || trainable%: Z"."""
        total = sum(p.numel() for p in self.parameters())
        t = self.trainable_parameters()
        return f"trainable params: {t:,} || all params: {total:,} || trainable%: {100 * t / total:.4f}"

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Class indices [N] for x [N, C, T], in batches, in eval mode."""
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        out = torch.cat([self(x[i:i + batch_size].to(dev)).argmax(-1).cpu() for i in range(0, len(x), batch_size)])
        self.train(was_training)
        return out

    def accuracy(self, data) -> float:
        """Share of ``data`` (a SignalDataset) classified correctly."""
        return (self.predict(data.x) == data.y.cpu()).float().mean().item()
