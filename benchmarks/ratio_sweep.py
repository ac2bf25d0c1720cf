"""Which masking ratio teaches an MAE most, answered on a CPU (issue 19): the sweep notebook 01 reads.

    python benchmarks/ratio_sweep.py --profile cpu --size tiny --steps 300 --seeds 0 1 2 [--threads 1]

One MAE per (mask kind, ratio, seed), pretrained on the profile's eeg corpus (fmlab.pretrain.sweeps.mask_ratio_sweep,
each run cached like pretrained()), each frozen encoder scored by the linear probe on subjects it never saw; beside
them the same architecture at random init, one per seed. A smaller encoder and shorter runs than notebook 01's own
MAE, so that 2 kinds x 4 ratios x 3 seeds fit a CPU. Writes benchmarks/results/ratio-sweep-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from fmlab.evaluate import linear_probe
from fmlab.models import Encoder
from fmlab.pretrain.recipes import corpus, encoder_config
from fmlab.pretrain.sweeps import mask_ratio_sweep
from fmlab.profiles import get_profile

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from provenance import command, device_info, parse, versions  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--ratios", nargs="+", type=float, default=[0.25, 0.5, 0.75, 0.9])
    ap.add_argument("--kinds", nargs="+", default=["random", "block"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parse(ap, argv, "benchmarks/results/ratio-sweep-<profile>.json")
    p = get_profile(args.profile)
    t0 = time.perf_counter()
    kinds = {kind: [[] for _ in args.ratios] for kind in args.kinds}
    random_init = []
    for seed in args.seeds:
        c = corpus("eeg", n=p.n, seed=seed)
        torch.manual_seed(seed)
        random_init.append(linear_probe(Encoder(encoder_config(args.size, c.unlabelled)), c.probe_train, c.probe_test))
        for kind in args.kinds:
            accs = mask_ratio_sweep(args.ratios, profile=args.profile, kind=kind, seed=seed, steps=args.steps,
                                    size=args.size, progress=False)
            for per_ratio, acc in zip(kinds[kind], accs):
                per_ratio.append(acc)
            print(f"seed {seed} {kind}: " + ", ".join(f"{r:g} -> {a:.3f}" for r, a in zip(args.ratios, accs)) +
                  f"  (random init {random_init[-1]:.3f}) [{time.perf_counter() - t0:.0f} s]", flush=True)
    test_size = len(c.probe_test)  # the same size for every seed's split
    mean = sum(random_init) / len(random_init)
    result = dict(benchmark="ratio_sweep", command=command("ratio_sweep.py", argv), profile=args.profile,
                  size=args.size, steps=args.steps, batch_size=p.batch_size, ratios=args.ratios, seeds=args.seeds,
                  kinds=kinds, random_init=random_init, test_size=test_size,
                  noise=math.sqrt(mean * (1 - mean) / test_size),   # one test set's standard error near these scores
                  device=device_info(), threads=torch.get_num_threads(), versions=versions(),
                  seconds=round(time.perf_counter() - t0, 1))
    out = Path(args.out or HERE / "results" / f"ratio-sweep-{args.profile}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
