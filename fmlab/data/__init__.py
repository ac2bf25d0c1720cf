"""Datasets as tensors: ``load("eeg" | "mnist1d" | "ucr:NAME", ...)`` returns a SignalDataset."""
from __future__ import annotations

from .dataset import SignalDataset, check_signal
from .pile import resample

SOURCES = ("eeg", "eeg-offsets", "mnist1d", "ucr:NAME")


def load(name: str, **kwargs) -> SignalDataset:
    """Load a dataset by name.

    - ``load("eeg", n=2000, seed=0)``: the synthetic EEG-like corpus (see datasets/eeg.md); ``"eeg-offsets"``: the
      same with a constant offset on every channel of every recording (a fingerprint: notebook 03's shortcut)
    - ``load("mnist1d", n=4000, seed=0)``: MNIST-1D, generated and cached in FMLAB_CACHE
    - ``load("ucr:GunPoint", split="train")``: a UCR/UEA dataset through aeon (``pad=True``: every series at its
      own length, no resampling)
    """
    if not isinstance(name, str):
        raise ValueError(f"load: expected a dataset name (str), got {type(name).__name__}")
    key = name.strip().lower()
    if key == "eeg":
        from .eeg import load_eeg
        return load_eeg(**kwargs)
    if key == "eeg-offsets":  # the same corpus, each recording with its own electrode offsets (notebook 03)
        from .eeg import ELECTRODE_OFFSET_UV, load_eeg
        return load_eeg(**{"electrode_offset": ELECTRODE_OFFSET_UV, **kwargs})
    if key == "mnist1d":
        from .mnist1d import load_mnist1d
        return load_mnist1d(**kwargs)
    if key.startswith(("ucr:", "uea:")):
        from .ucr import load_ucr
        return load_ucr(name.split(":", 1)[1].strip(), **kwargs)
    raise ValueError(f"load: unknown dataset {name!r}; known: {', '.join(SOURCES)} "
                     f"(e.g. 'ucr:GunPoint', 'ucr:BasicMotions')")


__all__ = ["SignalDataset", "check_signal", "load", "resample", "SOURCES"]
