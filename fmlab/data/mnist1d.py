"""MNIST-1D (Greydanus 2020): ten digit templates turned into 1-D signals of length 40.

Made by the ``mnist1d`` package's own generator (never its download function, so it works
offline), then cached in FMLAB_CACHE/mnist1d. See datasets/mnist1d.md.
"""
from __future__ import annotations

import hashlib
import json
import random
from importlib import metadata

import numpy as np

from ..atomic import atomic_path
from ..profiles import cache_dir
from .dataset import SignalDataset

# Generator arguments that do not change the signals we keep: we set num_samples and seed
# ourselves, merge the package's train/test parts (so train_split is moot), never download.
_IGNORED_ARGS = ("num_samples", "seed", "train_split", "url")


def _generator_args() -> dict:
    from mnist1d.data import get_dataset_args
    return {k: v for k, v in get_dataset_args(as_dict=True).items() if k not in _IGNORED_ARGS}


def _cache_file(n: int, seed: int, args: dict):
    try:
        version = metadata.version("mnist1d")
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored or source install
        version = "unknown"
    blob = json.dumps({"args": args, "version": version}, sort_keys=True)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:10]
    return cache_dir("mnist1d") / f"mnist1d_n{n}_seed{seed}_{digest}.npz"


def _generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x [n, 40] float32, y [n] int64 from the package generator."""
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.utils import ObjectView

    args = get_dataset_args(as_dict=True)
    # make_dataset makes num_samples // 10 per class: round up to a multiple of 10, trim after.
    args.update(num_samples=-(-n // 10) * 10, seed=seed)
    # make_dataset reseeds the *global* numpy and random generators; put the caller's back.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(ObjectView(args))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    # The package has already shuffled before splitting, so the first n of train+test are a
    # random draw with all ten classes well mixed.
    x = np.concatenate([d["x"], d["x_test"]])[:n].astype(np.float32)
    y = np.concatenate([d["y"], d["y_test"]])[:n].astype(np.int64)
    return x, y


def load_mnist1d(n: int = 4000, seed: int = 0, cache: bool = True) -> SignalDataset:
    """MNIST-1D as a SignalDataset: x [n, 1, 40] float32, y [n] int64, classes "0".."9".

    ``n`` samples (any n >= 10) from the package generator with the package's default
    arguments and ``seed``; the same (n, seed) always gives the same data. fs is 1.0: the
    time axis is a unitless sample index. The signals are centred and scaled to std 1 over
    the whole generated set (the package does this). With ``cache=True`` the result is stored
    in FMLAB_CACHE/mnist1d, keyed by n, seed, the generator arguments and package version.
    Generation takes about 0.2 ms a sample (~1 s for 4000, plus ~1 s to import the package
    the first time); a cache hit takes milliseconds.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        raise ValueError(f"load_mnist1d(n=...): expected an integer >= 10 (at least one sample of "
                         f"each digit, more for balanced classes), got {n!r}; e.g. n=4000")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"load_mnist1d(seed=...): expected an integer in [0, 2**32), got {seed!r}")
    n, seed = int(n), int(seed)

    path = _cache_file(n, seed, _generator_args()) if cache else None
    if path is not None and path.exists():
        with np.load(path) as f:
            x, y = f["x"], f["y"]
    else:
        x, y = _generate(n, seed)
        if path is not None:
            with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: savez would append .npz to a name
                np.savez(f, x=x, y=y)

    return SignalDataset(x[:, None, :], y, classes=[str(d) for d in range(10)], fs=1.0,
                         meta={}, name="mnist1d", channels=["x"])
