"""fmlab: learn how foundation models are made, on signals.

    import fmlab
    ds = fmlab.data.load("eeg", n=2000, seed=0)
    enc = fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=19, length=512))
    hist = fmlab.train.fit(objective, ds, steps=500)

Submodules load on first use, so ``import fmlab`` stays fast.

What fmlab changes in the process, all of it here:
- ``NUMBA_THREADING_LAYER=workqueue`` in the environment when fmlab is imported (below; a value already set wins).
- torch's global random generator: ``fit`` reseeds it at every step, so that masks and augmentations are a
  function of the step (exact resume), and building a model seeds it for its initial weights; both happen inside
  ``fmlab.train.seeded``, which gives the caller their generator back as it was.
- torch's thread count: the MiniRocket baseline (aeon's numba kernels) and the masking explorer change it and
  put it back (``fmlab.adapt.compare.classic_once``, ``fmlab.explore.masking``).
- Memory that lives as long as the process: ``fmlab.report.RECORDED`` (what a notebook recorded) and the UMAP
  results of ``fmlab.viz.embedding`` (also on disk in ``FMLAB_CACHE``).
- ``FMLAB_QUIET`` (``fmlab.profiles.say``) silences fmlab's narration; ``fmlab explore`` sets it for Voila.
"""
import importlib
import os

# numba's default OpenMP threading layer shares libgomp with torch: after one parallel numba call
# (MiniRocket, UMAP's nearest neighbours) torch's matmuls ran >10x slower on 2 cores. numba's own
# workqueue layer keeps the two thread pools apart. Set before numba is imported; an explicit choice wins.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

__version__ = "0.1.0"
_SUBMODULES = ("adapt", "check", "comparisons", "course", "data", "evaluate", "explore", "hub", "masking", "models",
               "pretrain", "profiles", "report", "train", "viz")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fmlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
