"""Contrastive learning: two augmented views of one signal should map to nearby embeddings.

SimCLR (NT-Xent): each view must pick its partner out of the 2B - 1 others in the batch.
    z = normalize(projector(encoder.embed(view)))                 # [2B, d]
    logits = z @ z.T / temperature, self-similarity removed
    loss = cross_entropy(logits, index of the partner)
BYOL (the momentum variant): a predictor on the online branch regresses the projection of the other
view made by an EMA copy of encoder + projector; no negatives, the EMA keeps it from collapsing.
negatives="subject" (subject-aware, after Cheng et al. 2020): a view's negatives are only the other
windows of the *same* subject in the batch, so telling people apart no longer helps to find the partner.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.augment import AUGMENTS, default_augment, shape_augment, weak_augment  # noqa: F401 (the views)
from ..models import Encoder
from .ema import ema_update, frozen_copy, momentum_at


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1,
            groups: torch.Tensor | None = None) -> torch.Tensor:
    """NT-Xent over views z1, z2 [B, d] (the i-th rows are a positive pair). ``groups`` [B]: if given, a
    view competes only with the views of samples in its own group (e.g. the same subject)."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=-1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    if groups is not None:
        g = torch.cat([groups, groups])
        logits = logits.masked_fill(g[:, None] != g[None, :], float("-inf"))
    b = len(z1)
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, partner)


def projection_head(dim: int, hidden: int, out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


class Contrastive(nn.Module):
    """method: "simclr" (NT-Xent with in-batch negatives) or "byol" (EMA target, no negatives).
    augment: a callable [B, C, T] -> [B, C, T], or by name "default" (default_augment(fs)) or "weak"
    (weak_augment()); a name keeps a run's settings, and so its cache key, simple.
    negatives (simclr): "batch", every other view in the batch; or "subject", only views of the same
    subject (fit() then hands forward each sample's data.meta["subject"])."""

    def __init__(self, encoder: Encoder, augment=None, method: str = "simclr", temperature: float = 0.1,
                 proj_dim: int = 64, fs: float = 1.0, momentum: float = 0.996, negatives: str = "batch"):
        super().__init__()
        if method not in ("simclr", "byol"):
            raise ValueError(f"Contrastive: method must be 'simclr' or 'byol', got {method!r}")
        if negatives not in ("batch", "subject") or (negatives == "subject" and method != "simclr"):
            raise ValueError(f"Contrastive: negatives must be 'batch' or 'subject' (the latter with method='simclr', "
                             f"BYOL has no negatives), got negatives={negatives!r}, method={method!r}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"Contrastive: temperature must be a finite number > 0 (SimCLR uses 0.1), got {temperature!r}")
        if not (isinstance(momentum, (int, float)) and 0 < momentum <= 1):
            raise ValueError(f"Contrastive: momentum (BYOL's EMA of the target) must be in (0, 1], e.g. 0.996, "
                             f"got {momentum!r}")
        augment = "default" if augment is None else augment
        if isinstance(augment, str) and augment not in AUGMENTS:
            raise ValueError(f"Contrastive: augment must be a callable or one of {', '.join(AUGMENTS)}, "
                             f"got {augment!r}")
        d = encoder.dim
        self.encoder, self.method, self.temperature, self.momentum = encoder, method, temperature, momentum
        self.needs_meta = ("subject",) if negatives == "subject" else ()
        self.augment = AUGMENTS[augment](fs) if isinstance(augment, str) else augment
        self.projector = projection_head(d, 2 * d, proj_dim)
        if method == "byol":
            self.predictor = projection_head(proj_dim, 2 * d, proj_dim)
            self.target = frozen_copy(nn.ModuleDict({"encoder": encoder, "projector": self.projector}))

    def forward(self, x: torch.Tensor, meta: dict[str, torch.Tensor] | None = None) -> dict:
        """x [B, C, T] -> {"loss", "z1", "z2" projections [B, d], "embeddings" [B, D] of the first view}.
        meta: {"subject": [B]} when negatives="subject" (fit() passes it)."""
        self.encoder.check_input(x)
        groups = None
        if self.needs_meta:
            if not meta or "subject" not in meta:
                raise ValueError("Contrastive(negatives='subject'): forward needs meta={'subject': [B] tensor}; "
                                 "fit() passes it from data.meta, or call it as obj(x, meta={'subject': s})")
            groups = meta["subject"]
        v1, v2 = self.augment(x), self.augment(x)
        h1, h2 = self.encoder.embed(v1), self.encoder.embed(v2)
        z1, z2 = self.projector(h1), self.projector(h2)
        if self.method == "simclr":
            loss = nt_xent(z1, z2, self.temperature, groups)
        else:
            with torch.no_grad():
                t = self.target
                t1, t2 = (t["projector"](t["encoder"].embed(v)) for v in (v1, v2))
            p1, p2 = self.predictor(z1), self.predictor(z2)
            cos = lambda p, q: F.cosine_similarity(p.float(), q.float(), dim=-1).mean()
            loss = 4 - 2 * cos(p1, t2) - 2 * cos(p2, t1)
        return {"loss": loss, "z1": z1, "z2": z2, "embeddings": h1}

    def after_step(self, step: int, total: int) -> None:
        if self.method == "byol":
            online = nn.ModuleDict({"encoder": self.encoder, "projector": self.projector})
            ema_update(self.target, online, momentum_at(step, total, self.momentum))
