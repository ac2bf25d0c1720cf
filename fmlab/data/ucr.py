"""UCR / UEA classification datasets through aeon, with their original train / test split.

aeon ships a few datasets inside the package (GunPoint, ItalyPowerDemand, BasicMotions, ...):
those work offline. Every other one is downloaded by aeon from Zenodo into AEON_DATA
(default ~/aeon_data); without a network we say so at once instead of hanging.
See datasets/ucr.md.
"""
from __future__ import annotations

import difflib
import os
import re
import socket
import threading

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import SignalDataset

# Sampling rates we are sure of (Hz, before resampling); everything else is 1.0 = per sample.
_KNOWN_FS = {"BasicMotions": 10.0, "ItalyPowerDemand": 1 / 3600}


def _is_classification(root: str, name: str) -> bool:
    # Regression problems (Covid3Month, ...) sit beside the classification ones; their .ts header says so.
    with open(os.path.join(root, name, f"{name}_TRAIN.ts"), errors="replace") as f:
        for line in f:
            if line.lower().startswith("@classlabel"):
                return line.split()[1].lower() == "true"
            if line.lower().startswith("@data"):
                break
    return False


def offline_datasets() -> list[str]:
    """Classification datasets that load without a network: shipped with aeon or already in AEON_DATA."""
    from aeon.datasets import dataset_collections as dc
    roots = [os.path.join(dc.MODULE, "data"), dc._get_data_home()]
    found = {name for root in roots for name in dc.get_downloaded_tsc_tsr_datasets(root)
             if _is_classification(root, name)}
    return sorted(found, key=str.lower)


