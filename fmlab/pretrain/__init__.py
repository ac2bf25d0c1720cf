"""Self-supervised objectives, one a file. Each wraps an Encoder; forward(x) returns a dict with "loss"."""
from .contrastive import Contrastive, nt_xent
from .jepa import JEPA
from .mae import MAE
from .next_patch import NextPatch
from .spectrum import MaskedSpectrum

__all__ = ["MAE", "MaskedSpectrum", "Contrastive", "JEPA", "NextPatch", "nt_xent"]
from .recipes import OBJECTIVES, corpus, pretrain, pretrained, reference_objective  # noqa: E402

__all__ += ["OBJECTIVES", "corpus", "pretrain", "pretrained", "reference_objective"]
