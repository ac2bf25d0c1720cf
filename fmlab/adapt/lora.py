"""LoRA: a frozen encoder whose chosen linear layers each learn a low-rank update (Hu et al., 2021).

    W x + b  ->  W x + b + (alpha / r) B A x        A [r, in] random, B [out, r] zero

B starts at zero, so before training the model is exactly the base encoder plus a head. After
training, merge() folds B A into W (no extra cost at inference) and unmerge() takes it out again.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import Encoder
from .base import Classifier, swap_linears

TARGETS = ("q", "k", "v", "out", "mlp")  # attention projections, and "mlp" for both MLP layers


class LoRALinear(nn.Module):
    """An nn.Linear's weight [out, in] and bias, frozen, plus a trainable rank-r update B A.

    The wrapped layer's tensors keep their names (``weight``, ``bias``), so the encoder's state_dict
    keys for its base weights, and so its fingerprint, stay what they were.
    """

    def __init__(self, linear: nn.Linear, rank: int, alpha: float):
        super().__init__()
        out_f, in_f = linear.weight.shape
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(in_f, out_f):
            raise ValueError(f"LoRA: expected an integer rank in [1, {min(in_f, out_f)}] for a layer of "
                             f"{in_f} -> {out_f} features (at most the smaller side, or it is not low-rank), "
                             f"got {rank!r}; try rank=4 or 8")
        self.weight, self.bias = linear.weight, linear.bias
        self.rank, self.alpha, self.scale, self.merged = rank, alpha, alpha / rank, False
        self.lora_A = nn.Parameter(torch.empty(rank, in_f, device=linear.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear (and PEFT)
        self.lora_B = nn.Parameter(torch.zeros(out_f, rank, device=linear.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., in] -> [..., out]."""
        y = F.linear(x, self.weight, self.bias)
        return y if self.merged else y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the weight: W <- W + (alpha / r) B A."""
        if not self.merged:
            self.weight += self.scale * self.lora_B @ self.lora_A
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the weight again (equal to the base up to rounding, ~1e-7)."""
        if self.merged:
            self.weight -= self.scale * self.lora_B @ self.lora_A
            self.merged = False

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, rank={self.rank}, alpha={self.alpha}, merged={self.merged}"


def lora_paths(encoder: Encoder, targets) -> list[str]:
    """The encoder's nn.Linear layers that ``targets`` names, e.g. ("q", "v") -> blocks.i.attn.q / .v."""
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ValueError(f"LoRA: unknown targets {unknown or targets}; choose from {TARGETS} "
                         f"(e.g. ('q', 'v'), ('q', 'k', 'v', 'out') or ('q', 'v', 'mlp'))")
    paths = []
    for i in range(len(encoder.blocks)):
        for t in targets:
            paths += [f"blocks.{i}.mlp.fc1", f"blocks.{i}.mlp.fc2"] if t == "mlp" else [f"blocks.{i}.attn.{t}"]
    return paths


class LoRA(Classifier):
    """The encoder frozen; LoRA on ``targets`` in every block, and the head, train.
    Trainable: for each targeted layer r * (in + out), plus the head. Wraps ``encoder`` as it is."""
    strategy = "lora"
    frozen_encoder = True
    default_lr = 1e-2

    def __init__(self, encoder: Encoder, num_classes: int, classes: list[str] | None = None,
                 rank: int = 4, alpha: float = 8.0, targets=("q", "v")):
        paths = lora_paths(encoder, targets)
        super().__init__(encoder, num_classes, classes)
        swap_linears(encoder, paths, lambda linear: LoRALinear(linear, rank, alpha))
        self.arguments = dict(rank=rank, alpha=alpha, targets=[targets] if isinstance(targets, str) else list(targets))

    def lora_layers(self) -> list[LoRALinear]:
        return [m for m in self.modules() if isinstance(m, LoRALinear)]

    def merge(self) -> "LoRA":
        """Fold every update into its base weight, for inference at the base encoder's cost (eval mode)."""
        for m in self.lora_layers():
            m.merge()
        return self.eval()

    def unmerge(self) -> "LoRA":
        for m in self.lora_layers():
            m.unmerge()
        return self

    def train(self, mode: bool = True) -> "LoRA":
        if mode and any(m.merged for m in self.lora_layers()):
            raise ValueError("LoRA: the updates are merged into the base weights, so training would not reach "
                             "them; call unmerge() before training")
        return super().train(mode)


def lora(encoder: Encoder, num_classes: int, rank: int = 4, alpha: float = 8.0, targets=("q", "v"),
         classes: list[str] | None = None) -> LoRA:
    """LoRA of rank ``rank`` (scale alpha / rank) on a copy of ``encoder`` (yours is never changed).
    targets: any of "q", "k", "v", "out" (attention projections) and "mlp" (both MLP layers)."""
    return LoRA(copy.deepcopy(encoder), num_classes, classes, rank, alpha, targets)
