"""fmlab.scaling: the grid runs, the fitted law and the compute-optimal split."""
import numpy as np
import pytest
import torch

from fmlab import scaling


def law_runs(alpha=0.3, beta=0.5, e=0.2, a=4.0, b=30.0, noise=0.01, seed=0):
    """Runs whose losses follow a known law, with multiplicative noise: 5 sizes x 4 budgets."""
    rng = np.random.default_rng(seed)
    runs = []
    for n in np.logspace(3, 6, 5):
        for d in np.logspace(5, 8, 4):
            loss = (e + a / n ** alpha + b / d ** beta) * np.exp(noise * rng.standard_normal())
            runs.append(dict(parameters=n, tokens=d, loss=loss, flops=6 * n * d))
    return runs


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_fit_law_recovers_the_exponents_of_a_known_law_and_brackets_them():
    law = scaling.fit_law(law_runs(), bootstrap=100)
    assert abs(law.alpha - 0.3) < 0.05 and abs(law.beta - 0.5) < 0.08, law
    lo, hi = law.interval("alpha")
    assert lo < 0.3 < hi and hi - lo < 0.2
    assert law.flops_per_nd == pytest.approx(6)
    truth = 0.2 + 4 / 1e7 ** 0.3 + 30 / 1e9 ** 0.5                  # a run beyond the grid in N and D
    assert abs(float(law.predict(1e7, 1e9)) / truth - 1) < 0.1
    lo, hi = law.interval("loss", n=1e7, d=1e9)
    assert lo <= float(law.predict(1e7, 1e9)) <= hi


def test_a_law_fitted_to_noise_has_a_wide_interval():
    """Losses with no trend in N: the exponent's interval must not look certain."""
    rng = np.random.default_rng(1)
    runs = [dict(parameters=n, tokens=d, loss=1 + 0.05 * rng.standard_normal(), flops=6 * n * d)
            for n in np.logspace(3, 5, 4) for d in np.logspace(5, 6, 3)]
    lo, hi = scaling.fit_law(runs, bootstrap=60).interval("alpha")
    assert hi - lo > 0.2


def test_compute_optimal_size_grows_as_the_square_root_of_compute_when_alpha_equals_beta():
    law = scaling.Law(E=0.1, A=10.0, alpha=0.35, B=10.0, beta=0.35, flops_per_nd=6.0, samples=np.zeros((1, 5)))
    small, big = law.optimal(1e12), law.optimal(1e16)
    slope = np.log10(big["parameters"] / small["parameters"]) / 4
    assert abs(slope - 0.5) < 0.03, slope
    assert big["loss"] < small["loss"]
    assert 6 * small["parameters"] * small["tokens"] == pytest.approx(1e12, rel=1e-6)


def test_fit_law_and_config_refuse_bad_input():
    with pytest.raises(ValueError, match="at least 5 runs"):
        scaling.fit_law(law_runs()[:4])
    with pytest.raises(ValueError, match="width in"):
        scaling.config(17)
    with pytest.raises(ValueError, match="'alpha', 'beta'"):
        scaling.fit_law(law_runs(), bootstrap=5).interval("gamma")


def test_a_grid_run_counts_n_d_c_measures_held_out_loss_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    r = scaling.run("next-patch", width=16, steps=12, batch_size=16)
    assert scaling.config(16, "next-patch").causal and not scaling.config(16, "mae").causal
    assert r["tokens"] == 12 * 16 * 16 and r["parameters"] == scaling.non_embedding_parameters(scaling.encoder_of(r))
    assert r["parameters"] < r["all_parameters"] and r["flops"] > 0
    assert 2 < r["flops"] / (r["parameters"] * r["tokens"]) < 200, "about 6 N D, plus embeddings and the head"
    torch.manual_seed(0)
    untrained = scaling.objective_for("next-patch", scaling.Encoder(scaling.config(16, "next-patch")))
    untrained = scaling.held_out_loss(untrained, scaling.series(scaling.HELD_OUT, 10_000))
    assert r["loss"] < untrained, "12 steps already lower the held-out loss"
    monkeypatch.setattr(scaling, "fit", lambda *a, **k: pytest.fail("a cached run trained again"))
    assert scaling.run("next-patch", width=16, steps=12, batch_size=16) == r


def test_series_are_shuffled_across_families_and_reproducible():
    a, b = scaling.series(64, seed=3), scaling.series(64, seed=3)
    assert a.shape == (64, 1, 128) and torch.equal(a, b)
    assert not torch.equal(scaling.series(64, seed=4), a)


@pytest.mark.slow
def test_scaling_benchmark_writes_the_laws_and_the_prediction_test(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "scaling.json"
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "scaling.py"), "--profile", "smoke",
                           "--bootstrap", "10", "--out", str(out)], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "FMLAB_CACHE": str(tmp_path / "cache")}, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["command"].startswith("python benchmarks/scaling.py") and set(r["objectives"]) == {"mae", "next-patch"}
    for o in r["objectives"].values():
        assert len(o["runs"]) == 6 and o["check_run"]["width"] == 32
        p = o["prediction"]
        assert p["inside"] == (p["low"] <= p["measured"] <= p["high"]) and p["measured"] == o["check_run"]["loss"]
