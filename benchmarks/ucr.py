"""UCR/UEA the way unsupervised representation papers measure it (T-Loss, Franceschi et al. 2019; TS2Vec, Yue et al.
2022): pretrain on a dataset's training split without labels, freeze, fit a classifier on the frozen features with
the training labels, report accuracy on the archive's own test split.

    python benchmarks/ucr.py --profile cpu [--datasets GunPoint ...] [--objectives mae ...] [--seeds 0 1]
                             [--references NAME ...] [--layer-cv] [--adapt NAME ...] [--out PATH]

Rows, per dataset and seed: every objective (fmlab.pretrain.pretrained on ucr:NAME, the profile's settings, cached
in FMLAB_CACHE), a randomly initialised encoder of the same config, the reference encoders committed with the kit
(fmlab.hub.references(): one shape-agnostic encoder pretrained on the pile of datasets/pile.md, frozen, applied to
every dataset at its own length without resampling, each channel's tokens pooled by mean and max and the C feature
vectors side by side) beside the same architecture at random init, (--adapt) references adapted with every strategy
of fmlab.adapt on all the training labels (the profile's benchmark_adapt_run, each seed) beside their architecture
from scratch. (Rows "foundation ..." in older result files came from an encoder pretrained here on a pile resampled
to 128 samples, a variant the reference encoders replaced.)
Classifiers on the frozen features: an RBF SVM with C chosen by 5-fold cross-validation on the training split
(T-Loss's and TS2Vec's `fit_svm`: C in 1e-4 ... 1e4 and inf; C = inf without search when the split has fewer than
50 series or 5 per class), and logistic regression on standardised features (fmlab.evaluate.probe_accuracy).
Measured in the same run: MiniRocket through aeon (fmlab.adapt.baselines.minirocket) and 1NN-DTW through aeon
(full window). Published figures are in REFERENCES, each with its source. --layer-cv: each frozen reference (and its
random init) reads its features from the layers that 5-fold CV on the train split prefers (layer_choices: the
last block, an earlier one, the last two or every block side by side), the way the SVM's C is chosen.
Writes benchmarks/results/ucr-<profile>.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fmlab import hub
from fmlab.adapt import compare
from fmlab.adapt.compare import ADAPTATIONS, classic_once
from fmlab.data import load
from fmlab.evaluate import features, probe_accuracy
from fmlab.models import Encoder
from fmlab.pretrain.recipes import OBJECTIVES, benchmark_steps, encoder_config, pretrained
from fmlab.profiles import PROFILES, get_profile

# Run as a script, this folder leads sys.path, where benchmarks/mnist1d.py would hide the mnist1d package: move it last.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from provenance import command, device_info, parse, versions  # noqa: E402
from ucr_verdict import (REFERENCES, SCRATCH, chosen_layers, print_table, print_verdicts,  # noqa: E402
                         reference_verdict, summarise, verdict)

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions")
SVM_C = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, np.inf]
# The references' frozen features: each channel's tokens pooled by mean and max, side by side (issue 16's calibration
# protocol); the SVM on mean pooling alone is kept beside it in the results ("svm_mean_pool").
POOL = "mean+max"


def svm_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor) -> dict:
    """RBF SVM on features [N, D] as T-Loss / TS2Vec fit it; test accuracy and the C it chose."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC
    f_train, f_test = np.asarray(f_train, dtype=np.float64), np.asarray(f_test, dtype=np.float64)
    y_train = np.asarray(y_train)
    svm = SVC(C=np.inf, kernel="rbf", gamma="scale")
    n, k = len(y_train), len(np.unique(y_train))
    if n // k >= 5 and n >= 50:
        svm = GridSearchCV(svm, {"C": SVM_C}, cv=5).fit(f_train, y_train).best_estimator_
    else:
        svm.fit(f_train, y_train)
    return {"svm": float(svm.score(f_test, np.asarray(y_test))), "svm_C": f"{svm.C:g}"}


def layer_choices(depth: int) -> dict[str, tuple[int, ...]]:
    """--layer-cv: the features a frozen encoder of ``depth`` blocks offers, each a tuple of block counts whose
    tokens (through the final norm) are pooled and put side by side; the first is the protocol without the option."""
    return {"last": (depth,), f"block {depth - 1}": (depth - 1,), f"block {depth - 2}": (depth - 2,),
            "last two": (depth - 1, depth), "every block": tuple(range(1, depth + 1))}


