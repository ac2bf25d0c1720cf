"""The plotting helpers: each returns a Figure with the panels it promises, and bad input says what to fix."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

import fmlab
from fmlab.masking import make_mask
from fmlab.train import History
from fmlab.viz import plots, spectra
from toy import sine_classes


def panels(fig: Figure) -> int:
    """Axes that hold data (colour bars are axes too, and are left out)."""
    return sum(1 for ax in fig.axes if not hasattr(ax, "_colorbar"))


@pytest.fixture(scope="module")
def eeg():
    return fmlab.data.load("eeg", n=64, seed=0)


def history(metrics=True):
    h = History(step=list(range(30)), loss=[1 / (s + 1) for s in range(30)], lr=[1e-3] * 30, seconds=1.5)
    if metrics:
        for s in (0, 10, 20, 29):
            h.add("probe_acc", s, 0.5 + s / 100)
    return h


def test_history_plots_loss_on_log_axis_and_metrics_on_a_twin():
    fig = plots.plot_history(history())
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log"
    assert len(plots.plot_history(history(metrics=False)).axes) == 1
    assert isinstance(history().plot(), Figure)  # History.plot goes through plot_history


def test_history_draws_into_a_given_axes():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert plots.plot_history(history(), ax=ax) is fig
    plt.close(fig)


def test_history_rejects_empty_and_foreign_input():
    with pytest.raises(ValueError, match="no steps"):
        plots.plot_history(History())
    with pytest.raises(ValueError, match="History"):
        plots.plot_history([1.0, 0.5])


def test_signals_and_examples_on_a_small_dataset():
    ds = sine_classes(n=16, channels=2, length=64)
    fig = plots.plot_signals(ds, index=3, seconds=0.5)
    assert isinstance(fig, Figure) and panels(fig) == 1
    assert "fast" in fig.axes[0].get_title()
    assert panels(plots.plot_examples(ds, per_class=2)) == 2 * 2


def test_signals_rejects_bad_index_and_channels():
    ds = sine_classes(n=8)
    with pytest.raises(ValueError, match="out of range"):
        plots.plot_signals(ds, index=8)
    with pytest.raises(ValueError, match="unknown channel"):
        plots.plot_signals(ds, channels=["Cz"])
    with pytest.raises(ValueError, match="SignalDataset"):
        plots.plot_signals(ds.x)


def test_eeg_figures(eeg):
    fig = plots.plot_signals(eeg, index=0, channels=["O1", "O2"])
    assert panels(fig) == 1 and "artifacts" in fig.axes[0].get_title()
    assert panels(spectra.plot_spectra(eeg)) == 1
    classes = len(set(eeg.y.tolist()))
    bands = fmlab.data.eeg.BANDS
    assert panels(spectra.plot_topomaps(eeg)) == classes * len(bands)
    kinds = [k for k in fmlab.data.eeg.ARTIFACTS if eeg.meta[k].any()]
    assert panels(spectra.plot_artifacts(eeg)) == 2 * len(kinds)  # traces and a spectrum per kind


def test_topomaps_need_the_eeg_montage():
    with pytest.raises(ValueError, match="montage"):
        spectra.plot_topomaps(sine_classes(n=8))


def test_artifacts_need_artifact_flags():
    with pytest.raises(ValueError, match="no artifact flags"):
        spectra.plot_artifacts(sine_classes(n=8))


def test_tokens_shows_signal_and_token_grid():
    x = torch.randn(4, 64)
    fig = plots.plot_tokens(x, 16)
    assert panels(fig) == 2
    grid_text = {t.get_text() for t in fig.axes[1].texts}
    assert {"0", "4", "15"} <= grid_text  # token c*P + p: channel 1, patch 0 is token 4
    assert panels(plots.plot_tokens(torch.randn(64), 8)) == 2  # a 1-D signal is one channel


def test_tokens_rejects_batches_and_bad_patch_sizes():
    with pytest.raises(ValueError, match=r"one signal \[C, T\]"):
        plots.plot_tokens(torch.randn(2, 4, 64), 16)
    with pytest.raises(ValueError, match="does not cut"):
        plots.plot_tokens(torch.randn(4, 60), 16)


@pytest.mark.parametrize("kinds,ratios", [(("random", "block", "channel"), (0.25, 0.5, 0.75)), (("block",), (0.5,))])
def test_masks_grid_is_kinds_by_ratios_with_the_hidden_share(kinds, ratios):
    fig = plots.plot_masks(8, 10, ratios=ratios, kinds=kinds)
    assert panels(fig) == len(kinds) * len(ratios)
    assert all("hidden" in ax.get_title() for ax in fig.axes)


def test_masks_title_the_share_actually_hidden():
    titles = {ax.get_title() for ax in plots.plot_masks(19, 8, ratios=(0.25,), kinds=("random", "channel")).axes}
    assert titles == {"random, ratio 0.25: 25% hidden", "channel, ratio 0.25: 26% hidden"}  # 5 of 19 channels


def test_masks_reject_unknown_kinds_and_sizes():
    with pytest.raises(ValueError, match="kinds"):
        plots.plot_masks(4, 8, kinds=("stripes",))
    with pytest.raises(ValueError, match="channels"):
        plots.plot_masks(0, 8)


def test_masked_signal_accepts_flat_or_grid_masks():
    x = torch.randn(3, 64)
    _, masked = make_mask("random", 1, 3, 4, 0.75, generator=torch.Generator().manual_seed(0))
    for m in (masked, masked[0], masked.reshape(3, 4)):
        fig = plots.plot_masked_signal(x, m, 16)
        assert panels(fig) == 1 and "3 of 12 tokens visible" in fig.axes[0].get_title()


def test_masked_signal_rejects_a_mask_of_the_wrong_size():
    with pytest.raises(ValueError, match="C \\* P = 3 \\* 4 = 12"):
        plots.plot_masked_signal(torch.randn(3, 64), torch.zeros(10, dtype=torch.bool), 16)


def test_every_axis_that_draws_a_trace_or_a_metric_names_its_y(eeg):
    """No y axis without a label: the history's twin names its metric, stacked traces say what their rows are."""
    fig = plots.plot_history(history())
    assert fig.axes[1].get_ylabel() == "probe acc"
    fig = plots.plot_signals(eeg, index=0)
    assert all(ax.get_ylabel() for ax in fig.axes if ax.lines)


def test_the_masking_explorer_names_every_channel_and_every_y_axis():
    from fmlab.models import Encoder, EncoderConfig
    from fmlab.explore import MaskingExplorer
    names = [f"ch{i}" for i in range(19)]
    make = lambda cls: cls(Encoder(EncoderConfig.preset("tiny", channels=19, length=64, patch_size=8)))
    ex = MaskingExplorer(make(fmlab.pretrain.MAE), torch.randn(2, 19, 64), spectrum=make(fmlab.pretrain.MaskedSpectrum),
                          fs=16.0, names=names)
    fig = ex._empty_figure()
    assert list(fig.layout.yaxis2.tickvals) == names and list(fig.layout.yaxis3.tickvals) == names
    assert all(getattr(fig.layout, f"yaxis{i if i > 1 else ''}").title.text for i in range(1, 6))
