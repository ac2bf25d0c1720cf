"""FreshSeries: the pile's generated families streamed, a new draw every step, so a long run sees millions of
series that cost neither disk nor memory.

    obj = FreshSeries(RandomLength(MAE(encoder)))   # fmlab pretrain --data pile --stream
    out = obj(x, meta={"source": source})          # x [B, 1, T]: each generated row replaced by a new series

The pile (fmlab.data.pile.build_pile) keeps its generated series as slots: they fix the mixture (how many rows of
a batch are "gp", "ar", ...). In training, FreshSeries swaps every such row for a fresh series of the same family,
drawn with a seed taken from torch's generator, which fit() seeds from the step alone: a resumed run draws the
same series as the uninterrupted one. The real series (eeg, mnist1d, train splits) pass as they are. In eval mode
nothing is replaced.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..data.synthetic import FAMILIES, generate


class FreshSeries(nn.Module):
    """Wrap a pile objective: rows whose meta["source"] is a generated family (the pile's first sources, in
    FAMILIES order) become new draws of that family at the batch's length before the objective sees them."""

    takes_meta = ("source",)

    def __init__(self, objective: nn.Module, families=tuple(FAMILIES)):
        super().__init__()
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            raise ValueError(f"FreshSeries: unknown families {unknown}; expected names from {', '.join(FAMILIES)} "
                             f"in the order of the pile's sources")
        self.objective, self.families = objective, tuple(families)
        self.needs_meta = getattr(objective, "needs_meta", ())

    @property
    def encoder(self):
        return self.objective.encoder

    def forward(self, x: torch.Tensor, meta: dict[str, torch.Tensor] | None = None) -> dict:
        if self.training and meta is not None and "source" in meta:
            x = x.clone()
            for i, family in enumerate(self.families):
                rows = (meta["source"] == i).nonzero().flatten()
                if len(rows):
                    seed = int(torch.randint(0, 2**31 - 1, ()))  # from fit()'s per-step seed: exact resume
                    x[rows] = generate(family, len(rows), x.shape[-1], seed).to(x.device, x.dtype).expand(
                        -1, x.shape[1], -1)
        inner = {k: v for k, v in (meta or {}).items() if k in self.needs_meta}
        return self.objective(x, meta=inner) if inner else self.objective(x)

    def after_step(self, step: int, total: int) -> None:
        if hasattr(self.objective, "after_step"):
            self.objective.after_step(step, total)
