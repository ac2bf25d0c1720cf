"""A fair training budget: every strategy trains by one rule, so a table compares strategies, not step counts.

    rule = FairBudget(epochs=30, least=50, most=300, batch_size=32)
    hist, info = fair_fit(clf, few, rule, lr=clf.default_lr, seed=0)
    info   # {"steps": 225, "best_step": 180, "val_acc": 0.93, "train_labels": 240, "val_labels": 60}

The rule, the same for every deep strategy and for from-scratch:
1. a stratified fifth of the labels is held out as a validation split (at least one of each class);
2. the run is ``epochs`` passes over the rest, clipped to [least, most] steps, so it grows with the labels;
3. the weights kept are those of the evaluation (every tenth of the run) where validation accuracy peaked
   (ties: the lower validation loss), i.e. the run is stopped where validation stopped improving.
With fewer than two labels of some class there is nothing to hold out: the run trains on all of them and keeps
its last weights (``info["val_labels"] == 0``).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..data.dataset import SignalDataset
from ..train import fit
from .base import Classifier


@dataclass(frozen=True)
class FairBudget:
    """How long a run trains (see the module docstring). ``validation``: the share of labels held out."""
    epochs: float = 30.0
    least: int = 50
    most: int = 300
    batch_size: int = 32
    validation: float = 0.2

    def __post_init__(self):
        if not (self.epochs > 0 and 1 <= self.least <= self.most and self.batch_size >= 1
                and 0 < self.validation < 1):
            raise ValueError(f"FairBudget: expected epochs > 0, 1 <= least <= most, batch_size >= 1 and validation "
                             f"in (0, 1), got {asdict(self)}; e.g. FairBudget(epochs=30, least=50, most=300)")

    def steps(self, labels: int) -> int:
        """Steps for ``labels`` training labels: ``epochs`` passes of ``batch_size``, clipped to [least, most]."""
        return min(self.most, max(self.least, math.ceil(self.epochs * labels / self.batch_size)))


def validation_split(few: SignalDataset, share: float, seed: int) -> tuple[SignalDataset, SignalDataset | None]:
    """(train, validation), stratified; validation None when some class has fewer than two labels."""
    counts = torch.bincount(few.y.cpu(), minlength=few.num_classes)
    if int(counts.min()) < 2:
        return few, None
    return few.split(test_size=share, seed=seed)


class _Best:
    """fit()'s evaluate callback: scores the model on the validation split and keeps its best weights."""

    def __init__(self, val: SignalDataset):
        self.val, self.key, self.state, self.step, self.calls = val, (-1.0, 0.0), None, 0, 0

    def __call__(self, model: Classifier) -> dict[str, float]:
        self.calls += 1
        dev, lengths = next(model.parameters()).device, self.val.meta.get("length")
        logits = torch.cat([model(self.val.x[i:i + 128].to(dev),
                                  None if lengths is None else {"length": lengths[i:i + 128].to(dev)})
                            for i in range(0, len(self.val), 128)])
        y = self.val.y.to(dev)
        acc, loss = (logits.argmax(-1) == y).float().mean().item(), F.cross_entropy(logits, y).item()
        if (acc, -loss) > self.key:  # higher accuracy; at equal accuracy, lower loss
            self.key, self.step = (acc, -loss), self.calls
            self.state = copy.deepcopy({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"val_acc": acc, "val_loss": loss}


def fair_fit(clf: Classifier, few: SignalDataset, rule: FairBudget, lr: float, seed: int = 0,
             device=None, progress: bool = False):
    """Train ``clf`` on ``few`` by ``rule`` (module docstring); returns (History, info). ``clf`` ends with the
    weights of its best validation step. info: steps, best_step, val_acc, train_labels, val_labels."""
    train, val = validation_split(few, rule.validation, seed)
    steps = rule.steps(len(train))
    every = max(1, steps // 10)
    best = _Best(val) if val is not None else None
    hist = fit(clf, train, steps=steps, batch_size=rule.batch_size, lr=lr, seed=seed, device=device,
               progress=progress, evaluate=best, eval_every=every)
    if best is not None:
        clf.load_state_dict(best.state)
    marks = [step for step, _ in hist.metrics.get("val_acc", [])]
    return hist, dict(steps=steps, best_step=marks[best.step - 1] if marks else steps,
                      val_acc=best.key[0] if best is not None else float("nan"),
                      train_labels=len(train), val_labels=0 if val is None else len(val))