def _online(host: str = "zenodo.org", timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to Zenodo within ``timeout`` seconds (DNS included)?"""
    ok = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass
    # A thread, because name lookup ignores socket timeouts and can stall for a long time.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)


def _resolve(name: str) -> tuple[str, bool]:
    """(canonical name, available offline); case-insensitive. ValueError for unknown names."""
    from aeon.datasets.tsc_datasets import tsc_zenodo
    local = offline_datasets()
    for names, is_local in ((local, True), (list(tsc_zenodo), False)):
        for cand in names:
            if cand.lower() == name.lower():
                return cand, is_local
    lower = {c.lower(): c for c in sorted(set(local) | set(tsc_zenodo))}
    close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValueError(f"load_ucr: unknown UCR/UEA classification dataset {name!r}; {hint}"
                     f"offline ones: {', '.join(local)}; the full list is aeon.datasets.tsc_datasets.tsc_zenodo")


def _fill_missing(x: np.ndarray) -> np.ndarray:
    """Fill NaNs in one series [C, T] by linear interpolation along time (edges: nearest value)."""
    x = x.copy()
    t = np.arange(x.shape[1])
    for row in x:
        bad = np.isnan(row)
        if bad.all():
            row[:] = 0.0  # a channel with no data at all: flat zero after z-normalisation anyway
        elif bad.any():
            row[bad] = np.interp(t[bad], t[~bad], row[~bad])
    return x


def _znorm(x: np.ndarray) -> np.ndarray:
    """Per-channel z-normalisation of one series [C, T]; a constant channel becomes zeros."""
    mean, std = x.mean(-1, keepdims=True), x.std(-1, keepdims=True)
    return (x - mean) / np.where(std > 1e-8, std, 1.0)


def _resample(x: np.ndarray, length: int) -> torch.Tensor:
    """[C, T] -> [C, length] by linear interpolation that keeps both end points."""
    t = torch.as_tensor(x, dtype=torch.float32)[None]
    if t.shape[-1] in (1, length):  # nothing to do, or a single sample: nothing to interpolate
        return t[0].expand(-1, length).clone()
    return F.interpolate(t, size=length, mode="linear", align_corners=True)[0]


def _check_arguments(split: str, multiple: int, length: int | None) -> None:
    """ValueError, saying what to pass instead, for a split, multiple or length that load_ucr cannot take."""
    if split not in ("train", "test"):
        raise ValueError(f"load_ucr(split=...): expected 'train' or 'test' (the archive's own split), "
                         f"got {split!r}; for a validation set use ds.split(test_size=...)")
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise ValueError(f"load_ucr(multiple=...): expected a positive int (the patch length), got {multiple!r}")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)
                               or length < 1 or length % multiple):
        raise ValueError(f"load_ucr(length=...): expected a positive multiple of multiple={multiple}, "
                         f"got {length!r}; round it, or pass multiple=1")


def _load_split(canon: str, is_local: bool, split: str):
    """(X, labels) of one split as aeon loads it: X a 3-D array [N, C, T], or a list of [C, T_i] for
    variable-length sets. ValueError at once, without waiting on a download, when it is not here and
    zenodo.org is not reachable."""
    if not is_local and not _online():
        raise ValueError(f"load_ucr: {canon!r} is not shipped with aeon and needs a network connection to "
                         f"download from zenodo.org, which is not reachable. Offline datasets: "
                         f"{', '.join(offline_datasets())}. To fix: connect and retry (aeon keeps it in "
                         f"AEON_DATA, default ~/aeon_data), or copy {canon}/{canon}_TRAIN.ts and _TEST.ts there.")
    from aeon.datasets import load_classification
    try:
        X, labels = load_classification(canon, split=split)
    except (OSError, ValueError) as e:
        raise ValueError(f"load_ucr: aeon could not load {canon!r} ({type(e).__name__}: {e}); "
                         f"check the network, or use one of: {', '.join(offline_datasets())}") from e
    return X, labels


def _longest(canon: str, series: list[np.ndarray], X, split: str) -> int:
    """The longest series in ``split``; for a variable-length set (X a list) over both splits, so that both
    land on the same T."""
    longest = max(s.shape[1] for s in series)
    if isinstance(X, list):
        from aeon.datasets import load_classification
        other = load_classification(canon, split="test" if split == "train" else "train")[0]
        longest = max(longest, max(np.shape(s)[1] for s in other))
    return longest


def load_ucr(name: str, split: str = "train", multiple: int = 8, length: int | None = None,
             pad: bool = False) -> SignalDataset:
    """A UCR/UEA classification dataset: x [N, C, T] float32, y [N] int64, name "ucr:NAME".

    - ``split``: "train" or "test", the archive's own split.
    - Each series is z-normalised per channel (mean 0, std 1 over time; constant channels -> 0),
      NaNs (missing values in a few UCR sets) first filled by linear interpolation.
    - Then every series is resampled by linear interpolation to one length T, a multiple of
      ``multiple`` so an encoder can cut it into patches: ``length`` if given, else the
      original length rounded to the nearest multiple (ties up). Variable-length sets (some
      UEA ones) use the longest series over train *and* test, so both splits share T.
    - ``classes``: the label names sorted (numerically when they are all numbers); y indexes them.
    - ``fs``: the rate in Hz where known (scaled by the resampling), else 1.0 = per sample.
    - ``pad=True`` instead keeps every series at its own length, unresampled: shorter ones are zero-padded
      at the end to the longest (over both splits) and ``meta["length"]`` holds each one's valid samples,
      which the shape-agnostic encoder reads (fmlab.evaluate.features and fit() mask the padding out).
    - ``meta["orig_length"]``, ``meta["n_missing"]``: length and NaN count before processing.
    """
    _check_arguments(split, multiple, length)
    canon, is_local = _resolve(name)
    X, labels = _load_split(canon, is_local, split)

    series = [np.asarray(s, dtype=np.float64) for s in X]  # [C, T_i] each; a 3-D array or a list
    if pad:
        return _padded(canon, series, labels, X, split)
    if length is None:
        length = max(multiple, int(np.floor(_longest(canon, series, X, split) / multiple + 0.5)) * multiple)
    n_missing = [int(np.isnan(s).sum()) for s in series]
    x = torch.stack([_resample(_znorm(_fill_missing(s)), length) for s in series])

    classes, y = _labels(labels)

    orig = torch.tensor([s.shape[1] for s in series], dtype=torch.int64)
    fs = _KNOWN_FS.get(canon, 1.0)
    if canon in _KNOWN_FS and isinstance(X, np.ndarray):
        # End points are kept, so the duration (T-1)/fs is too; variable-length sets have no one rate.
        fs *= (length - 1) / max(X.shape[-1] - 1, 1)
    return SignalDataset(x, y, classes, float(fs), {"orig_length": orig, "n_missing": torch.tensor(n_missing)},
                         name=f"ucr:{canon}")


def _labels(labels) -> tuple[list[str], torch.Tensor]:
    """Class names sorted (numerically when they are all numbers) and y [N] indexing them."""
    names = sorted({str(v) for v in labels})
    numeric = all(re.fullmatch(r"[-+]?\d*\.?\d+(e[-+]?\d+)?", c, re.I) for c in names)
    classes = sorted(names, key=float) if numeric else names
    index = {c: i for i, c in enumerate(classes)}
    return classes, torch.tensor([index[str(v)] for v in labels], dtype=torch.int64)


def _padded(canon: str, series: list[np.ndarray], labels, X, split: str) -> SignalDataset:
    """load_ucr(pad=True): every series z-normalised at its own length, zero-padded to the longest."""
    lengths = [s.shape[1] for s in series]
    longest = _longest(canon, series, X, split)
    x = torch.zeros(len(series), series[0].shape[0], longest)
    for i, s in enumerate(series):
        x[i, :, : s.shape[1]] = torch.as_tensor(_znorm(_fill_missing(s)), dtype=torch.float32)
    classes, y = _labels(labels)
    meta = {"orig_length": torch.tensor(lengths), "n_missing": torch.tensor([int(np.isnan(s).sum()) for s in series])}
    if len(set(lengths)) > 1 or longest > max(lengths):
        meta["length"] = torch.tensor(lengths)
    return SignalDataset(x, y, classes, float(_KNOWN_FS.get(canon, 1.0)), meta, name=f"ucr:{canon}")
