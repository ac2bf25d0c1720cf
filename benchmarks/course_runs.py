"""Make the comparison runs a notebook loads instead of training (fmlab.pretrain.committed.COURSE_RUNS), in the cpu
profile, and commit them under fmlab/references/course/ in half precision. Run it again after any change to the cpu
profile's pretraining (tests/pretrain/test_committed.py says when).

    python benchmarks/course_runs.py [--threads N] [--retrain]

Each run trains in FMLAB_CACHE as pretrained() would (a run already there is reused unless --retrain); runs of
earlier settings are removed from the folder.
"""
from __future__ import annotations

import argparse
import sys
import time

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info  # noqa: E402

import torch  # noqa: E402

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


if __name__ == "__main__":
    main()
