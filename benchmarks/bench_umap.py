"""How long does a UMAP of encoder features take? 5,000 embeddings of dimension 128 to 2-D, the way
fmlab.viz.umap_embedding computes them (seeded, so deterministic and single-threaded; cosine neighbours).

    python benchmarks/bench_umap.py [--n 5000] [--repeats 3] [--threads 2]

The features are real: a randomly initialised "small" encoder (D = 128) on generated eeg. Each scenario runs
in a fresh Python process, because the cost that matters is the first call, when numba compiles UMAP's kernels:
  cold   NUMBA_CACHE_DIR empty: import umap, first call (with the compile), then the median of warm calls
  warm   the same, with the compiled kernels left in NUMBA_CACHE_DIR by the cold run (a later session)
and, in the warm process, a repeated umap_embedding call (the result cache: memory and FMLAB_CACHE/umap).
Writes benchmarks/results/umap.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_features(n: int, path: Path) -> dict:
    import numpy as np
    import torch
    import fmlab
    from fmlab.evaluate import features
    from fmlab.pretrain.recipes import encoder_config
    ds = fmlab.data.load("eeg", n=n, seed=0)
    torch.manual_seed(0)
    encoder = fmlab.models.Encoder(encoder_config("small", ds))
    t0 = time.perf_counter()
    f = features(encoder, ds).numpy()
    np.save(path, f)
    return {"source": f"eeg n={n} seed=0, random-init 'small' encoder", "shape": list(f.shape),
            "features_s": round(time.perf_counter() - t0, 1)}


def worker(path: str, repeats: int) -> None:
    """One fresh process: import, first call, warm calls; prints a JSON line."""
    import numpy as np
    f = np.load(path)
    t0 = time.perf_counter()
    import umap  # noqa: F401  (its import compiles or loads part of the numba code)
    from fmlab.viz import embedding
    out = {"import_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    first = embedding._fit_umap(f, 0, 15, 0.1, "cosine")
    out["first_call_s"] = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        again = embedding._fit_umap(f, 0, 15, 0.1, "cosine")
        warm.append(time.perf_counter() - t0)
    out.update(warm_s=warm, warm_median_s=statistics.median(warm), deterministic=bool(np.array_equal(first, again)))
    embedding.umap_embedding(f)  # computes once more and stores it
    t0 = time.perf_counter()
    embedding.umap_embedding(f)
    out["cached_call_s"] = time.perf_counter() - t0
    print(json.dumps(out))


def scenario(features: Path, numba_cache: str, fmlab_cache: str, repeats: int, threads: int) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache, FMLAB_CACHE=fmlab_cache, NUMBA_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--worker", str(features), "--repeats", str(repeats)],
                         env=env, capture_output=True, text=True, check=True)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return {k: [round(x, 3) for x in v] if isinstance(v, list) else round(v, 3) if isinstance(v, float) else v
            for k, v in result.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.repeats)
    from importlib.metadata import version
    load = os.getloadavg()[0]  # other work on the machine slows every number below
    with tempfile.TemporaryDirectory(prefix="bench-umap-") as tmp:
        tmp = Path(tmp)
        data = make_features(args.n, tmp / "features.npy")
        print(f"features {data['shape']} in {data['features_s']} s", flush=True)
        numba_cache = str(tmp / "numba")
        results = {}
        for name in ("cold", "warm"):  # cold fills numba_cache, warm reuses it
            results[name] = scenario(tmp / "features.npy", numba_cache, str(tmp / f"fmlab-{name}"), args.repeats,
                                     args.threads)
            print(name, results[name], flush=True)
    report = {"features": data, "threads": args.threads, "cpu_count": os.cpu_count(), "load_average_at_start": load,
              "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              **{k: version(k) for k in ("umap-learn", "numba", "pynndescent", "scikit-learn")},
              "settings": "umap_embedding defaults: seed 0 (deterministic, 1 thread), n_neighbors 15, min_dist 0.1, "
                          "cosine", **results}
    out = Path(__file__).parent / "results" / "umap.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    w = results["warm"]
    print(f"\nUMAP of {data['shape'][0]} x {data['shape'][1]}: first call in a fresh process "
          f"{results['cold']['first_call_s']:.1f} s with an empty numba cache (+ {results['cold']['import_s']:.1f} s "
          f"import), {w['first_call_s']:.1f} s with a warm one (+ {w['import_s']:.1f} s import); "
          f"warm calls {w['warm_median_s']:.1f} s (median of {args.repeats}); cached result {w['cached_call_s']:.3f} s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
