"""Learning per second: one cpu-profile pretraining run at a given step budget and batch, its final online probe
(state of unseen subjects, 1,000 signals) and its wall time, appended to benchmarks/results/pretrain-budget-cpu.json.
This is how the cpu profile's notebook budget was chosen (BENCHMARKS.md, "How long the course takes").

    python benchmarks/pretrain_budget.py mae 300 128 [--args '{"mask_ratio": 0.5}'] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info, parse  # noqa: E402

from fmlab.pretrain.recipes import pretrain  # noqa: E402

RESULT = Path(__file__).parent / "results" / "pretrain-budget-cpu.json"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("objective")
    ap.add_argument("steps", type=int)
    ap.add_argument("batch_size", type=int)
    ap.add_argument("--args", default="{}", help="the objective's arguments, as JSON")
    ap.add_argument("--seed", type=int, default=0)
    args = parse(ap, argv, str(RESULT))
    extra = json.loads(args.args)
    t0 = time.perf_counter()
    _, hist = pretrain(args.objective, profile="cpu", seed=args.seed, steps=args.steps, batch_size=args.batch_size,
                       progress=False, **extra)
    row = {"objective": args.objective, "steps": args.steps, "batch_size": args.batch_size, "args": extra,
           "seed": args.seed, "probe": round(hist.last("probe_acc"), 4), "seconds": round(time.perf_counter() - t0, 1),
           "threads": args.threads, "device": device_info(), "command": command(__file__, argv)}
    out = Path(args.out or RESULT)
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    out.write_text(json.dumps({"benchmark": "pretrain_budget", "runs": [*runs, row]}, indent=1) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
