"""Scaling laws at laptop scale (issue 21): the grid of notebook 10, the fitted laws and the prediction test.

    python benchmarks/scaling.py --profile cpu [--objectives mae next-patch] [--threads 1]

For each objective: every (width, steps) run of the profile's grid (fmlab.scaling.grid, cached), the law
L(N, D) = E + A / N^alpha + B / D^beta fitted with 200 bootstrap refits, then the profile's larger check run,
predicted before it trains and measured after. Writes benchmarks/results/scaling-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from fmlab import scaling
from fmlab.profiles import get_profile

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from provenance import command, device_info, parse, versions  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--objectives", nargs="+", default=["mae", "next-patch"])
    ap.add_argument("--bootstrap", type=int, default=200)
    args = parse(ap, argv, "benchmarks/results/scaling-<profile>.json")
    p = get_profile(args.profile)
    out = Path(args.out or HERE / "results" / f"scaling-{args.profile}.json")
    result = dict(command=command("scaling.py", argv),
                  profile=args.profile, widths=list(p.scaling_widths), steps=list(p.scaling_steps),
                  batch_size=p.scaling_batch_size, check=list(p.scaling_check), device=device_info(),
                  threads=torch.get_num_threads(), versions=versions(), objectives={})
    t0 = time.perf_counter()
    for name in args.objectives:
        runs = scaling.grid(name, profile=args.profile)
        law = scaling.fit_law(runs, bootstrap=args.bootstrap)
        check = scaling.run(name, *p.scaling_check, batch_size=p.scaling_batch_size, progress=True)
        verdict = scaling.check_prediction(law, check)
        print(scaling.describe(law, name))
        print(scaling.prediction_sentence(name, verdict))
        result["objectives"][name] = dict(
            runs=runs, check_run=check, prediction=verdict, falls=scaling.falls(runs),
            law={k: getattr(law, k) for k in ("E", "A", "alpha", "B", "beta", "flops_per_nd")},
            alpha_interval=law.interval("alpha"), beta_interval=law.interval("beta"),
            optimal={f"{c:.0e}": law.optimal(c) for c in (1e11, 1e13, 1e15)})
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"wrote {out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
