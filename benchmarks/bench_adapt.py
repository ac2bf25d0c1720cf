"""Four adaptation strategies side by side: fmlab.adapt.compare on eeg, over label budgets and seeds.

    python benchmarks/bench_adapt.py --profile cpu [--objectives spectrum mae] [--seeds 0 1 2] [--steps N] [--threads 2]

For each pretrained encoder (fmlab.pretrain.pretrained, cached in FMLAB_CACHE; a first run pretrains it):
linear probe, full fine-tuning, LoRA, adapters, prompt tuning, the same encoder from scratch and band-power
logistic regression, at 1 %, 10 % and 100 % of the labels. As in notebook 06, the labelled pool is the
pretraining split (its labels now used) and the test set the held-out subjects. Every run trains for the
profile's notebook adaptation run (fmlab.profiles: adapt_steps, adapt_batch_size) unless --steps says otherwise.
Prints accuracy mean ± std over seeds, trainable %, training time, memory and the bytes one task costs on disk,
and whether LoRA comes within 2 points of full fine-tuning at no more than 5 % trainable parameters at 10 %.
Writes benchmarks/results/adapt-<profile>.json.

    python benchmarks/bench_adapt.py --profile cpu --fair      # every run by one rule: fmlab.adapt.FairBudget

With --fair each deep run (from scratch too) holds out a fifth of its labels, trains for the profile's epochs over
the rest (Profile.fair_adapt: clipped to [least, most] steps) and keeps its best validation step; full fine-tuning
gets layer-wise learning-rate decay (0.75). Forgetting (fmlab.adapt.forgetting) is measured for every seed at the
smallest and the largest budget. Writes benchmarks/results/adapt-fair-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fmlab.adapt import FairBudget, compare, forgetting
from fmlab.adapt.compare import ADAPTATIONS
from fmlab.adapt.readout import budget_name, full_finetune_sentences, gap, summarize
from fmlab.pretrain.recipes import benchmark_steps, corpus, pretrained, run_settings
from fmlab.profiles import get_profile

STRATEGIES = (*ADAPTATIONS, "from_scratch", "bandpower_logreg")
TARGET_POINTS, TARGET_PCT = 0.02, 5.0  # LoRA at most 2 points below full fine-tuning, at <= 5 % trainable
LAYER_DECAY = 0.75  # --fair: full fine-tuning's learning rate falls by this per layer below the top (BEiT, MAE)


def fair_strategies() -> list:
    return [("full_finetune", {"layer_decay": LAYER_DECAY}) if s == "full_finetune" else s for s in STRATEGIES]


class Checkpoint:
    """The seeds finished so far, in a file beside the results: an interrupted run resumes at the next seed."""

    def __init__(self, path: Path, settings: dict):
        self.path, self.settings = path, json.loads(json.dumps(settings))
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.done = saved.get("done", {}) if saved.get("settings") == self.settings else {}

    def add(self, key: str, value) -> None:
        self.done[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "done": self.done}))
        tmp.replace(self.path)


def seed_by_seed(encoder, pool, test, args, rule, run, partial: Checkpoint, objective: str):
    """compare() one seed at a time (each seed saved to ``partial`` as it ends); (the table, forgetting rows)."""
    import pandas as pd
    tables, lost = [], []
    for seed in args.seeds:
        key = f"{objective}/{seed}"
        if key not in partial.done:
            models = {} if args.fair else None
            table = compare(encoder, pool, test, strategies=fair_strategies() if args.fair else STRATEGIES,
                            budgets=args.budgets, seeds=(seed,), models=models, rule=rule, **run)
            table["strategy"] = table["strategy"].str.replace(f"(layer_decay={LAYER_DECAY})", "", regex=False)
            rows = forgetting_rows(encoder, models, args.budgets, test) if args.fair else []
            partial.add(key, {"runs": [{k: plain(v) for k, v in r.items()} for r in table.to_dict(orient="records")],
                              "forgetting": [{k: plain(v) for k, v in r.items()} for r in rows]})
        else:
            print(f"bench_adapt: seed {seed} of {objective} read from {partial.path} (finished earlier)")
        tables.append(pd.DataFrame(partial.done[key]["runs"]))
        lost += partial.done[key]["forgetting"]
    table = pd.concat(tables, ignore_index=True)
    table["budget"] = pd.Series([b for t in tables for b in t["budget"]], dtype=object)
    return table, lost


def forgetting_rows(encoder, models: dict, budgets, data) -> list[dict]:
    """forgetting() of every adapted model at the smallest and largest budget, each seed: one row per model
    and target (strategy, budget, seed, target, base/adapted accuracy, forgetting, base_intact)."""
    rows = []
    for (label, budget, seed), clf in models.items():
        if budget in (budgets[0], budgets[-1]) and label.split("(")[0] in ADAPTATIONS:
            lost = forgetting(encoder, {label.split("(")[0]: clf}, data, seed=seed)
            rows += [dict(r, budget=budget, seed=seed) for r in lost.to_dict(orient="records")]
    return rows


def plain(value):
    """JSON-safe: NaN -> None, numpy scalars -> Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def print_summary(table, budgets) -> None:
    s = summarize(table)
    names = [budget_name(b) for b in budgets]
    print(f"{'strategy':<17}" + "".join(f"{n:>16}" for n in names)
          + f"{'trainable %':>13}{'train s':>9}{'memory MB':>11}{'delta bytes':>13}")
    for name, g in s.groupby("strategy", sort=False):
        g = g.set_index("budget_name")
        cells = "".join(f"{g.loc[n, 'accuracy']:>8.3f} ± {0 if math.isnan(g.loc[n, 'accuracy_sd']) else g.loc[n, 'accuracy_sd']:.3f}"
                        for n in names)
        top = g.loc[names[-1]]  # costs at the largest budget
        print(f"{name:<17}{cells}{top['trainable_pct']:>13.3f}{top['train_seconds']:>9.1f}{top['memory_mb']:>11.1f}"
              f"{top['delta_bytes']:>13,.0f}")


