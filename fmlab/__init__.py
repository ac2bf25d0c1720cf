"""fmlab: learn how foundation models are made, on signals.

    import fmlab
    ds = fmlab.data.load("eeg", n=2000, seed=0)
    enc = fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=19, length=512))
    hist = fmlab.train.fit(objective, ds, steps=500)

Submodules load on first use, so ``import fmlab`` stays fast.
"""
import importlib
import os

# numba's default OpenMP threading layer shares libgomp with torch: after one parallel numba call
# (MiniRocket, UMAP's nearest neighbours) torch's matmuls ran >10x slower on 2 cores. numba's own
# workqueue layer keeps the two thread pools apart. Set before numba is imported; an explicit choice wins.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

__version__ = "0.1.0"
_SUBMODULES = ("adapt", "check", "course", "data", "evaluate", "explore", "hub", "masking", "models", "pretrain",
               "profiles", "report", "train", "viz")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fmlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
