"""The diagnostics figures (augmentations, EMA schedule, collapse, what it encodes) and Contrastive's
augmentations by name."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

import fmlab
from fmlab.data import augment as A
from fmlab.pretrain.contrastive import Contrastive, default_augment, weak_augment
from fmlab.train import History
from fmlab.viz import diagnostics as D


def tiny_encoder(channels=3, length=64):
    return fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=channels, length=length))


def jepa_history(steps=40, probe=True):
    h = History(step=list(range(steps)), loss=[1.0] * steps, lr=[1e-3] * steps, seconds=1.0)
    for s in range(steps):
        h.add("emb_std", s, 0.08 - s / 1000)
        h.add("eff_rank", s, 30.0 - s / 4)
    if probe:
        for s in (10, 20, 40):
            h.add("probe_acc", s, 0.3 + s / 100)
    return h


def test_augmentations_gallery_has_one_row_per_view_plus_the_original():
    x = torch.randn(5, 128)
    fig = D.plot_augmentations(x, {"jitter": A.Jitter(0.1), "shift": A.TimeShift()}, fs=32.0, channels=[0, 4])
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 2  # traces and spectrum per row
    titles = [ax.get_title(loc="left") for ax in fig.axes[::2]]
    assert titles[0] == "original" and titles[1].startswith("jitter: waveform change")
    assert "spectrum change 0.0 dB" in titles[2]  # a circular shift keeps the spectrum


def test_augmentations_gallery_leaves_the_global_generator_alone_and_repeats_itself():
    x = torch.randn(3, 64)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    f1 = D.plot_augmentations(x, {"mask": A.TimeMask()}, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    f2 = D.plot_augmentations(x, {"mask": A.TimeMask()}, seed=3)
    assert f1.axes[2].get_title(loc="left") == f2.axes[2].get_title(loc="left")


def test_augmentations_gallery_takes_channel_names_and_rejects_bad_input():
    eeg = fmlab.data.load("eeg", n=8, seed=0)
    fig = D.plot_augmentations(eeg.x[0], {"default": default_augment(eeg.fs)}, fs=eeg.fs, channels=["Fp1", "O1"],
                               names=eeg.channels, seconds=1.0)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Fp1", "O1"]
    with pytest.raises(ValueError, match="dict name -> augmentation"):
        D.plot_augmentations(eeg.x[0], [A.Jitter()])
    with pytest.raises(ValueError, match="keep the shape"):
        D.plot_augmentations(eeg.x[0], {"crop": lambda b: b[..., :100]})
    with pytest.raises(ValueError, match=r"one signal \[C, T\]"):
        D.plot_augmentations(eeg.x[:2], {"jitter": A.Jitter()})


def test_ema_schedule_plots_momentum_and_memory():
    fig = D.plot_ema_schedule(100)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    m = fig.axes[0].lines[0].get_ydata()
    assert m[0] == pytest.approx(0.996) and m[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive int"):
        D.plot_ema_schedule(0)
    with pytest.raises(ValueError, match="start <= end"):
        D.plot_ema_schedule(100, start=1.2)


def test_collapse_panels_with_and_without_probe():
    fig = D.plot_collapse(jepa_history(), dim=64, batch_size=32)
    assert len(fig.axes) == 3 and "0.7 at the end" in fig.axes[2].get_title()
    assert "at most (32)" in fig.axes[1].get_legend_handles_labels()[1]  # a batch of 32 spans 32 directions at most
    assert len(D.plot_collapse(jepa_history(probe=False)).axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["std of normalised embeddings", "effective rank", "linear-probe accuracy"]


def test_collapse_needs_the_monitors():
    h = History(step=[0], loss=[1.0])
    h.add("probe_acc", 1, 0.5)
    with pytest.raises(ValueError, match="no emb_std or eff_rank"):
        D.plot_collapse(h)
    with pytest.raises(ValueError, match="History"):
        D.plot_collapse({"emb_std": [0.1]})


def test_what_it_encodes_groups_bars_and_marks_chance():
    eeg = fmlab.data.load("eeg", n=32, seed=0)
    scores = {"a": {"state": 0.8, "subject": 0.3, "artifact": 0.6},
              "b": {"state": 0.5, "subject": 0.9, "artifact": 0.7}}
    fig = D.plot_what_it_encodes(scores, data=eeg)
    ax = fig.axes[0]
    assert len(ax.patches) == 6 and len(ax.collections) == 3  # 2 encoders x 3 properties; a chance line each
    chance = fmlab.evaluate.majority_chance(eeg)
    assert chance["artifact"] == 0.5 and 0.25 <= chance["state"] < 1 and 0 < chance["subject"] < 1
    shares = torch.bincount(eeg.y).double() / len(eeg)
    assert chance["state_neighbours"] == pytest.approx(float((shares ** 2).sum()))  # two random samples agree
    assert len(D.plot_what_it_encodes(scores).axes[0].collections) == 1  # only the artifact's 0.5 is known
    with pytest.raises(ValueError, match="encoder name"):
        D.plot_what_it_encodes({"a": 0.8})


@pytest.mark.parametrize("name,expected", [("default", default_augment(64.0)), ("weak", weak_augment())])
def test_contrastive_takes_augmentations_by_name(name, expected):
    c = Contrastive(tiny_encoder(), augment=name, fs=64.0)
    assert repr(c.augment) == repr(expected)
    assert torch.isfinite(c(torch.randn(4, 3, 64))["loss"])


def test_contrastive_default_and_callable_augment_and_unknown_name():
    steps = Contrastive(tiny_encoder(), fs=64.0).augment.steps
    assert [type(a) for a, _ in steps] == [type(a) for a, _ in default_augment(64.0).steps]
    assert [a.fs for a, _ in steps if isinstance(a, A.BandStop)] == [64.0]
    jitter = A.Jitter(0.2)
    assert Contrastive(tiny_encoder(), augment=jitter).augment is jitter
    with pytest.raises(ValueError, match="default, weak"):
        Contrastive(tiny_encoder(), augment="strong")


def test_weak_augment_name_reaches_the_recipe_settings():
    from fmlab.pretrain.recipes import run_settings
    s = run_settings("contrastive", profile="smoke", augment="weak")
    assert s["objective_args"] == {"augment": "weak"}


def test_collapse_verdict_applies_the_notebooks_rule():
    from fmlab.evaluate_geometry import collapse_verdict
    from fmlab.train import History

    def run(std_end, rank_end):
        h = History()
        for step, (s, r) in enumerate([(0.06, 50.0), (std_end, rank_end)]):
            h.add("emb_std", step, s)
            h.add("eff_rank", step, r)
        return h
    assert "IS collapsing" in collapse_verdict(run(0.018, 22.3), 128, probe_gap=-0.065, noise=0.03)
    assert "near miss" in collapse_verdict(run(0.018, 40.0), 128, probe_gap=0.08, noise=0.03)
    assert "not collapsing" in collapse_verdict(run(0.05, 45.0), 128, probe_gap=0.0, noise=0.03)
