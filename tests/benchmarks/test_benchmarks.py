"""The pile, the benchmark plots, and the two real-data benchmarks run end to end in the smoke profile."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmlab.adapt.compare import ADAPTATIONS
from fmlab.data.dataset import SignalDataset
from fmlab.data.pile import make_pile, univariate

ROOT = Path(__file__).resolve().parents[2]


def _data(n=6, c=2, t=30, name="toy", seed=0):
    g = torch.Generator().manual_seed(seed)
    return SignalDataset(3 + 5 * torch.randn(n, c, t, generator=g), torch.arange(n) % 2, ["a", "b"], 10.0, name=name)


def test_univariate_splits_channels_resamples_and_normalises():
    ds = _data()
    x = univariate(ds, length=64)
    assert x.shape == (12, 1, 64)
    assert torch.allclose(x.mean(-1), torch.zeros(12), atol=1e-5)
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(12), atol=1e-4)
    # sample 0's two channels come first, in order: row 1 is channel 1 of sample 0, resampled then normalised
    r = torch.nn.functional.interpolate(ds.x[None, 0, 1:2], size=64, mode="linear", align_corners=True)[0, 0]
    assert torch.allclose(r[[0, -1]], ds.x[0, 1, [0, -1]])  # end points kept
    assert torch.allclose(x[1, 0], (r - r.mean()) / r.std(unbiased=False), atol=1e-4)


def test_univariate_constant_series_become_zeros():
    ds = SignalDataset(torch.ones(2, 1, 10), torch.zeros(2, dtype=torch.int64), ["a"], 1.0)
    assert torch.equal(univariate(ds, 16), torch.zeros(2, 1, 16))


def test_make_pile_caps_each_source_and_tags_it():
    pile = make_pile([_data(n=10, c=3, name="a"), _data(n=4, c=1, t=50, name="b")], length=32, per_source=20, seed=1)
    assert pile.x.shape == (24, 1, 32)
    assert pile.meta["source"].tolist() == [0] * 20 + [1] * 4
    assert pile.classes == ["unlabelled"] and pile.name == "pile(a+b)"
    again = make_pile([_data(n=10, c=3, name="a"), _data(n=4, c=1, t=50, name="b")], length=32, per_source=20, seed=1)
    assert torch.equal(pile.x, again.x)


@pytest.mark.parametrize("bad, message", [(dict(length=1), "length"), (dict(per_source=0), "per_source")])
def test_pile_bad_arguments_say_what_was_expected(bad, message):
    with pytest.raises(ValueError, match=message):
        make_pile([_data()], **bad)
    with pytest.raises(ValueError, match="at least one"):
        make_pile([])


def _run(script: str, out: Path, *args: str) -> dict:
    env = {**os.environ, "FMLAB_DEVICE": "cpu"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--profile", "smoke", "--seeds", "0",
                           "--out", str(out), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def ucr_result(tmp_path_factory):
    return _run("ucr.py", tmp_path_factory.mktemp("ucr") / "ucr.json", "--datasets", "ItalyPowerDemand",
                "--objectives", "mae", "--references", "contrastive-small",
                "--adapt", "contrastive-small", "--layer-cv")


@pytest.fixture(scope="module")
def mnist1d_result(tmp_path_factory):
    return _run("mnist1d.py", tmp_path_factory.mktemp("mnist1d") / "mnist1d.json", "--objectives",
                "--full-grid", "2", "--probe-seeds", "0", "--references", "contrastive-small")


@pytest.mark.slow
def test_ucr_benchmark_writes_its_results(ucr_result):
    r = ucr_result
    assert r["benchmark"] == "ucr" and r["profile"] == "smoke" and r["seeds"] == [0]
    assert r["command"].startswith("python benchmarks/ucr.py") and r["device"] and r["versions"]["torch"]
    table = r["summary"]["ItalyPowerDemand"]
    adapted = {f"reference contrastive-small / {s}" for s in ADAPTATIONS} | {"scratch (reference architecture)"}
    assert set(table) == {"random init", "mae", "reference contrastive-small",
                          "reference random init", "MiniRocket (measured)", "1NN-DTW (measured)"} | adapted
    assert all(0.0 <= v <= 1.0 for v in table.values())
    assert all(ref["source"] and ref["accuracy"]["ItalyPowerDemand"] for ref in r["references"].values())
    assert {"T-Loss", "1NN-DTW", "TS2Vec", "MOMENT (zero-shot + SVM)"} == set(r["references"])
    assert r["verdict"]["datasets"] == 1 and isinstance(r["verdict"]["aim_holds"], bool)
    rv = r["reference_verdict"]["per_dataset"]["ItalyPowerDemand"]
    assert rv["best"] == "reference contrastive-small" and rv["random init"] == table["reference random init"]
    assert rv["best adapted"] in adapted and rv["adapted minus scratch"] == pytest.approx(
        table[rv["best adapted"]] - table["scratch (reference architecture)"])
    frozen = r["results"]["ItalyPowerDemand"]["rows"]["reference contrastive-small"]["0"]
    assert r["reference_pool"] == "mean+max" and 0.0 <= frozen["svm_mean_pool"] <= 1.0
    assert r["reference_encoders"]["contrastive-small"]["command"].startswith("fmlab pretrain")
    # --layer-cv: the layer 5-fold CV on the train split chose, scored; the last layer's score kept beside it
    assert r["reference_layer_cv"] is True and set(frozen["layer_cv"]) == {
        "last", "block 4", "block 3", "last two", "every block"}
    assert frozen["layer"] in frozen["layer_cv"] and 0.0 <= frozen["svm_last_layer"] <= 1.0
    known = {k: v for k, v in frozen["layer_cv"].items() if v is not None}
    assert not known or known[frozen["layer"]] == max(known.values())
    assert r["summary_last_layer"]["ItalyPowerDemand"]["reference contrastive-small"] == frozen["svm_last_layer"]
    assert r["chosen_layers"]["ItalyPowerDemand"]["reference contrastive-small"] == [frozen["layer"]]
    assert r["reference_verdict_last_layer"]["per_dataset"]["ItalyPowerDemand"]["accuracy"] == frozen["svm_last_layer"]


@pytest.mark.slow
def test_mnist1d_benchmark_writes_its_results(mnist1d_result):
    r = mnist1d_result
    assert r["benchmark"] == "mnist1d" and r["command"].startswith("python benchmarks/mnist1d.py")
    assert set(r["budgets"]) == {"1%", "10%", "100%"}
    assert set(r["full_grid"]) == {"reference contrastive-small", "reference contrastive-small @128"}
    assert {"reference contrastive-small / lora", "reference contrastive-small @128 / full_finetune",
            "random init / logreg probe", "from_scratch", "minirocket", "reference contrastive-small / logreg probe",
            "reference contrastive-small @128 / logreg probe", "scratch (reference architecture) / from_scratch",
            "scratch (reference architecture) @128 / from_scratch"} <= set(r["summary"])
    aims = r["reference_aims"]
    assert set(aims) == {"frozen_logreg_100%", "adapted_100%", "above_scratch_1%", "above_scratch_10%"}
    assert all(isinstance(a["holds"], bool) for a in aims.values())
    assert all(0.0 <= b["accuracy"] <= 1.0 for row in r["summary"].values() for b in row.values())
    assert r["references"]["accuracy"]["CNN"] == 0.94
    assert r["aim"]["best"].startswith("reference contrastive-small") and isinstance(r["aim"]["aim_holds"], bool)


@pytest.mark.slow
def test_benchmark_plots_draw_the_saved_results(ucr_result, mnist1d_result):
    from fmlab.viz.benchmarks import plot_label_efficiency, plot_ucr
    assert plot_ucr(ucr_result).axes[0].patches
    assert plot_label_efficiency(mnist1d_result).axes[0].lines
    with pytest.raises(ValueError, match="expected the dict that benchmarks/ucr.py writes"):
        plot_ucr(mnist1d_result)


def test_plot_ucr_draws_a_committed_file_with_the_old_foundation_row():
    """ucr-cpu.json was written with the pile variant since removed: its "foundation mae" row is still drawn."""
    from fmlab.viz.benchmarks import plot_ucr
    result = json.loads((ROOT / "benchmarks" / "results" / "ucr-cpu.json").read_text())
    bars = [c.get_label() for c in plot_ucr(result).axes[0].containers]
    # random init, the best per-dataset encoder, the best foundation row, the measured baselines
    assert bars == ["random init", "contrastive", "foundation mae", "MiniRocket (measured)", "1NN-DTW (measured)"]


@pytest.mark.notebook
def test_course_time_times_each_notebook_from_an_empty_cache(tmp_path):
    out = tmp_path / "course-time.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "course_time.py"), "--profile", "smoke",
                           "--only", "08", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "FMLAB_CACHE": str(tmp_path / "not-this-one")})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (row,) = result["notebooks"]
    assert row["notebook"] == "08_benchmarks" and row["status"] == "ok" and 0 < row["seconds"] < 300
    assert row["slowest_cells"] and all(c["seconds"] >= 0 for c in row["slowest_cells"])
    assert result["empty_cache"] and result["total_s"] == row["seconds"] and result["over_notebook_target"] == []
    assert not (tmp_path / "not-this-one").exists()   # its own empty cache, not the caller's
