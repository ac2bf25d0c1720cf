"""Classifier: an encoder plus a linear head on its pooled features; the base of every strategy.

What every strategy shares lives here: the head, the trainable-parameter summary in PEFT's form,
the task delta (the tensors that make the adapted model differ from its base), a fingerprint of the
base encoder's weights, and the swap of an encoder's nn.Linear layers for LoRA or adapter layers.

A Classifier wraps the encoder it is given and trains it in place. The strategy functions
(``linear_probe``, ``full_finetune``, ``lora``, ``adapter``, ``prompt_tuning``) hand it a deep copy
instead, so one pretrained encoder can be adapted many times and is never changed.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Callable

import torch
import torch.nn as nn

from ..models import Encoder


def fingerprint(state: dict[str, torch.Tensor]) -> str:
    """sha256 over a state_dict's names, dtypes, shapes and bytes, in key order: equal for equal weights."""
    h = hashlib.sha256()
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class Classifier(nn.Module):
    """x [B, C, T] -> logits [B, num_classes]. Every encoder weight trains unless a strategy freezes it.

    The head standardises the pooled features (BatchNorm without learned scale or shift, as MAE's
    linear probe) before its linear layer: pretrained features come in scales of their own, and plain
    gradient steps on raw features converge much more slowly than logistic regression on standardised
    ones. It adds no trainable parameters: D * num_classes + num_classes.

    Strategies subclass it and set ``strategy`` (their name), ``arguments`` (what rebuilds them, saved
    with the task delta) and ``frozen_encoder`` (the base weights do not train, and the encoder stays
    in eval mode even when the classifier is put in train mode).
    """
    strategy = "classifier"
    frozen_encoder = False
    default_lr = 1e-3  # what compare() trains it with unless told otherwise

    def __init__(self, encoder: Encoder, num_classes: int, classes: list[str] | None = None):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"{type(self).__name__}: expected num_classes >= 2 (an int), got {num_classes!r}")
        if classes is not None and len(classes) != num_classes:
            raise ValueError(f"{type(self).__name__}: {len(classes)} class names {list(classes)} for "
                             f"num_classes={num_classes}; pass num_classes=len(classes)")
        self.encoder, self.num_classes = encoder, num_classes
        self.classes = list(classes) if classes is not None else None
        self.arguments: dict = {}
        base = encoder.state_dict()
        self.base_keys = tuple(base)  # the encoder's own weights, before any strategy adds to it
        self.base_fingerprint = fingerprint(base)
        encoder.requires_grad_(not self.frozen_encoder)
        self.head = nn.Sequential(OrderedDict(
            norm=nn.BatchNorm1d(encoder.dim, affine=False),
            linear=nn.Linear(encoder.dim, num_classes))).to(encoder.cls_token.device)

    @property
    def config(self):
        """The encoder's config (with ``embed``, a classifier passes for an encoder in fmlab.evaluate)."""
        return self.encoder.config

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features [B, D] of the adapted encoder (``lengths`` [B] for series padded at the end)."""
        return self.encoder.embed(x, lengths=lengths)

    # fit() passes data.meta["length"] as meta when the data has it (series of several lengths, padded at the
    # end), so padding stays out of attention, pooling and the normalisation statistics in training too.
    takes_meta = ("length",)

    def forward(self, x: torch.Tensor, meta: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """x [B, C, T] -> logits [B, num_classes]; ``meta["length"]`` [B] for series padded at the end."""
        return self.head(self.embed(x, lengths=None if meta is None else meta.get("length")))

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if self.frozen_encoder:  # no dropout noise in features the strategy does not train
            self.encoder.eval()
        return self

    # -- what trains, and what is saved ------------------------------------------------------------
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def summary(self) -> str:
        """PEFT's form: "trainable params: X || all params: Y || trainable%: Z"."""
        total = sum(p.numel() for p in self.parameters())
        t = self.trainable_parameters()
        return f"trainable params: {t:,} || all params: {total:,} || trainable%: {100 * t / total:.4f}"

    def delta_state(self) -> dict[str, torch.Tensor]:
        """The task delta: the state_dict less the frozen weights (so head, its feature statistics, LoRA,
        adapters, prompts; everything when the encoder trains too). With the base it rebuilds the model."""
        frozen = {name for name, p in self.named_parameters() if not p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k not in frozen}

    def base_unchanged(self) -> bool:
        """Whether the encoder's own weights are still those it came with (bit for bit)."""
        state = self.encoder.state_dict()
        return fingerprint({k: state[k] for k in self.base_keys}) == self.base_fingerprint

    # -- using it ----------------------------------------------------------------------------------
    def check_data(self, data) -> None:
        """Refuse a SignalDataset whose labels the head cannot output (fit() calls this)."""
        top = int(data.y.max()) if len(data) else -1
        if top >= self.num_classes:
            raise ValueError(f"{type(self).__name__}: the data's labels go up to {top} ({data.num_classes} classes "
                             f"{data.classes}) but the head has {self.num_classes} outputs; build it with "
                             f"num_classes={data.num_classes}")

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Class indices [N] for x [N, C, T] (``lengths`` [N] for series padded at the end), in batches, in
        eval mode."""
        was_training = self.training
        self.eval()
        dev = self.head.linear.weight.device
        meta = lambda i: None if lengths is None else {"length": lengths[i:i + batch_size].to(dev)}
        out = torch.cat([self(x[i:i + batch_size].to(dev), meta(i)).argmax(-1).cpu()
                         for i in range(0, len(x), batch_size)])
        self.train(was_training)
        return out

    def accuracy(self, data) -> float:
        """Share of ``data`` (a SignalDataset) classified correctly."""
        self.check_data(data)
        return (self.predict(data.x, lengths=data.meta.get("length")) == data.y.cpu()).float().mean().item()


def swap_linears(encoder: Encoder, paths: list[str], make: Callable[[nn.Linear], nn.Module]) -> None:
    """Replace each nn.Linear at ``paths`` (e.g. "blocks.0.attn.q") by ``make(linear)``, in place."""
    for path in paths:
        parent_path, _, name = path.rpartition(".")
        parent = encoder.get_submodule(parent_path)
        setattr(parent, name, make(getattr(parent, name)))