def cv_accuracy(f_train: torch.Tensor, y_train: torch.Tensor) -> float | None:
    """The RBF SVM's best 5-fold cross-validated accuracy on the train split alone (C searched as in svm_accuracy);
    None where a class has fewer than 5 series."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC
    y = np.asarray(y_train)
    if np.bincount(y).min() < 5:
        return None
    search = GridSearchCV(SVC(kernel="rbf", gamma="scale"), {"C": SVM_C[:-1]},
                          cv=StratifiedKFold(5, shuffle=True, random_state=0))
    return float(search.fit(np.asarray(f_train, dtype=np.float64), y).best_score_)


def layer_cv_scores(enc, train, test) -> dict:
    """The SVM on the features whose layers 5-fold CV on the train split prefers (never the test split; ties go to
    the earlier choice, the last layer first): {"svm", "svm_C", "layer", "layer_cv"}."""
    feats = lambda d, depths: torch.cat([features(enc, d, per_channel=True, pool=POOL, depth=k) for k in depths], 1)
    choices = layer_choices(len(enc.blocks))
    f_train = {name: feats(train, depths) for name, depths in choices.items()}
    cv = {name: cv_accuracy(f, train.y) for name, f in f_train.items()}
    known = {name: v for name, v in cv.items() if v is not None}
    best = max(known, key=lambda name: (known[name], -list(cv).index(name))) if known else "last"
    return {**svm_accuracy(f_train[best], train.y, feats(test, choices[best]), test.y), "layer": best, "layer_cv": cv}


def probe_both(f_train, y_train, f_test, y_test) -> dict:
    """The SVM and logistic regression (standardised features) on the same frozen features [N, D]."""
    return {**svm_accuracy(f_train, y_train, f_test, y_test),
            "logreg": probe_accuracy(f_train, y_train, f_test, y_test)}


def dtw_1nn(train, test) -> float:
    """1NN with full-window DTW (aeon), on the same z-normalised, resampled series the encoders see."""
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    threads = torch.get_num_threads()
    try:
        clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw").fit(train.x.numpy(), train.y.numpy())
        return float((clf.predict(test.x.numpy()) == test.y.numpy()).mean())
    finally:  # aeon's numba kernels reset the OpenMP thread count that torch shares
        torch.set_num_threads(threads)


def reference_rows(name: str, references: list[str], seeds, add, layer_cv: bool = False) -> None:
    """Frozen references (and their architecture at random init, one row per seed) on the data as it is:
    every series at its own length (load_ucr(pad=True)), each channel's features side by side [N, C * D]. With
    ``layer_cv`` the row's "svm" is layer_cv_scores' (the last layer's is kept as "svm_last_layer")."""
    train, test = load(f"ucr:{name}", split="train", pad=True), load(f"ucr:{name}", split="test", pad=True)

    def scores(enc) -> dict:  # the protocol (mean+max pooling), and the SVM on mean pooling beside it
        f_train, f_test = (features(enc, d, per_channel=True, pool=POOL) for d in (train, test))
        # each channel's block is [mean D | max D]: its first half is the mean pooling, without a second pass
        mean_half = lambda f: f.view(len(f), -1, 2, enc.config.dim)[:, :, 0].flatten(1)
        mean = svm_accuracy(mean_half(f_train), train.y, mean_half(f_test), test.y)["svm"]
        scores = {**probe_both(f_train, train.y, f_test, test.y), "svm_mean_pool": mean}
        if layer_cv:
            chosen = layer_cv_scores(enc, train, test)
            scores |= {"svm_last_layer": scores["svm"], "svm_last_layer_C": scores["svm_C"], **chosen}
        return scores

    for ref in references:
        t0 = time.perf_counter()
        add(f"reference {ref}", 0, scores(hub.reference(ref)), time.perf_counter() - t0)
    for seed in seeds if references else ():
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        enc = Encoder(hub.reference(references[0]).config).eval()   # the same architecture, untrained
        add("reference random init", seed, scores(enc), time.perf_counter() - t0)


def adapted_rows(name: str, references: list[str], seeds, profile: str) -> tuple[dict, dict]:
    """Each reference adapted with every strategy of fmlab.adapt on all the training labels, and its architecture
    from scratch on the same labels (once): ({row: {seed: scores}}, {row: seconds}), rows "reference NAME / strategy"
    and SCRATCH."""
    train, test = load(f"ucr:{name}", split="train", pad=True), load(f"ucr:{name}", split="test", pad=True)
    rows, seconds = {}, {}
    for i, ref in enumerate(references):
        t0 = time.perf_counter()
        strategies = (*ADAPTATIONS, "from_scratch") if i == 0 else ADAPTATIONS
        table = compare(hub.reference(ref), train, test, strategies=strategies, budgets=(1.0,), seeds=seeds,
                        **get_profile(profile).benchmark_adapt_run)
        for r in table.itertuples():
            row = SCRATCH if r.strategy == "from_scratch" else f"reference {ref} / {r.strategy}"
            rows.setdefault(row, {})[str(r.seed)] = {"accuracy": float(r.accuracy),
                                                     "trainable_params": int(r.trainable_params),
                                                     "train_seconds": round(float(r.train_seconds), 1)}
            print(f"{name:<17} {row:<40} seed {r.seed}: {r.accuracy:.3f}", flush=True)
        seconds[f"adapt reference {ref}"] = [round(time.perf_counter() - t0, 1)]
    return rows, seconds


def run_dataset(name: str, profile: str, objectives, seeds, references: list[str], adapt: list[str] = (),
                layer_cv: bool = False) -> dict:
    train, test = load(f"ucr:{name}", split="train"), load(f"ucr:{name}", split="test")
    out = {"train": len(train), "test": len(test), "shape": list(train.x.shape[1:]), "classes": train.num_classes,
           "rows": {}, "seconds": {}}
    y_train, y_test = train.y, test.y

    def add(row: str, seed: int, scores: dict, seconds: float) -> None:
        out["rows"].setdefault(row, {})[str(seed)] = scores
        out["seconds"].setdefault(row, []).append(round(seconds, 1))
        print(f"{name:<17} {row:<24} seed {seed}: SVM {scores['svm']:.3f} (C={scores['svm_C']})  "
              f"logreg {scores['logreg']:.3f}" + (f"  layer: {scores['layer']} (last {scores['svm_last_layer']:.3f})"
                                                   if "layer" in scores else "") + f"  [{seconds:.0f} s]", flush=True)

    for seed in seeds:
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        enc = Encoder(encoder_config(get_profile(profile).size, train))
        add("random init", seed, probe_both(features(enc, train), y_train, features(enc, test), y_test),
            time.perf_counter() - t0)
        for objective in objectives:
            t0 = time.perf_counter()
            obj, hist = pretrained(objective, f"ucr:{name}", profile, seed=seed, progress=False,
                                   steps=benchmark_steps(objective, profile))
            enc = obj.encoder.eval()
            add(objective, seed, probe_both(features(enc, train), y_train, features(enc, test), y_test),
                time.perf_counter() - t0)
        t0 = time.perf_counter()
        rocket = classic_once("minirocket", {}, train, test, seed)
        if seed == seeds[0]:
            reference_rows(name, references, seeds, add, layer_cv)
        out["rows"].setdefault("MiniRocket (measured)", {})[str(seed)] = {"accuracy": rocket["accuracy"]}
        out["seconds"].setdefault("MiniRocket (measured)", []).append(round(time.perf_counter() - t0, 1))
        print(f"{name:<17} {'MiniRocket':<24} seed {seed}: {rocket['accuracy']:.3f}", flush=True)
    if adapt:
        rows, seconds = adapted_rows(name, adapt, seeds, profile)
        out["rows"].update(rows)
        out["seconds"].update(seconds)
    t0 = time.perf_counter()
    out["rows"]["1NN-DTW (measured)"] = {"-": {"accuracy": dtw_1nn(train, test)}}
    out["seconds"]["1NN-DTW (measured)"] = [round(time.perf_counter() - t0, 1)]
    print(f"{name:<17} {'1NN-DTW (aeon)':<24}: {out['rows']['1NN-DTW (measured)']['-']['accuracy']:.3f}", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--objectives", nargs="*", default=list(OBJECTIVES))
    ap.add_argument("--references", nargs="*", default=None,
                    help="committed reference encoders to include (default: all of fmlab.hub.references())")
    ap.add_argument("--adapt", nargs="*", default=[],
                    help="references to adapt with every strategy of fmlab.adapt on all training labels, each seed "
                         "(and their architecture from scratch); default none")
    ap.add_argument("--layer-cv", action="store_true",
                    help="the references' features from the layer(s) that 5-fold CV on each train split prefers "
                         "(layer_choices), instead of the last layer alone; the last layer's SVM is kept beside it")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parse(ap, argv, "benchmarks/results/ucr-<profile>.json")
    references = list(hub.references()) if args.references is None else args.references
    t_all = time.perf_counter()
    results = {name: run_dataset(name, args.profile, args.objectives, args.seeds, references, args.adapt,
                                 args.layer_cv) for name in args.datasets}
    table = summarise(results)
    print_table(table)
    v, rv = verdict(table), reference_verdict(table)
    print_verdicts(v, rv)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"ucr-{args.profile}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "ucr", "profile": args.profile, "command": command(__file__, argv),
        "device": device_info(), "threads": torch.get_num_threads(), "versions": versions(), "seeds": args.seeds,
        "objectives": args.objectives, "adapt": args.adapt, "adapt_run": get_profile(args.profile).benchmark_adapt_run,
        "reference_pool": POOL, "reference_layer_cv": args.layer_cv, "references": REFERENCES,
        "reference_encoders": {r: hub.references()[r] for r in references}, "reference_verdict": rv,
        "classifier": {"svm": "RBF SVC, gamma='scale', C by 5-fold CV over " + str(SVM_C[:-1]) + " + inf "
                       "(C=inf without search below 50 series or 5 per class)",
                       "logreg": "fmlab.evaluate.probe_accuracy (standardised features, C=1)"},
        "total_s": round(time.perf_counter() - t_all, 1), "summary": table,
        "summary_sd": summarise(results, spread=True),
        **({"summary_last_layer": summarise(results, key="svm_last_layer"), "chosen_layers": chosen_layers(results),
            "reference_verdict_last_layer": reference_verdict(summarise(results, key="svm_last_layer"))}
           if args.layer_cv else {}),
        "verdict": v, "results": results},
        indent=1, default=lambda o: None if isinstance(o, float) and o != o else str(o)))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
