"""Does pretraining help? Linear-probe accuracy of each pretrained encoder against a randomly
initialised one of the same architecture, with 10 labels per class and with all labels.

    python benchmarks/bench_pretrain.py --profile cpu --data eeg mnist1d

Pretraining runs go through fmlab.pretrain.pretrained (cached in FMLAB_CACHE, so a rerun only probes).
Few-label probes are averaged over --seeds label draws. Writes benchmarks/results/pretrain-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from fmlab.evaluate import linear_probe
from fmlab.models import Encoder
from fmlab.pretrain.recipes import OBJECTIVES, benchmark_steps, corpus, encoder_config, pretrained, run_settings


def probe_scores(encoder, c, seeds: int) -> dict:
    labelled = c.unlabelled  # the pretraining split, now with its labels
    few = [linear_probe(encoder, labelled.subset(per_class=10, seed=s), c.probe_test) for s in range(seeds)]
    return {"few_mean": statistics.mean(few), "few_std": statistics.pstdev(few),
            "all": linear_probe(encoder, labelled, c.probe_test)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", nargs="+", default=["eeg", "mnist1d"])
    ap.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    results = {}
    for data in args.data:
        s = run_settings("mae", data, args.profile)
        c = corpus(data, n=s["n"], seed=0)
        torch.manual_seed(0)
        rows = {"random init": probe_scores(Encoder(encoder_config(s["size"], c.unlabelled)), c, args.seeds)}
        for name in args.objectives:
            t0 = time.perf_counter()
            obj, hist = pretrained(name, data, args.profile, steps=benchmark_steps(name, args.profile), progress=False)
            rows[name] = {**probe_scores(obj.encoder, c, args.seeds), "pretrain_s": round(time.perf_counter() - t0, 1),
                          "steps": len(hist.loss), "final_loss": hist.final_loss()}
            print(data, name, rows[name], flush=True)
        results[data] = rows
        print(f"\n{data} ({args.profile} profile): probe accuracy on held-out data")
        print(f"{'encoder':<14} {'10 per class':>16} {'all labels':>11}")
        for name, r in rows.items():
            print(f"{name:<14} {r['few_mean']:>10.3f} ± {r['few_std']:.3f} {r['all']:>11.3f}")
    out = Path(__file__).parent / "results" / f"pretrain-{args.profile}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"profile": args.profile, "torch": torch.__version__, "results": results}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
