"""Latent spaces in two dimensions: a UMAP of frozen features, computed once and cached.

    emb = umap_embedding(features(encoder, ds))      # [N, 2]; the same features reuse the result
    idx, dist = cosine_knn(F, k)                     # exact nearest neighbours [N, k] by cosine distance

The pictures of an embedding are in latent.py, the click explorer in fmlab.explore.
"""
from __future__ import annotations

import hashlib
import json
from importlib.metadata import version

import numpy as np
import torch

from ..hub import atomic_path
from ..profiles import cache_dir

_MEMORY: dict[str, np.ndarray] = {}  # UMAP results of this session, by cache key


def check_features(features, fn: str) -> np.ndarray:
    """Features [N, D] (torch or numpy) as a contiguous float32 array; ValueError unless finite with N >= 4."""
    f = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if f.ndim != 2 or len(f) < 4 or not np.isfinite(f).all():
        raise ValueError(f"{fn}: expected finite features [N, D] with N >= 4, got shape {f.shape}; "
                         f"compute them with fmlab.evaluate.features(encoder, data)")
    return np.ascontiguousarray(f, dtype=np.float32)


def cosine_knn(f: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours [N, k] by cosine distance (each point is its own first), in blocks."""
    z = torch.nn.functional.normalize(torch.from_numpy(f), dim=-1)
    found = [(block @ z.T).topk(k, dim=1) for block in z.split(2048)]
    sim, idx = torch.cat([s for s, _ in found]), torch.cat([i for _, i in found])
    return idx.numpy(), (1 - sim).clamp_min(0).numpy()


def _fit_umap(f: np.ndarray, seed: int, n_neighbors: int, min_dist: float, metric: str) -> np.ndarray:
    import warnings

    import umap  # slow to import (numba): only when a UMAP is really computed
    # Cosine neighbours are found exactly here: pynndescent's approximate search (umap's choice from 4096 points)
    # compiles for about a minute in every new process, and numba's disk cache does not keep it.
    knn = cosine_knn(f, n_neighbors) if metric == "cosine" else (None, None, None)
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, random_state=seed, n_jobs=1,
                        precomputed_knn=knn)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # only .transform() would need it
        return reducer.fit_transform(f).astype(np.float32)


def umap_embedding(features, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                   metric: str = "cosine") -> np.ndarray:
    """UMAP of features [N, D] (torch or numpy) to [N, 2] (umap-learn; neighbours by cosine similarity,
    as fmlab.evaluate.knn). The seed makes it deterministic (and single-threaded). The result is kept in
    memory and in FMLAB_CACHE/umap, keyed by the feature bytes and the arguments: the same encoder on the same
    data reuses it. The first UMAP in a fresh process imports and compiles numba code: about 50 s with an empty
    NUMBA_CACHE_DIR, 15-25 s once it holds the kernels; later calls take seconds (benchmarks/bench_umap.py)."""
    f = check_features(features, "umap_embedding")
    n_neighbors = min(n_neighbors, len(f) - 1)
    args = dict(seed=seed, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, umap=version("umap-learn"),
                neighbours="exact" if metric == "cosine" else "umap")
    h = hashlib.sha1(f.tobytes())
    h.update(json.dumps([f.shape, args], sort_keys=True).encode())
    key = h.hexdigest()[:20]
    if key not in _MEMORY:
        path = cache_dir("umap") / f"{key}.npy"
        try:
            _MEMORY[key] = np.load(path)
        except (OSError, ValueError, EOFError):  # not there yet, or unreadable: compute it again
            _MEMORY[key] = _fit_umap(f, seed, n_neighbors, min_dist, metric)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, _MEMORY[key])
    return _MEMORY[key].copy()
