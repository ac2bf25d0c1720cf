"""Prompt tuning (VPT, Jia et al., 2022): learned tokens enter a frozen encoder beside the signal's own.

shallow: M prompt tokens [M, D] placed after CLS at the input, seen by every block through attention.
deep:    fresh prompts [M, D] for every block (VPT-deep), replacing the previous block's prompt outputs.
Prompt outputs are dropped before pooling; only the prompts and the head train.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..models import Encoder
from .base import Classifier


class PromptTuning(Classifier):
    """Trainable: M * D prompts (depth * M * D when deep), plus the head. Wraps ``encoder`` as it is."""
    strategy = "prompt_tuning"
    frozen_encoder = True
    default_lr = 3e-2  # prompts start near zero and must grow to matter

    def __init__(self, encoder: Encoder, num_classes: int, classes: list[str] | None = None,
                 num_prompts: int = 8, deep: bool = False):
        if isinstance(num_prompts, bool) or not isinstance(num_prompts, int) or num_prompts < 1:
            raise ValueError(f"prompt_tuning: expected num_prompts >= 1 (an int), got {num_prompts!r}; "
                             f"without prompts nothing but the head would train (that is linear_probe)")
        super().__init__(encoder, num_classes, classes)
        c = encoder.config
        shape = (c.depth, num_prompts, c.dim) if deep else (num_prompts, c.dim)
        self.prompts = nn.Parameter(torch.empty(shape, device=encoder.cls_token.device))
        nn.init.trunc_normal_(self.prompts, std=0.02)  # as the encoder's own learned tokens
        self.deep = deep
        self.arguments = dict(num_prompts=num_prompts, deep=deep)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features [B, D] of the encoder with the prompts in."""
        return self.encoder.embed(x, lengths=lengths, prompts=list(self.prompts) if self.deep else self.prompts)


def prompt_tuning(encoder: Encoder, num_classes: int, num_prompts: int = 8, deep: bool = False,
                  classes: list[str] | None = None) -> PromptTuning:
    """Prompt tuning with ``num_prompts`` tokens (at every block if ``deep``) on a copy of ``encoder``
    (yours is never changed)."""
    return PromptTuning(copy.deepcopy(encoder), num_classes, classes, num_prompts, deep)
