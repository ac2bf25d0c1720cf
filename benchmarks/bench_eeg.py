"""Benchmark the synthetic EEG corpus: how fast it is made, and how separable its states are.

    python benchmarks/bench_eeg.py [--threads 2] [--seeds 0 1 2]

(1) generation time of ``fmlab.data.load("eeg", n=2000, seed=0)``: one warm-up, then median /
    min / max of 5 runs, with torch limited to ``--threads`` CPU threads (default: 2, or fewer
    if the machine has fewer);
(2) 4-state accuracy on a subject-wise split (``ds.split(test_size=0.25, by="subject", seed=0)``)
    of logistic regression (StandardScaler + sklearn LogisticRegression) on
      - log band power, 19 channels x 5 bands (what the states are made of),
      - per-channel log variance (amplitude only, no spectral shape),
      - the raw samples, flattened (19 x 512 values; phases are random, so this should fail).
Prints a table and writes benchmarks/results/eeg.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fmlab  # noqa: E402
from fmlab.data.spectral import log_band_power  # noqa: E402


def time_generation(repeats: int = 5) -> dict:
    start = time.perf_counter()
    fmlab.data.load("eeg", n=2000, seed=0)  # warm-up: imports, allocator, FFT plans
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fmlab.data.load("eeg", n=2000, seed=0)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs_s": times, "first_call_s": first}


def probe_accuracies(seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ds = fmlab.data.load("eeg", n=2000, seed=seed)
    train, test = ds.split(test_size=0.25, by="subject", seed=0)
    features = {
        "band_power": lambda d: log_band_power(d.x, d.fs).flatten(1).numpy(),
        "log_variance": lambda d: d.x.var(-1).log().numpy(),
        "raw": lambda d: d.x.flatten(1).numpy(),
    }
    out = {"n_train": len(train), "n_test": len(test),
           "test_subjects": sorted(test.meta["subject"].unique().tolist())}
    for name, f in features.items():
        start = time.perf_counter()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # raw: 9728 features, it never fits anyway
            model.fit(f(train), train.y.numpy())
        out[name] = model.score(f(test), test.y.numpy())
        out[f"{name}_fit_s"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="data seeds for the probes")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eeg.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    gen = time_generation()
    probes = {seed: probe_accuracies(seed) for seed in args.seeds}

    cpu = platform.processor() or platform.machine()
    print(f"fmlab eeg benchmark — torch {torch.__version__}, {args.threads} thread(s) of {os.cpu_count()}, {cpu}")
    print(f"\ngeneration, load('eeg', n=2000, seed=0): median {gen['median_s']:.3f} s "
          f"(min {gen['min_s']:.3f}, max {gen['max_s']:.3f}, 5 runs after a warm-up; "
          f"first call {gen['first_call_s']:.3f} s)")
    print("\nlogistic regression, 4 states (chance 0.25), subject-wise split test_size=0.25, n=2000")
    print(f"{'data seed':>9} | {'band power':>10} | {'log variance':>12} | {'raw samples':>11} | test subjects")
    for seed, p in probes.items():
        print(f"{seed:>9} | {p['band_power']:>10.3f} | {p['log_variance']:>12.3f} | {p['raw']:>11.3f} | "
              f"{p['test_subjects']}")
    mean = {k: statistics.mean(p[k] for p in probes.values()) for k in ("band_power", "log_variance", "raw")}
    print(f"{'mean':>9} | {mean['band_power']:>10.3f} | {mean['log_variance']:>12.3f} | {mean['raw']:>11.3f} |")

    result = {
        "benchmark": "eeg", "torch": torch.__version__, "python": platform.python_version(),
        "threads": args.threads, "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "generation_n2000": gen,
        "probe": {"n": 2000, "split": "by subject, test_size=0.25, seed=0", "chance": 0.25,
                  "per_seed": {str(s): p for s, p in probes.items()}, "mean": mean},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
