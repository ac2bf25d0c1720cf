"""Every strategy by name, and build(): a strategy on a copy of an encoder (as compare and load_delta need)."""
from __future__ import annotations

import copy

from ..models import Encoder
from .adapter import Adapter
from .base import Classifier
from .baselines import FromScratch
from .finetune import FullFinetune
from .lora import LoRA
from .probe import LinearProbe
from .prompt import PromptTuning

STRATEGIES: dict[str, type[Classifier]] = {
    cls.strategy: cls for cls in (LinearProbe, FullFinetune, LoRA, Adapter, PromptTuning, FromScratch, Classifier)}


def build(strategy: str, encoder: Encoder, num_classes: int, classes: list[str] | None = None,
          **arguments) -> Classifier:
    """``strategy`` (a name in STRATEGIES) with its ``arguments`` (e.g. rank=8), on a copy of ``encoder``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"adapt: unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy](copy.deepcopy(encoder), num_classes, classes, **arguments)
