"""The explorers' logic without a browser: moving a control changes the figure's data (a callback that does not
redraw fails here), costs are what the strategy says, clicks select a sample and its neighbours, bad input gets
a ValueError. Tiny untrained models; one timing of the small (cpu-profile) model is printed, not asserted."""
import json
import os
import time

import numpy as np
import pytest
import torch
from plotly.callbacks import Points

import fmlab
from fmlab.adapt.compare import COLUMNS
from fmlab.explore import AdaptationExplorer, LatentExplorer, MaskingExplorer
from toy import sine_classes

C, T = 3, 64


def tiny(objective, size="tiny", channels=C, length=T, patch_size=8):
    torch.manual_seed(0)
    cfg = fmlab.models.EncoderConfig.preset(size, channels=channels, length=length, patch_size=patch_size)
    return objective(fmlab.models.Encoder(cfg)).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(6, C, T, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def masking(x):
    ex = MaskingExplorer(tiny(fmlab.pretrain.MAE), x, spectrum=tiny(fmlab.pretrain.MaskedSpectrum), fs=16.0,
                          names=["a", "b", "c"], channel="b")
    ex.widget  # build the live panel
    return ex


def numbers(fig) -> str:
    """Every trace's data and the titles, as one comparable string."""
    return json.dumps([fig.layout.title.text, [a.text for a in fig.layout.annotations],
                       [[np.asarray(getattr(t, k), dtype=object).tolist() for k in ("x", "y", "z") if hasattr(t, k)]
                        for t in fig.data]], default=str)


# -- masking ---------------------------------------------------------------------------------------
def test_moving_the_ratio_slider_changes_the_figures_data(masking):
    before = numbers(masking.plot)
    masking.controls["ratio"].value = 0.5
    assert masking.state["ratio"] == 0.5 and masking.problem is None
    assert numbers(masking.plot) != before
    assert "ratio 0.50" in masking.plot.layout.title.text
    hidden = int(masking.outputs(0.5, "random", 0)["masked"].sum())
    assert f"{hidden} of {C * T // 8} tokens hidden" in masking.plot.layout.title.text


@pytest.mark.parametrize("control,value", [("kind", "block"), ("index", 3), ("channel", 2), ("patch", 5)])
def test_every_control_redraws(masking, control, value):
    before = numbers(masking.plot)
    masking.controls[control].value = value
    assert masking.state[control] == value and numbers(masking.plot) != before


def test_patch_and_channel_reuse_the_models_outputs(masking, monkeypatch):
    masking.update(ratio=0.6)
    monkeypatch.setattr(masking, "_compute", lambda *a: pytest.fail("the models ran again"))
    masking.controls["patch"].value = 4
    masking.controls["channel"].value = 0
    assert masking.plot.data[6].x == (4,) and masking.plot.data[6].y == ("a",)  # the square on the error map


def test_both_models_see_one_mask_and_the_panels_show_their_numbers(masking):
    out = masking.outputs(0.75, "random", 1)
    mae_res = masking.reconstruct(masking.mae, 0.75, "random", 1)
    spec_res = masking.reconstruct(masking.spectrum, 0.75, "random", 1)
    assert torch.equal(mae_res["masked"], spec_res["masked"])
    assert np.array_equal(np.isnan(out["mae_error"]), ~out["masked"])
    assert np.isfinite(out["spectrum"]).all() and out["true"].shape == (C, T // 8, 8 // 2 + 1)
    masking.update(ratio=0.75, kind="random", index=1, channel=0, patch=2)
    spectra = masking.plot.data[9:12]  # true, MAE, spectrum model of the selected patch
    assert np.allclose(spectra[2].y, out["spectrum"][0, 2]) and np.allclose(spectra[0].y, out["true"][0, 2])
    assert masking.plot.data[5].z[0][2] == (None if not out["masked"][0, 2] else pytest.approx(out["mae_error"][0, 2]))


def test_a_mask_that_cannot_be_made_says_why_and_keeps_the_picture(masking):
    masking.controls["kind"].value = "block"
    before = numbers(masking.plot)
    masking.controls["ratio"].value = 0.95  # 0.95 of 8 time patches is all of them
    assert "hides all" in masking.problem and "hides all" in masking.message.value
    assert numbers(masking.plot) == before
    masking.controls["ratio"].value = 0.5
    assert masking.problem is None and masking.message.value == ""


def test_static_copy_for_reports(masking):
    bundle = masking._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Static copy" in bundle["text/html"] and "plotly-graph-div" in bundle["text/html"]


def test_masking_explorer_refuses_what_it_cannot_draw(x):
    mae = tiny(fmlab.pretrain.MAE)
    with pytest.raises(ValueError, match="MaskedSpectrum model"):
        MaskingExplorer(mae, x, spectrum=mae)
    with pytest.raises(ValueError, match="same data"):
        MaskingExplorer(mae, x, spectrum=tiny(fmlab.pretrain.MaskedSpectrum, patch_size=16))
    with pytest.raises(ValueError, match="unknown channel"):
        MaskingExplorer(mae, x, names=["a", "b", "c"], channel="O1")


def test_redraw_of_the_small_model_on_eeg_sized_signals_is_logged():
    """The cpu profile's small encoder on [19, 512] signals: a slider move's cost in the kernel (printed)."""
    kw = dict(size="small", channels=19, length=512, patch_size=64)
    signals = torch.randn(4, 19, 512, generator=torch.Generator().manual_seed(0))
    ex = MaskingExplorer(tiny(fmlab.pretrain.MAE, **kw), signals, spectrum=tiny(fmlab.pretrain.MaskedSpectrum, **kw),
                          fs=128.0)
    ex.widget
    seconds = []
    for ratio in (0.5, 0.6, 0.7, 0.8):
        ex.controls["ratio"].value = ratio
        seconds.append(ex.redraw_seconds)
    print(f"\nmasking explorer, small model, [19, 512]: a ratio move redraws in {1000 * np.median(seconds):.0f} ms "
          f"(median of {len(seconds)}; kernel side, models and figure data)")
    assert all(s > 0 for s in seconds)


# -- adaptation ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def task():
    ds = sine_classes(96, channels=2, length=64)
    train, test = ds.split(test_size=0.25, seed=0)
    torch.manual_seed(0)
    encoder = fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=2, length=64, patch_size=8))
    return encoder, train, test


