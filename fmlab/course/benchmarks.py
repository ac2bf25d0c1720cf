"""Reading the saved benchmark results (benchmarks/results/<benchmark>-<profile>.json, written by the scripts in
benchmarks/) and the sentences a notebook prints about them, so that the prose and the file cannot drift apart.

    ucr = read_result("ucr", profile)                 # smoke, or a missing file: the committed cpu results
    ucr_table(ucr)                                    # a row per encoder or baseline, a column per dataset
    ucr_verdict_sentences(ucr["verdict"])             # the per-dataset encoders against T-Loss and 1NN-DTW
    reference_verdict_sentences(refs["reference_verdict"])   # the references against their random init
    reference_aim(layers["reference_verdict"], ["GunPoint", ...])   # the references' aim on some datasets
    mnist1d_table(mnist); best_pretrained(mnist, "1%")             # MNIST-1D's label efficiency

A verdict is the dict benchmarks/ucr_verdict.py writes (``verdict``, ``reference_verdict``): a ``per_dataset``
dict of {dataset: {"best": row, "accuracy": ..., "minus <reference>": accuracy points / 100, ...}} and counts.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .runner import REPO

RESULTS = REPO / "benchmarks" / "results"


def result_path(benchmark: str, profile: str) -> Path:
    """benchmarks/results/<benchmark>-<profile>.json; the cpu file for the smoke profile (whose runs are too small to
    be worth a file) or where the profile has none. ValueError if neither exists."""
    path = RESULTS / f"{benchmark}-{profile}.json"
    if profile == "smoke" or not path.exists():
        path = RESULTS / f"{benchmark}-cpu.json"
    if not path.exists():
        saved = sorted({p.stem.rsplit("-", 1)[0] for p in RESULTS.glob("*-*.json")})
        raise ValueError(f"result_path: expected a saved result benchmarks/results/{benchmark}-{profile}.json or "
                         f"{benchmark}-cpu.json, found neither; saved benchmarks: {saved}; pick one of those, or "
                         f"run the benchmark's script (see BENCHMARKS.md) to write it")
    return path


def read_result(benchmark: str, profile: str, verbose: bool = True) -> dict:
    """The saved results of benchmarks/<benchmark>.py for ``profile`` (see result_path), as the script wrote them;
    prints which file it read unless not ``verbose``."""
    path = result_path(benchmark, profile)
    if verbose:
        print(f"reading {path.relative_to(REPO)}")
    return json.loads(path.read_text())


def _check(result, keys: Sequence[str], what: str, fn: str) -> None:
    missing = [k for k in keys if k not in result] if isinstance(result, dict) else list(keys)
    if missing:
        got = f"a dict without {missing}" if isinstance(result, dict) else type(result).__name__
        raise ValueError(f"{fn}: expected {what} (with {list(keys)}), got {got}; pass that part of read_result(...)")


def ucr_table(result: dict, sd_of: str | None = None):
    """A pandas DataFrame of a ucr result: a row per encoder or baseline (``summary``: mean test accuracy over
    seeds), a column per dataset; then, with ``sd_of``, that row's standard deviation over seeds as
    "<sd_of> (sd over seeds)"; then each published reference as "<name> (published)"."""
    import pandas as pd
    _check(result, ["summary", "references", *(["summary_sd"] if sd_of else [])], "a benchmarks/ucr.py result",
           "ucr_table")
    table = pd.DataFrame(result["summary"])
    if sd_of:
        table.loc[f"{sd_of} (sd over seeds)"] = pd.DataFrame(result["summary_sd"]).loc[sd_of]
    for ref, r in result["references"].items():
        table.loc[f"{ref} (published)"] = pd.Series(r["accuracy"])
    return table


def source_sentences(result: dict) -> list[str]:
    """"<reference>: <where its figures come from>", one line per published reference of a ucr result."""
    _check(result, ["references"], "a benchmarks/ucr.py result", "source_sentences")
    return [f"{ref}: {r['source']}" for ref, r in result["references"].items()]


def ucr_verdict_sentences(verdict: dict) -> list[str]:
    """The per-dataset encoders' aim (``result["verdict"]``): per dataset the best encoder, its accuracy and its
    margins over T-Loss and 1NN-DTW in points; a blank line; how many datasets it beats both on, and whether the
    aim holds."""
    _check(verdict, ["per_dataset", "wins", "datasets", "aim_holds"], "the 'verdict' of a ucr result",
           "ucr_verdict_sentences")
    return [*(f"{name:<17} best: {r['best']:<24} {r['accuracy']:.3f}   vs T-Loss {100 * r['minus T-Loss']:+5.1f} "
              f"points, vs 1NN-DTW {100 * r['minus 1NN-DTW']:+5.1f} points   {'beats both' if r['beats both'] else ''}"
              for name, r in verdict["per_dataset"].items()), "",
            f"beats both on {verdict['wins']} of {verdict['datasets']}: the aim "
            f"{'HOLDS' if verdict['aim_holds'] else 'does NOT hold'}"]


def reference_verdict_sentences(verdict: dict) -> list[str]:
    """The references' aim (``result["reference_verdict"]``): per dataset the best frozen reference, its accuracy,
    its random init's and its margin over every published figure in points; a blank line; the counts and whether
    the aim holds; then, where the run adapted a reference, the best adapted row against its architecture from
    scratch and MiniRocket."""
    _check(verdict, ["per_dataset", "above_random_init", "above_tloss", "datasets", "aim_holds"],
           "the 'reference_verdict' of a ucr result", "reference_verdict_sentences")
    per, n = verdict["per_dataset"], verdict["datasets"]
    return [*(f"{name:<17} {r['best']:<30} {r['accuracy']:.3f}  random init {r['random init']:.3f}  " + ", ".join(
                f"{k.replace('minus ', 'vs ')} {100 * x:+.1f}" for k, x in r.items() if k.startswith("minus"))
              for name, r in per.items()), "",
            f"above its random init on {verdict['above_random_init']} of {n}, above T-Loss on "
            f"{verdict['above_tloss']} of {n}: the aim (all, and at least 3) "
            f"{'HOLDS' if verdict['aim_holds'] else 'does NOT hold'}",
            *(f"{name:<17} adapted: {r['best adapted']:<40} {r['adapted accuracy']:.3f}, "
              f"{100 * r['adapted minus scratch']:+.1f} over its architecture from scratch, "
              f"{100 * r['adapted minus MiniRocket']:+.1f} vs MiniRocket" for name, r in per.items()
              if "best adapted" in r)]


def per_dataset(verdict: dict, key: str) -> dict[str, float]:
    """{dataset: verdict["per_dataset"][dataset][key]} for the datasets whose entry has ``key`` (e.g. "accuracy",
    "adapted minus scratch")."""
    _check(verdict, ["per_dataset"], "a verdict of a ucr result", "per_dataset")
    found = {name: r[key] for name, r in verdict["per_dataset"].items() if key in r}
    if not found:
        keys = sorted({k for r in verdict["per_dataset"].values() for k in r})
        raise ValueError(f"per_dataset: no dataset of the verdict has {key!r}; its entries have {keys}; pick one")
    return found


def reference_aim(verdict: dict, datasets: Sequence[str]) -> dict[str, int]:
    """On those of ``datasets`` the reference verdict covers: on how many the best reference is above its random
    init and above T-Loss, {"above_random_init": n, "above_tloss": m}."""
    _check(verdict, ["per_dataset"], "the 'reference_verdict' of a ucr result", "reference_aim")
    per = [r for name, r in verdict["per_dataset"].items() if name in datasets]
    if not per:
        raise ValueError(f"reference_aim: none of {list(datasets)} is in the verdict, which covers "
                         f"{list(verdict['per_dataset'])}; pass dataset names it has")
    return {"above_random_init": sum(r["above random init"] for r in per),
            "above_tloss": sum(r["above T-Loss"] for r in per)}


def reference_aim_sentence(verdict: dict, datasets: Sequence[str], name: str = "") -> str:
    """reference_aim read as a sentence: the aim holds when the best reference is above its random init on all of
    ``datasets`` and above T-Loss on at least 3. ``name`` leads the sentence (e.g. which layer was read)."""
    aim, n = reference_aim(verdict, datasets), sum(d in verdict["per_dataset"] for d in datasets)
    holds = aim["above_random_init"] == n and aim["above_tloss"] >= 3
    return (f"{name + ': ' if name else ''}the best reference is above its random init on {aim['above_random_init']} "
            f"of {n} and above T-Loss on {aim['above_tloss']} of {n}: the aim (all, and at least 3) "
            f"{'HOLDS' if holds else 'does NOT hold'}")


def held_out_sentence(result: dict, seen: Sequence[str], rows: Sequence[str]) -> str:
    """A ucr --layer-cv result on the datasets not in ``seen`` (those no setting was chosen on): each of ``rows``'
    mean accuracy over them, with the last layer -> with the layer chosen by cross-validation."""
    _check(result, ["summary", "summary_last_layer"], "a benchmarks/ucr.py --layer-cv result", "held_out_sentence")
    held_out = [name for name in result["summary"] if name not in seen]
    if not held_out:
        raise ValueError(f"held_out_sentence: every dataset of the result ({list(result['summary'])}) is in seen; "
                         f"pass only the datasets a setting was chosen on")
    mean = {how: {row: sum(result[how][name][row] for name in held_out) / len(held_out) for row in rows}
            for how in ("summary_last_layer", "summary")}
    return f"held-out mean ({len(held_out)} sets): " + "; ".join(
        f"{row.removeprefix('reference ')} {mean['summary_last_layer'][row]:.3f} -> {mean['summary'][row]:.3f}"
        for row in rows)


def mnist1d_table(result: dict):
    """A pandas DataFrame of a mnist1d result: a row per encoder / strategy (and baseline), a column per label
    budget ("1%", "10%", "100%"), mean test accuracy over seeds, best with every label first."""
    import pandas as pd
    _check(result, ["summary"], "a benchmarks/mnist1d.py result", "mnist1d_table")
    rows = {row: {b: v["accuracy"] for b, v in per.items()} for row, per in result["summary"].items()}
    return pd.DataFrame(rows).T.sort_values("100%", ascending=False)


def best_pretrained(result: dict, budget: str) -> float:
    """The best mean accuracy at ``budget`` (e.g. "1%") of a mnist1d result's rows that adapt a pretrained encoder
    ("<encoder> / <strategy>", not random init)."""
    _check(result, ["summary"], "a benchmarks/mnist1d.py result", "best_pretrained")
    found = [per[budget]["accuracy"] for row, per in result["summary"].items()
             if " / " in row and not row.startswith("random init") and budget in per]
    if not found:
        budgets = sorted({b for per in result["summary"].values() for b in per})
        raise ValueError(f"best_pretrained: no pretrained row at budget {budget!r}; the result has budgets "
                         f"{budgets}; pass one of those")
    return max(found)


def mnist1d_aim_sentences(result: dict) -> list[str]:
    """One line per aim of a mnist1d references result (``reference_aims``): the row it reads, what it measured
    (an accuracy, or points above from scratch), the aim and whether it holds."""
    _check(result, ["reference_aims"], "a benchmarks/mnist1d.py result with references", "mnist1d_aim_sentences")
    return [f"{name:<22} {a['row']:<44} {a.get('accuracy', a.get('points')):.3f} (aim {a['aim']}): "
            f"{'holds' if a['holds'] else 'does NOT hold'}" for name, a in result["reference_aims"].items()]


def eeg_reference_sentences(result: dict) -> list[str]:
    """The eeg-reference result (benchmarks/eeg_reference.py) as lines: the command, the labels and label draws,
    then each row's mean ± sd accuracy (frozen features, logistic regression)."""
    _check(result, ["command", "rows", "seeds"], "a benchmarks/eeg_reference.py result", "eeg_reference_sentences")
    labels = next(iter(result["rows"].values()))["labels"]
    return [f"{result['command']} ({labels} labels, {len(result['seeds'])} label draws):",
            *(f"  {row:<28} {r['mean']:.3f} ± {r['sd']:.3f}" for row, r in result["rows"].items())]
