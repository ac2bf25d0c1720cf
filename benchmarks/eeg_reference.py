"""eeg with 1 % of the labels: a committed reference encoder against the per-corpus masked-spectrum encoder.

    python benchmarks/eeg_reference.py --profile cpu [--references contrastive-small ...] [--seeds 0 1 2]

The split of notebook 06 and benchmarks/bench_adapt.py: the labelled pool is the pretraining split of the eeg
corpus (its labels now used), the test set the held-out subjects. For each seed, 1 % of the pool's labels
(stratified, fmlab.adapt.compare.label_budget) train a logistic regression on frozen features
(fmlab.evaluate.probe_accuracy): the per-corpus encoder's pooled features [N, D], and each reference's
per-channel features side by side [N, 19 * D] (it is channel-independent). Only the labelled rows and the
test set are encoded (the reference reads 19 x 64 tokens a signal). Writes benchmarks/results/eeg-reference-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from fmlab import hub
from fmlab.adapt.compare import label_budget
from fmlab.evaluate import features, probe_accuracy
from fmlab.pretrain.recipes import benchmark_steps, corpus, pretrained, run_settings

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from provenance import command, device_info, versions  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--references", nargs="*", default=None, help="default: every committed reference")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budget", type=float, default=0.01)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    s = run_settings("spectrum", "eeg", args.profile)
    data = corpus("eeg", n=s["n"], seed=0)
    pool, test = data.unlabelled, data.probe_test
    encoders = {"per-corpus spectrum": pretrained("spectrum", "eeg", args.profile, progress=False,
                                                    steps=benchmark_steps("spectrum", args.profile))[0].encoder.eval()}
    for name in hub.references() if args.references is None else args.references:
        encoders[f"reference {name}"] = hub.reference(name)
    rows = {}
    for name, enc in encoders.items():
        per_channel = name.startswith("reference ")
        t0 = time.perf_counter()
        f_test = features(enc, test, per_channel=per_channel)
        accs = []
        for seed in args.seeds:
            few = label_budget(pool, args.budget, seed)
            accs.append(probe_accuracy(features(enc, few, per_channel=per_channel), few.y, f_test, test.y))
        rows[name] = {"accuracy": accs, "mean": statistics.mean(accs),
                      "sd": statistics.stdev(accs) if len(accs) > 1 else None, "labels": len(few),
                      "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name:<28} {rows[name]['mean']:.3f} ± {rows[name]['sd'] or 0:.3f} with {len(few)} labels "
              f"[{rows[name]['seconds']:.0f} s]", flush=True)
    best = max((r for r in rows if r.startswith("reference ")), key=lambda r: rows[r]["mean"], default=None)
    aim = None if best is None else {
        "best": best, "accuracy": rows[best]["mean"], "per_corpus_spectrum": rows["per-corpus spectrum"]["mean"],
        "gap_points": round(100 * (rows[best]["mean"] - rows["per-corpus spectrum"]["mean"]), 1),
        "holds": rows[best]["mean"] >= rows["per-corpus spectrum"]["mean"]}
    if aim:
        print(f"\nbest {best} {aim['accuracy']:.3f} vs the per-corpus spectrum encoder "
              f"{aim['per_corpus_spectrum']:.3f}: {aim['gap_points']:+.1f} points, the aim "
              f"{'HOLDS' if aim['holds'] else 'does NOT hold'}")
    out = Path(args.out) if args.out else HERE / "results" / f"eeg-reference-{args.profile}.json"
    out.write_text(json.dumps({"benchmark": "eeg-reference", "profile": args.profile,
                               "command": command(__file__, argv), "device": device_info(),
                               "threads": torch.get_num_threads(), "versions": versions(), "seeds": args.seeds,
                               "budget": args.budget, "pool": len(pool), "test": len(test), "rows": rows,
                               "aim": aim, "total_s": round(time.perf_counter() - t_all, 1)}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