def test_adaptation_controls_show_trainable_parameters_and_delta_bytes_at_once(task, tmp_path):
    encoder, train, test = task
    ex = AdaptationExplorer(encoder, train, test, steps=3, batch_size=16)
    ex.widget
    assert "lora(rank=4)" in ex.info.value
    ex.controls["rank"].value = 8
    clf = fmlab.adapt.lora(encoder, num_classes=2, rank=8, classes=train.classes)
    assert f"trainable params: {clf.trainable_parameters():,}" in ex.info.value
    assert ex.describe()["delta_bytes"] == fmlab.adapt.save_delta(clf, tmp_path / "d.safetensors")
    ex.controls["strategy"].value = "prompt_tuning"
    ex.controls["num_prompts"].value = 2
    prompts = fmlab.adapt.prompt_tuning(encoder, num_classes=2, num_prompts=2)
    assert f"trainable params: {prompts.trainable_parameters():,}" in ex.info.value
    shown = {name: ex.controls[name].layout.display for name in ("rank", "bottleneck", "num_prompts")}
    assert shown == {"rank": "none", "bottleneck": "none", "num_prompts": None}  # only the strategy's own size
    ex.controls["strategy"].value = "full_finetune"
    assert "trainable%: 100.0000" in ex.info.value


def test_the_fit_button_trains_tests_and_adds_a_point(task):
    encoder, train, test = task
    ex = AdaptationExplorer(encoder, train, test, steps=3, batch_size=16, labels=5)
    ex.widget
    base = fmlab.adapt.fingerprint(encoder.state_dict())
    button = ex.widget.children[1].children[1]
    button.click()
    assert len(ex.rows) == 1 and 0.0 <= ex.rows[0]["accuracy"] <= 1.0 and ex.rows[0]["labels"] == 10
    assert "accuracy" in ex.status.value and ex.chart.data[2].x == (ex.rows[0]["trainable_params"],)
    assert list(ex.table.columns) == list(COLUMNS) and ex.table.loc[0, "budget"] == 5
    assert fmlab.adapt.fingerprint(encoder.state_dict()) == base, "the explorer must not change the encoder"
    ex.controls["labels"].value = ex.controls["labels"].max
    ex.controls["strategy"].value = "linear_probe"
    button.click()
    assert ex.chart.data[0].x == (ex.rows[1]["trainable_params"],)
    assert "lora(rank=4)" in ex._repr_mimebundle_()["text/html"]


