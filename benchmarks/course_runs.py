"""Make the comparison runs a notebook loads instead of training (fmlab.pretrain.committed.COURSE_RUNS), in the cpu
profile, and commit them under fmlab/references/course/ in half precision; and the cpu scaling grid of notebook
10 (fmlab.scaling.grid of committed.GRID_OBJECTIVES) under fmlab/references/scaling/. Run it again after any change
to the cpu profile's pretraining (tests/pretrain/test_committed.py says when).

    python benchmarks/course_runs.py [--threads N] [--retrain]

Each run trains in FMLAB_CACHE as pretrained() would (a run already there is reused unless --retrain); runs of
earlier settings are removed from the folder.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info  # noqa: E402

import torch  # noqa: E402

from fmlab import scaling  # noqa: E402
from fmlab.pretrain import committed  # noqa: E402
from fmlab.pretrain.recipes import entry, pretrained, run_settings  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--retrain", action="store_true", help="train every run again, even where the cache has it")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{command(__file__, argv)} on {device_info()}")
    keep = set()
    for name, (objective, kwargs) in committed.COURSE_RUNS.items():
        folder = entry(run_settings(objective, profile="cpu", seed=0, **kwargs))
        t0 = time.perf_counter()
        obj, hist = pretrained(objective, profile="cpu", seed=0, progress=False, retrain=args.retrain, **kwargs)
        written = committed.commit(name, obj.cpu(), folder)
        keep.add(written.name)
        print(f"{name}: {time.perf_counter() - t0:.0f} s, probe {hist.last('probe_acc'):.3f} -> {written}")
    for old in committed.prune(keep):
        print(f"removed {old}: a run of earlier settings")
    commit_grid(args.retrain)


def commit_grid(retrain: bool) -> None:
    """Every cell of the cpu profile's scaling grid, trained in FMLAB_CACHE (or read from it), committed."""
    keep = set()
    for objective in committed.GRID_OBJECTIVES:
        t0 = time.perf_counter()
        runs = scaling.grid(objective, profile="cpu")
        for r in runs:
            folder = scaling.entry_of(r)
            if retrain:  # train the cell again: out of the cache and out of the committed folder
                shutil.rmtree(folder, ignore_errors=True)
                shutil.rmtree(committed.SCALING / folder.name, ignore_errors=True)
                r = scaling.run(r["objective"], r["width"], r["steps"], r["batch_size"], r["lr"], r["seed"])
            keep.add(committed.commit_grid_run(folder).name)
        print(f"scaling grid ({objective}): {len(runs)} runs, {time.perf_counter() - t0:.0f} s -> {committed.SCALING}")
    for old in committed.prune_grid(keep):
        print(f"removed {old}: a grid run of earlier settings")


if __name__ == "__main__":
    main()
