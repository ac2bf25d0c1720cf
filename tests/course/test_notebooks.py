"""Every notebook: committed clean, and executed by the course runner in the smoke profile with its
recorded metrics checked (not only "it did not raise")."""
import json
import math
from pathlib import Path

import nbformat
import pytest

from fmlab import course

NOTEBOOKS = course.notebooks()

# What each notebook must record, and what each value must satisfy.
def accuracy(v):
    return 0.0 <= v <= 1.0


def finite(v):
    return math.isfinite(v)


def encodes(v):
    return set(v) == {"state", "subject", "artifact"} and all(map(accuracy, v.values()))


ADAPTATIONS = ("linear_probe", "full_finetune", "lora", "adapter", "prompt_tuning")


EXPECTED = {
    "00_data": {"bandpower_lr_acc": accuracy, "raw_lr_acc": accuracy},
    "01_mae": {"final_loss": finite, "probe_acc": accuracy, "random_init_probe_acc": accuracy,
               "ratio_sweep": lambda v: {"random", "block"} <= set(v) and all(
                   set(r) == {"0.25", "0.5", "0.75", "0.9"} and all(map(accuracy, r.values())) for r in v.values())},
    "02_masked_spectrum": {"final_loss": finite, "probe_acc": accuracy, "mae_probe_acc": accuracy},
    "03_contrastive": {"final_loss": finite, "probe_acc": accuracy, "weak_probe_acc": accuracy,
                       "random_probe_acc": accuracy, "encodes_default": encodes, "encodes_weak": encodes,
                       "encodes_random": encodes, "encodes_subject_negatives": encodes,
                       "subject_negatives_probe_acc": accuracy,
                       "subject_neighbours": lambda v: len(v) == 4 and all(map(accuracy, v.values())),
                       "offsets_probe_acc": lambda v: set(v) == {"random init", "default views", "offset views"}
                       and all(map(accuracy, v.values())),
                       "follows_the_offsets": lambda v: len(v) == 3 and all(map(accuracy, v.values()))},
    "04_jepa": {"final_loss": finite, "probe_acc": accuracy, "random_probe_acc": accuracy,
                "eff_rank": lambda v: v >= 1.0, "emb_std": lambda v: v >= 0.0,
                "noise_robustness": lambda v: set(v) == {"random init", "mae", "jepa"} and all(
                    set(r) == {"0.0", "0.5", "1.0"} and all(map(accuracy, r.values())) for r in v.values())},
    "05_latent_spaces": {"best_probe_acc": accuracy, "latent_table": lambda v: set(v) == {
        "random init", "mae", "spectrum", "contrastive", "jepa"} and all(
        all(map(accuracy, (r["linear_probe"], r["knn"], r["state"], r["subject"], r["artifact"])))
        and r["effective_rank"] >= 1.0 and 0.0 <= r["alignment"] <= 4.0 and r["uniformity"] <= 0.0
        for r in v.values()),
        "reference_latent_table": lambda v: set(v) == {"random init", "mae-small", "spectrum-small",
                                                       "contrastive-small"} and all(
            all(map(accuracy, (r["linear_probe"], r["knn"], r["state"]))) and r["effective_rank"] >= 1.0
            for r in v.values()),
        "reference_minus_own_probe": lambda v: -1.0 <= v <= 1.0},
    "06_adaptation": {
        "compare_eeg": lambda v: set(v) == {*ADAPTATIONS, "from_scratch", "bandpower_logreg"} and all(
            set(r) == {"1%", "10%", "100%"} and all(map(accuracy, r.values())) for r in v.values()),
        "fair_compare": lambda v: {k.split("(")[0] for k in v} == {*ADAPTATIONS, "from_scratch", "bandpower_logreg"}
        and all(set(r) == {"1%", "10%", "100%"} and all(map(accuracy, r.values())) for r in v.values()),
        "lora_gap_10pct": lambda v: -1.0 <= v <= 1.0,
        "lora_trainable_pct": lambda v: 0.0 < v <= 5.0,
        "forgetting": lambda v: set(v) == set(ADAPTATIONS) and all(
            all(math.isnan(r[t]) or -1.0 <= r[t] <= 1.0 for t in ("state", "subject", "artifact")) for r in v.values())
        and {name: r["base_intact"] for name, r in v.items()} == {name: name != "full_finetune" for name in v},
        "delta_bytes": lambda v: 0 < v["linear_probe"] < v["lora"] < v["full_finetune"] / 10,
        "compare_ucr": lambda v: set(v) == {*ADAPTATIONS, "from_scratch", "minirocket"} and all(
            set(r) == {"20%", "100%"} and all(map(accuracy, r.values())) for r in v.values()),
    },
    "07_explorer": {"redraw_seconds": lambda v: 0.0 < v < 30.0, "adapt_accuracy": accuracy,
                    "adapt_trainable_params": lambda v: v > 0, "adapt_delta_bytes": lambda v: v > 0,
                    "neighbours_same_state": accuracy},
    "08_benchmarks": {"ucr_best": lambda v: set(v) == {"GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions"}
                      and all(map(accuracy, v.values())), "ucr_wins": lambda v: v in range(5),
                      "mnist1d_best_4000": accuracy, "mnist1d_best_40": accuracy,
                      "mnist1d_gap_cnn_points": lambda v: -94.0 <= v <= 6.0,
                      "ucr_reference_best": lambda v: set(v) == {"GunPoint", "ItalyPowerDemand", "ArrowHead",
                                                                 "BasicMotions"} and all(map(accuracy, v.values())),
                      "ucr_reference_above_random_init": lambda v: v in range(5),
                      "ucr_reference_above_tloss": lambda v: v in range(5),
                      "ucr_reference_adapted_minus_scratch": lambda v: set(v) == {
                          "GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions"} and all(
                          -1.0 <= x <= 1.0 for x in v.values()),
                      "mnist1d_reference_aims": lambda v: set(v) == {"frozen_logreg_100%", "adapted_100%",
                                                                     "above_scratch_1%", "above_scratch_10%"},
                      **{f"ucr_{key}_aim": lambda v: set(v) == {"above_random_init", "above_tloss"} and all(
                          n in range(5) for n in v.values()) for key in ("reference_verdict",
                                                                          "reference_verdict_last_layer")}},
    "09_foundation": {
        "embed_shapes": lambda v: {k: s[1] for k, s in v.items()} == {"eeg": 19 * 128, "GunPoint": 128,
                                                                        "BasicMotions": 6 * 128,
                                                                        "JapaneseVowels": 12 * 128},
        "dataset_knn": accuracy,
        **{f"label_efficiency_{name}": lambda v: set(v) == {"linear_probe", "full_finetune", "from_scratch",
                                                              "minirocket"} and all(
            len(r) == 3 and all(map(accuracy, r.values())) for r in v.values()) for name in ("GunPoint", "MNIST-1D")},
        **{f"gain_over_scratch_fewest_{name}": lambda v: -100.0 <= v <= 100.0 for name in ("GunPoint", "MNIST-1D")},
    },
    "10_scaling": {
        "scaling_exponents": lambda v: set(v) == {"mae", "next-patch"} and all(
            0.0 <= e[k][0] <= e[k][1] <= 2.0 and 0.0 <= e[k.split("_")[0]] <= 2.0
            for e in v.values() for k in ("alpha_interval", "beta_interval")),
        "scaling_check": lambda v: set(v) == {"mae", "next-patch"} and all(
            c["low"] <= c["high"] and c["inside"] == (c["low"] <= c["measured"] <= c["high"]) and c["measured"] > 0
            for c in v.values()),
        "next_patch_check_error_pct": finite,
        "scaling_probe": lambda v: set(v) == {"mae", "next-patch"} and all(
            len(r) == 2 and all(map(accuracy, r.values())) for r in v.values()),
    },
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_clean_with_one_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs; clear them before committing"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', has {len(tagged)}"
    assert "profile" in tagged[0].source


def test_every_notebook_has_expectations():
    assert {p.stem for p in NOTEBOOKS} <= set(EXPECTED), "add the new notebook's metrics to EXPECTED"


@pytest.mark.notebook
@pytest.mark.parametrize("stem", [p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile_and_records_its_metrics(smoke_run, stem):
    out, results = smoke_run
    r = results[stem]
    assert r["status"] == "ok", f"{stem} failed in cell {r.get('cell')}: {r.get('error')}\n{r.get('traceback')}"
    assert (out / f"{stem}.html").exists()
    for name, check in EXPECTED[stem].items():
        assert name in r["metrics"], f"{stem} did not record {name}; it recorded {sorted(r['metrics'])}"
        value = r["metrics"][name]
        assert not (isinstance(value, float) and math.isnan(value)), f"{stem}: {name} is NaN"
        assert check(value), f"{stem}: {name} = {value} is out of range"


@pytest.mark.notebook
def test_report_index_lists_every_notebook(smoke_run):
    out, results = smoke_run
    index = (out / "index.html").read_text()
    assert all(stem in index for stem in results)
    assert json.loads((out / "metrics.json").read_text()).keys() == results.keys()