def test_adaptation_explorer_refuses_bad_input(task):
    encoder, train, test = task
    with pytest.raises(ValueError, match="not one of"):
        AdaptationExplorer(encoder, train, test, strategy="distillation")
    with pytest.raises(ValueError, match="Encoder"):
        AdaptationExplorer(torch.nn.Linear(2, 2), train, test)
    ex = AdaptationExplorer(encoder, train, test)
    with pytest.raises(ValueError, match="unknown settings"):
        ex.update(depth=3)


# -- latent ----------------------------------------------------------------------------------------
def test_latent_click_shows_the_signal_and_its_feature_neighbours():
    ds = sine_classes(30)
    feats = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
    ex = LatentExplorer(np.random.default_rng(0).normal(size=(30, 2)), ds, features=feats, neighbours=4)
    ex.widget
    z = torch.nn.functional.normalize(feats, dim=-1)
    expected = (z @ z[7]).argsort(descending=True)[1:5].tolist()
    trace = ex.scatter.data[0]
    t0 = time.perf_counter()
    trace._dispatch_on_click(Points(point_inds=[0], trace_index=0), None)
    clicked = int(trace.customdata[0])
    assert ex.selected == clicked and ex.signal.layout.title.text.startswith(f"#{clicked} ")
    ex.select(7)
    print(f"\nlatent explorer: a selection redraws in {1000 * (time.perf_counter() - t0) / 2:.0f} ms")
    assert [j for j, _ in ex.nearest(7)] == expected
    ring, cross = ex.scatter.data[-2:]
    assert list(ring.customdata) == expected and list(cross.customdata) == [7]
    assert ex.signal.layout.title.text.startswith("#7 ") and [b.children[0] for b in ex._row.children] == [ex.scatter, ex.signal]
    assert "nearest neighbours of #7" in ex.listing.value and all(f"#{j}<" in ex.listing.value for j in expected)
    with pytest.raises(ValueError, match="features"):
        LatentExplorer(np.zeros((30, 2)), ds, features=feats[:10])


def applied(fig) -> None:
    """Answer a FigureWidget's last trace edit as its page does once it has drawn it."""
    fig._js2py_traceDeltas = {"trace_deltas": [], "trace_edit_id": fig._last_trace_edit_id}