def lora_verdict(table, budget: float) -> dict:
    """LoRA against full fine-tuning at ``budget``, with the comparisons that say why when it falls short."""
    g = gap(table, "lora", "full_finetune", budget)
    g["meets_target"] = g["gap"] >= -TARGET_POINTS and g["trainable_pct"] <= TARGET_PCT
    g["lora_vs_linear_probe"] = gap(table, "lora", "linear_probe", budget)["gap"]
    g["full_vs_linear_probe"] = gap(table, "full_finetune", "linear_probe", budget)["gap"]
    sd = "" if math.isnan(g["gap_sd"]) else f" ± {100 * g['gap_sd']:.1f}"
    print(f"\nLoRA - full fine-tuning at {budget_name(budget)} of the labels: {100 * g['gap']:+.1f}{sd} points over "
          f"{g['seeds']} seeds (LoRA {g['accuracy']:.3f}, full {g['reference_accuracy']:.3f}) at "
          f"{g['trainable_pct']:.2f} % trainable parameters")
    print(f"within {100 * TARGET_POINTS:.0f} points at <= {TARGET_PCT:.0f} % trainable: "
          f"{'YES' if g['meets_target'] else 'NO'}")
    print(f"against the linear probe (head only): LoRA {100 * g['lora_vs_linear_probe']:+.1f} points, full fine-tuning "
          f"{100 * g['full_vs_linear_probe']:+.1f} points")
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--objectives", nargs="+", default=["spectrum"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    ap.add_argument("--steps", type=int, help="fit steps per run (default: the profile's adapt_steps; --fair: the most)")
    ap.add_argument("--batch-size", type=int, help="default: the profile's")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--fair", action="store_true", help="every run by fmlab.adapt.FairBudget (the profile's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    given = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size)) if v}
    run = {**get_profile(args.profile).adapt_run, **given}
    rule = None
    if args.fair:  # --steps is then the rule's longest run
        rule = FairBudget(**{**get_profile(args.profile).fair_budget, **{"most" if k == "steps" else k: v
                                                                          for k, v in given.items()}})
        run["batch_size"] = rule.batch_size
    if 0.1 not in args.budgets:
        ap.error("--budgets must include 0.1: the LoRA verdict is taken there")
    s = run_settings("spectrum", "eeg", args.profile)
    data = corpus("eeg", n=s["n"], seed=0)
    pool, test = data.unlabelled, data.probe_test
    print(f"eeg ({args.profile} profile): labelled pool {len(pool)}, test {len(test)} signals of unseen subjects; "
          f"{rule if rule else str(run['steps']) + ' steps'} of batch {run['batch_size']} per run; seeds {args.seeds}; "
          f"{torch.get_num_threads()} torch threads", flush=True)
    results, t_all = {}, time.perf_counter()
    out = Path(__file__).parent / "results" / f"adapt-{'fair-' if args.fair else ''}{args.profile}.json"
    partial = Checkpoint(out.with_suffix(".partial.json"), dict(rule=asdict(rule) if rule else None, run=run,
                                                               budgets=args.budgets, profile=args.profile))
    for objective in args.objectives:
        t0 = time.perf_counter()
        obj, hist = pretrained(objective, "eeg", args.profile, steps=benchmark_steps(objective, args.profile),
                               progress=False)
        pretrain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        table, lost = seed_by_seed(obj.encoder, pool, test, args, rule, run, partial, objective)
        compare_s = time.perf_counter() - t0
        print(f"\n{objective} encoder ({obj.encoder.num_parameters():,} parameters; pretraining probe "
              f"{hist.last('probe_acc'):.3f}): test accuracy, mean ± std over {len(args.seeds)} seeds; costs at "
              f"{budget_name(args.budgets[-1])}")
        print_summary(table, args.budgets)
        verdict = lora_verdict(table, 0.1)
        fair = {}
        if args.fair:
            fair["full_finetune_sentences"] = full_finetune_sentences(table, len(test))
            print("\n" + "\n".join(fair["full_finetune_sentences"]))
            fair["forgetting"] = lost
        results[objective] = {
            **fair, "pretrain_or_load_s": round(pretrain_s, 1), "compare_s": round(compare_s, 1),
            "pretraining_probe_acc": hist.last("probe_acc"),
            "summary": [{k: plain(v) for k, v in r.items()} for r in summarize(table).to_dict(orient="records")],
            "runs": [{k: plain(v) for k, v in r.items()} for r in table.to_dict(orient="records")],
            "lora_vs_full_finetune_10pct": {k: plain(v) for k, v in verdict.items()}}
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "profile": args.profile, "torch": torch.__version__, "threads": torch.get_num_threads(), **run,
        **({"rule": asdict(rule), "full_finetune_layer_decay": LAYER_DECAY} if args.fair else {}),
        "seeds": args.seeds, "budgets": args.budgets, "pool": len(pool), "test": len(test),
        "target": {"points": TARGET_POINTS, "trainable_pct": TARGET_PCT},
        "total_s": round(time.perf_counter() - t_all, 1), "results": results}, indent=1))
    partial.path.unlink(missing_ok=True)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
