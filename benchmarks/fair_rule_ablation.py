"""Why the frozen strategies scored lower under the fair rule than in the 50-step file (BENCHMARKS.md, "The same
strategies under one fair rule"): the linear probe and prompt tuning on ONE masked-spectrum encoder, 100 % of the
labels, three seeds, under three rules: 50 steps of 32 (the 50-step file's), 200 steps of 32 on all the labels (the
rule's length without its held-out fifth and best step), and the fair rule itself (Profile.fair_budget).

    python benchmarks/fair_rule_ablation.py [--threads N]       (about 7 minutes on 2 cores)

Writes benchmarks/results/fair-rule-ablation-cpu.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info, versions  # noqa: E402

import torch  # noqa: E402

from fmlab.adapt import FairBudget, compare  # noqa: E402
from fmlab.pretrain import pretrained  # noqa: E402
from fmlab.pretrain.recipes import benchmark_steps, corpus  # noqa: E402
from fmlab.profiles import get_profile  # noqa: E402

RESULT = Path(__file__).parent / "results" / "fair-rule-ablation-cpu.json"
STRATEGIES = ("linear_probe", "prompt_tuning")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    p = get_profile("cpu")
    spec, hist = pretrained("spectrum", profile="cpu", steps=benchmark_steps("spectrum", "cpu"), progress=False)
    data = corpus("eeg", n=p.n, seed=0)
    rules = {"50 x 32": dict(steps=50, batch_size=32), "200 x 32, all labels, last step": dict(steps=200, batch_size=32),
             "fair rule": dict(rule=FairBudget(**p.fair_budget))}
    out = {"benchmark": "fair_rule_ablation", "command": command(__file__, argv), "device": device_info(),
           "versions": versions(), "encoder_probe_acc": hist.last("probe_acc"), "budget": 1.0, "seeds": [0, 1, 2],
           "test_size": len(data.probe_test), "accuracy": {}}
    for name, kw in rules.items():
        t0 = time.perf_counter()
        table = compare(spec.encoder, data.unlabelled, data.probe_test, strategies=list(STRATEGIES), budgets=(1.0,),
                        seeds=(0, 1, 2), **kw)
        out["accuracy"][name] = {s: [round(float(a), 4) for a in g["accuracy"]] for s, g in table.groupby("strategy")}
        print(f"{name}: {out['accuracy'][name]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    RESULT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