def test_latent_click_updates_in_place_and_remakes_a_figure_whose_page_drops_updates():
    """A click changes the live figures' data, not the figures; a figure whose page has not applied that within
    STALE_SECONDS (anywidget drops every update to a widget whose code loaded late) is made anew, zoom included."""
    import asyncio
    ds = sine_classes(30)
    feats = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
    ex = LatentExplorer(np.random.default_rng(0).normal(size=(30, 2)), ds, features=feats, neighbours=4)
    ex.STALE_SECONDS = 0.05
    ex.widget
    first_map, first_signal = ex.scatter, ex.signal
    assert ex.figure is ex.scatter and ex.scatter.layout.uirevision and ex.signal.layout.uirevision

    async def click(index: int, answered: tuple) -> None:
        ex.select(index)
        for fig in answered:
            applied(fig)
        await asyncio.sleep(0.3)

    asyncio.run(click(3, answered=(ex.scatter, ex.signal)))
    assert (ex.scatter, ex.signal, ex.rebuilt) == (first_map, first_signal, 0)
    assert ex.signal.layout.title.text.startswith("#3 ") and list(ex.scatter.data[-1].customdata) == [3]
    ex.scatter.layout.xaxis.range = [-1, 1]  # the zoom a page reports
    asyncio.run(click(9, answered=(ex.signal,)))  # the map's page stays silent
    assert ex.rebuilt == 1 and ex.scatter is not first_map and ex.signal is first_signal
    assert [b.children[0] for b in ex._row.children] == [ex.scatter, ex.signal] and ex.figure is ex.scatter
    assert list(ex.scatter.data[-1].customdata) == [9] and ex.scatter.layout.xaxis.range == (-1, 1)
    assert "fmlab-latent-map" in ex.scatter._dom_classes and first_map.comm is None  # the stale one closed
    ex.scatter.data[0]._dispatch_on_click(Points(point_inds=[0], trace_index=0), None)  # the new map clicks too
    assert ex.selected == int(ex.scatter.data[0].customdata[0])


def test_masking_and_adaptation_figures_are_made_anew_when_their_page_drops_updates(masking, task):
    """The same watch as the latent map's, on the two other panels: an update the page leaves unapplied for
    STALE_SECONDS makes the figure anew in its box, with its CSS class and its present numbers."""
    import asyncio
    encoder, train, test = task
    adapting = AdaptationExplorer(encoder, train, test, steps=3, batch_size=16, labels=5)
    adapting.STALE_SECONDS = 0.05
    adapting.widget
    masking.live.seconds = 0.05  # the fixture built its panel already
    first_plot, first_chart = masking.plot, adapting.chart

    async def update(answered: bool) -> None:
        masking.update(ratio=0.5)
        adapting.fit()
        if answered:
            applied(masking.plot), applied(adapting.chart)
        await asyncio.sleep(0.3)

    asyncio.run(update(answered=True))
    assert (masking.plot, adapting.chart, masking.live.rebuilt, adapting.live.rebuilt) == (first_plot, first_chart, 0, 0)
    asyncio.run(update(answered=False))
    assert masking.live.rebuilt == adapting.live.rebuilt == 1
    assert masking.plot is not first_plot and masking.live.box.children == (masking.plot,)
    assert adapting.chart is not first_chart and adapting.live.box.children == (adapting.chart,)
    assert numbers(masking.plot) == numbers(first_plot) and first_plot.comm is None  # same numbers; the stale closed
    assert sum(len(t.x or ()) for t in adapting.chart.data) == 2  # both fits are on the new chart
    assert "fmlab-masking-plot" in masking.plot._dom_classes and "fmlab-adapt-chart" in adapting.chart._dom_classes


def test_trace_updates_never_send_a_property_with_holes():
    """Traces that change different properties go in different messages: a message listing a property for
    several traces where some keep theirs (plotly's Undefined) makes the page stop answering the figure."""
    import plotly.graph_objects as go
    from plotly.basedatatypes import Undefined
    from fmlab.explore.live import update_traces
    fig = go.FigureWidget([go.Scatter(x=[0, 1], y=[1, 2]), go.Scatter(x=[0, 1, 2], y=[3, 4, 5]),
                           go.Heatmap(z=[[1, 2], [3, 4]])])
    sent = []
    for name in ("_py2js_restyle", "_py2js_update"):
        fig.observe(lambda change: change["new"] and sent.append(change["new"]), names=name)
    update_traces(fig, [dict(x=[0, 1], y=[5, 6]), dict(x=[1, 2, 3], y=[7, 8, 9]), dict(z=[[0, 0], [0, 0]])],
                  {"title.text": "new"})
    data = [d for d in (m.get("restyle_data", m.get("style_data")) for m in sent) if d]  # {}: the layout's
    assert all(v is not Undefined for d in data for values in d.values() for v in values), data
    assert sorted(sorted(d) for d in data) == [["x", "y"], ["y"], ["z"]]  # trace 0 keeps its x: a message of its own
    assert (list(fig.data[0].y), list(fig.data[1].x), fig.layout.title.text) == ([5, 6], [1, 2, 3], "new")


