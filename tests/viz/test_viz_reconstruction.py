"""Reconstruction pictures, the mask explorer and the ratio sweep: each plot has the panels it promises,
bad settings give a message or a ValueError that says what to fix. Tiny untrained models only."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

import fmlab
from fmlab.explore import ReconstructionExplorer
from fmlab.pretrain.sweeps import mask_ratio_sweep
from fmlab.viz import reconstruction as R

B, C, T = 4, 3, 64


def panels(fig: Figure) -> int:
    return sum(1 for ax in fig.axes if not hasattr(ax, "_colorbar"))


def colorbars(fig: Figure) -> int:
    return sum(1 for ax in fig.axes if hasattr(ax, "_colorbar"))


def tiny(objective=fmlab.pretrain.MAE, channels=C, **kwargs):
    torch.manual_seed(0)
    cfg = fmlab.models.EncoderConfig.preset("tiny", channels=channels, length=T, patch_size=8)
    return objective(fmlab.models.Encoder(cfg), **kwargs).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(B, C, T, generator=torch.Generator().manual_seed(0))


def gen():
    return torch.Generator().manual_seed(0)


def test_reconstruction_shows_traces_and_an_error_map(x):
    res = tiny().reconstruct(x, generator=gen())
    fig = R.plot_reconstruction(res, index=1, names=["a", "b", "c"], fs=32.0)
    assert isinstance(fig, Figure) and panels(fig) == 2 and colorbars(fig) == 1
    traces, grid = fig.axes[:2]
    assert traces.get_title().startswith("sample 1:") and "hidden" in traces.get_title()
    assert [t.get_text() for t in grid.get_yticklabels()] == ["a", "b", "c"]
    assert grid.get_xlabel() == "time (s)"
    assert len(R.plot_reconstruction(res, channels=[2]).axes[0].get_yticklabels()) == 1


def test_reconstruction_rejects_foreign_results_and_bad_indices(x):
    res = tiny().reconstruct(x, generator=gen())
    with pytest.raises(ValueError, match="out of range"):
        R.plot_reconstruction(res, index=B)
    with pytest.raises(ValueError, match="reconstruct"):
        R.plot_reconstruction({"input": x})
    with pytest.raises(ValueError, match="fs"):
        R.plot_reconstruction_spectra(res, fs=0)


def test_reconstruction_spectra_in_frequency(x):
    fig = R.plot_reconstruction_spectra(tiny().reconstruct(x, generator=gen()), fs=32.0)
    assert panels(fig) == 2
    assert {line.get_label() for line in fig.axes[0].lines} >= {"original", "reconstruction"}


@pytest.mark.parametrize("tokens", [1, 3])
def test_spectrum_reconstruction_panels(x, tokens):
    res = tiny(fmlab.pretrain.MaskedSpectrum).reconstruct(x, generator=gen())
    fig = R.plot_spectrum_reconstruction(res, tokens=tokens, fs=32.0)
    assert panels(fig) == tokens + 2 and colorbars(fig) == 1  # spectra, their mean, the error map
    assert "mean of all" in fig.axes[tokens].get_title()


def test_ratio_sweep_plot_and_its_checks():
    fig = R.plot_ratio_sweep([0.25, 0.5, 0.75], [0.4, 0.5, 0.45], reference={"random init": 0.3}, chance=0.25)
    assert panels(fig) == 1 and len(fig.axes[0].lines) == 3
    with pytest.raises(ValueError, match="one accuracy per ratio"):
        R.plot_ratio_sweep([0.25, 0.5], [0.4])
    seeds = {"random": [[0.4, 0.42], [0.5, 0.46], [0.45, 0.47]], "block": [[0.3, 0.31], [0.35, 0.4], [0.5, 0.52]]}
    fig = R.plot_ratio_sweep([0.25, 0.5, 0.75], seeds, noise=0.02)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines[:1]] == ["random masks, linear probe (2 seeds: mean, range)"]
    assert len(ax.collections) >= 2, "the seeds' range is shaded for each kind"
    with pytest.raises(ValueError, match="one list of seeds per ratio"):
        R.plot_ratio_sweep([0.25, 0.5], {"random": [[0.4, 0.5]]})


@pytest.mark.parametrize("kind", fmlab.masking.MASK_KINDS)
def test_explorer_draws_every_mask_kind(x, kind):
    ex = ReconstructionExplorer(tiny(), x, fs=32.0)
    fig = ex.figure(0.5, kind, 2)
    assert isinstance(fig, Figure) and panels(fig) == 2
    assert f"sample 2, {kind} mask at ratio 0.50" in fig.axes[0].get_title()


def test_explorer_says_why_instead_of_raising():
    one_channel = torch.randn(B, 1, T)
    ex = ReconstructionExplorer(tiny(channels=1), one_channel)
    for ratio in (0.25, 0.75):  # one channel: a channel mask either rounds up to it or is refused
        message = ex.render(ratio, "channel", 0)
        assert isinstance(message, str) and "hides all" in message
    assert isinstance(ex.update(0.95, "block", 0), str)  # 0.95 of 8 time patches is all of them
    assert isinstance(ex.update(0.5, "random", 0), Figure)
    assert "out of range" in ex.render(0.5, "random", B)


def test_explorer_panel_and_its_static_picture(x):
    ex = ReconstructionExplorer(tiny(), x)
    sliders = ex.widget.children[0].children
    assert [type(s).__name__ for s in sliders] == ["FloatSlider", "Dropdown", "IntSlider"]
    assert (sliders[0].min, sliders[0].max, sliders[2].max) == (0.05, 0.95, B - 1)
    sliders[1].value = "block"  # moving a control redraws at once
    assert ex.state["kind"] == "block" and isinstance(ex.shown, Figure)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "image/png" in bundle


def test_explorer_refuses_what_it_cannot_draw(x):
    with pytest.raises(ValueError, match="expected an MAE"):
        ReconstructionExplorer(tiny(fmlab.pretrain.MaskedSpectrum), x)
    with pytest.raises(ValueError, match=r"\[N, C, T\]"):
        ReconstructionExplorer(tiny(), x[0])


@pytest.mark.parametrize("args,match", [(dict(ratios=()), "ratios"), (dict(ratios=(0.5, 1.0)), "ratios"),
                                        (dict(kind="stripes"), "mask kind"), (dict(profile="huge"), "profile")])
def test_sweep_checks_its_arguments_before_training(args, match):
    with pytest.raises(ValueError, match=match):
        mask_ratio_sweep(**args)


def test_sweep_refuses_a_ratio_that_hides_everything_before_training():
    with pytest.raises(ValueError, match="hides all"):  # 0.95 of 8 time patches is all of them
        mask_ratio_sweep((0.5, 0.95), profile="smoke", kind="block")


def test_sweep_gives_one_accuracy_per_ratio():
    accs = mask_ratio_sweep((0.5, 0.75), data="mnist1d", profile="smoke", steps=2, progress=False)
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)


def test_sweep_sentences_say_beyond_or_within_the_noise(tmp_path):
    import json
    from fmlab.pretrain.sweeps import read_sweep, sweep_sentences
    sweep = dict(ratios=[0.5, 0.75], random_init=[0.5, 0.5], noise=0.01,
                 kinds={"random": [[0.60, 0.61], [0.70, 0.71]], "block": [[0.60, 0.62], [0.61, 0.60]]})
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sweep))
    random, block = sweep_sentences(read_sweep(path))
    assert random.startswith("random masks: best at ratio 0.75 (0.705") and "+0.100, beyond the noise" in random
    assert "within the noise" in block.split(";")[0] and "beyond the noise" in block.split(";")[1]
    with pytest.raises(ValueError, match="benchmarks/ratio_sweep.py"):
        read_sweep(tmp_path / "missing.json")


@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_the_two_error_numbers_of_a_reconstruction_are_one_number(x, ratio):
    """The title's error (share of the hidden samples' variance) and the error map's mean agree, at any ratio."""
    import re
    res = tiny().reconstruct(x * torch.tensor([1.0, 10.0, 0.1])[:, None], ratio=ratio, generator=gen())
    fig = R.plot_reconstruction(res, index=0)
    title = float(re.search(r"error on the hidden patches = ([0-9.]+)", fig.axes[0].get_title()).group(1))
    mean = float(re.search(r"mean ([0-9.e+-]+)", fig.axes[1].get_title()).group(1))
    assert mean == pytest.approx(title, rel=0.02), (title, mean)


def test_explorer_draws_the_same_channels_at_every_ratio():
    """The rows drawn are picked when a sample and mask kind are first drawn and kept while the ratio moves (the
    most hidden channels of each ratio's own mask differ, which made the traces jump)."""
    many = torch.randn(B, 8, T, generator=torch.Generator().manual_seed(1))
    ex = ReconstructionExplorer(tiny(channels=8), many)
    rows = lambda fig: [t.get_text() for t in fig.axes[0].get_yticklabels()]
    own = {r: R.default_channels(ex.reconstruct(ex.mae, r, "channel", 0)) for r in (0.25, 0.5, 0.75)}
    assert len({tuple(v) for v in own.values()}) > 1  # each ratio alone would pick other rows
    first = rows(ex.figure(0.25, "channel", 0))
    assert all(rows(ex.figure(r, "channel", 0)) == first for r in (0.5, 0.75))
    assert rows(ex.figure(0.75, "channel", 1)) == rows(R.plot_reconstruction(
        ex.reconstruct(ex.mae, 0.75, "channel", 1), label="x"))  # another sample: picked afresh