def test_latent_figures_are_probed_when_the_page_draws_them():
    """Before any click: each figure gets an edit that draws nothing once its page reports the first draw (or, if
    it never does, STALE_SECONDS after its view appears); a figure whose page leaves PROBES of them unanswered is
    made anew."""
    import asyncio
    ex = LatentExplorer(np.random.default_rng(0).normal(size=(30, 2)), sine_classes(30))
    ex.STALE_SECONDS = 0.05
    ex.widget
    first_map, first_signal = ex.scatter, ex.signal
    made = first_map._last_trace_edit_id

    async def drawn() -> None:
        for fig in (ex.scatter, ex.signal):
            fig._view_count = 1  # a view of each exists
        assert first_map._last_trace_edit_id == made  # no edit yet: a view that merely exists often drops it
        applied(ex.scatter)  # the map's page reports its first plot ...
        assert first_map._last_trace_edit_id == made + 1  # ... and gets the probe at once
        applied(ex.scatter)  # which it answers; the signal's page never says a word
        await asyncio.sleep(0.5)

    asyncio.run(drawn())
    assert ex.scatter is first_map and ex.signal is not first_signal and ex.rebuilt == 1
    assert first_signal._fmlab_probes == ex.live_signal.PROBES > 1  # asked again before giving up on it
    assert ex.signal.layout.title.text == first_signal.layout.title.text
    assert "fmlab-latent-signal" in ex.signal._dom_classes


# -- fmlab explore ---------------------------------------------------------------------------------
def test_explore_serves_notebook_07_on_localhost_only():
    from fmlab.cli import explore_command
    argv, env = explore_command(8899, "smoke")
    assert argv[1:3] == ["-m", "voila"] and argv[3].endswith("notebooks/07_explorer.ipynb")
    assert {"--Voila.ip=127.0.0.1", "--port=8899", "--no-browser", "--Voila.port_retries=0"} <= set(argv)
    assert env["FMLAB_PROFILE"] == "smoke"
    assert env["FMLAB_QUIET"] == "1"  # the page for students shows no narration


def test_quiet_silences_fmlab_narration_and_nothing_else(monkeypatch, capsys):
    import torch
    from fmlab import profiles, report
    from fmlab.progress import announce
    model = torch.nn.Linear(2, 2)
    for value, silent in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv("FMLAB_QUIET", value)
        assert profiles.quiet() is silent
        report.record("quiet_check", 0.5)
        announce(model, torch.device("cpu"), False, 1, 0, 10, 4)
        out = capsys.readouterr().out
        assert (out == "") is silent, (value, out)
        assert report.RECORDED["quiet_check"] == 0.5  # recorded all the same
    monkeypatch.setenv("FMLAB_QUIET", "1")
    with pytest.raises(ValueError):  # errors are not narration
        profiles.get_profile("huge")


def test_explore_uses_the_shipped_template_that_fetches_nothing_from_a_cdn():
    from pathlib import Path

    from fmlab.cli import build_parser, explore_command
    argv, env = explore_command(8899, "smoke")
    assert "--template=fmlab" in argv
    template = Path(env["JUPYTER_PATH"].split(os.pathsep)[0]) / "voila" / "templates" / "fmlab"
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"
    assert "cdn.jsdelivr.net" in (template / "index.html.j2").read_text()  # the lines it leaves out
    assert "--template=lab" in explore_command(8899, "smoke", "lab")[0]
    assert build_parser().parse_args(["explore", "--template", "lab"]).template == "lab"


def test_explore_refuses_a_busy_port(capsys):
    import socket
    from fmlab.cli import main
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["explore", "--port", str(busy.getsockname()[1]), "--profile", "smoke"]) == 2
    assert "in use" in capsys.readouterr().err
