"""The masking explorer of the explorer page (notebook 07): one mask, two pretrained models, redrawn in place.

    ex = MaskingExplorer(mae, held_out, spectrum=spec, channel="O1")   # a notebook cell's value: the live panel
    ex.controls["ratio"].value = 0.5     # what moving the slider does: the figure's data change in place
    ex.update(ratio=0.9, patch=3)        # the same from code; ex.plot is the plotly figure, ex.redraw_seconds its cost

Controls for the mask (ratio, kind), the sample, the channel and one patch. A redraw masks the sample once, runs
the MAE (which predicts the hidden waveform) and the masked-spectrum model (which predicts each hidden patch's
log-magnitude spectrum) under that same mask, and writes the numbers into the traces of one plotly FigureWidget:
no image is rendered again, so a move redraws at once. Moving only the channel or the patch reuses the models'
outputs. In a static report the panel shows its first drawing as a plotly figure (hover works, sliders do not).
"""
from __future__ import annotations

import html
import time
from contextlib import contextmanager

import numpy as np
import torch

from ..data.dataset import SignalDataset
from ..masking import MASK_KINDS, patchify
from ..viz.offline import plotly_html
from ..viz.style import PALETTE, channel_indices, channel_label, time_axis
from .live import WatchedFigure, static_note, update_traces, widget_bundle, wire
from .reconstruction import ReconstructionExplorer

ORIGINAL, SEEN, MAE_COLOR, SPECTRUM_COLOR = "#8c8c8c", PALETTE[0], PALETTE[3], PALETTE[2]
SHADE = "rgba(170, 170, 170, 0.3)"
CACHED = 32  # model outputs kept, one per (ratio, kind, sample): going back to a setting costs nothing


def _gaps(grid: np.ndarray) -> list[list]:
    """A 2-D array as nested lists with None for NaN: plotly sends 2-D arrays to the browser as JSON, which has
    no NaN (a message holding one is dropped), and draws None as an empty cell."""
    return np.where(np.isnan(grid), None, grid).tolist()


@contextmanager
def one_thread():
    """Torch on one CPU thread inside the block: for one sample, more threads only add waiting for each other
    (on a busy 2-core machine about half a second per forward pass, against 10-20 ms on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class MaskingExplorer(ReconstructionExplorer):
    """ReconstructionExplorer's live panel for a page: the MAE beside a MaskedSpectrum model of the same shape
    (optional), drawn with plotly. data.x [N, C, T]; ``channel`` (index or name) is the one drawn in time."""

    def __init__(self, mae, data: SignalDataset | torch.Tensor, spectrum=None, channel: int | str = 0,
                 fs: float | None = None, names=None, seed: int = 0):
        from ..pretrain import MaskedSpectrum
        super().__init__(mae, data, fs=fs, names=names, seed=seed)
        c = mae.encoder.config
        if spectrum is not None:
            if not isinstance(spectrum, MaskedSpectrum):
                raise ValueError(f"MaskingExplorer: spectrum must be a MaskedSpectrum model (pretrained('spectrum', "
                                 f"...)) or None, got {type(spectrum).__name__}")
            s = spectrum.encoder.config
            if (s.channels, s.length, s.patch_size) != (c.channels, c.length, c.patch_size):
                raise ValueError(f"MaskingExplorer: the spectrum model cuts {s.channels} channels x {s.length} steps "
                                 f"into patches of {s.patch_size}, the MAE {c.channels} x {c.length} into "
                                 f"{c.patch_size}; use two models pretrained on the same data (pretrained(..., "
                                 f"data=, profile=))")
        self.spectrum = spectrum
        self.state.update(channel=channel_indices(channel, self.names, c.channels, "MaskingExplorer")[0], patch=0)
        self.time, self.time_label = time_axis(self.fs or 1.0, c.length)
        self.freqs = np.fft.rfftfreq(c.patch_size, 1 / (self.fs or 1.0))
        self.controls: dict = {}
        self.drawn = self.live = self.message = self.problem = None  # a plotly Figure, then its WatchedFigure
        self.redraw_seconds: float | None = None
        self._outputs: dict = {}

    # -- the numbers ------------------------------------------------------------------------------------
    def outputs(self, ratio: float, kind: str, index: int) -> dict:
        """Both models on sample ``index`` under one mask (numpy): x, recon [C, T]; masked [C, P] bool;
        mae_error, spectrum_error [C, P] (NaN where visible: not scored); true, mae, spectrum [C, P, F], the
        log-magnitude spectrum of each patch: of the signal, of the MAE's reconstruction, as the spectrum model
        predicts it (NaN without one). ValueError if the mask cannot be made."""
        key = (round(float(ratio), 6), kind, int(index))
        if key not in self._outputs:
            if len(self._outputs) >= CACHED:
                self._outputs.pop(next(iter(self._outputs)))
            with one_thread():
                self._outputs[key] = self._compute(*key)
        return self._outputs[key]

    def _compute(self, ratio: float, kind: str, index: int) -> dict:
        from ..pretrain.spectrum import patch_spectrum
        cfg = self.mae.encoder.config
        shape = (cfg.channels, cfg.patches)
        res = self.reconstruct(self.mae, ratio, kind, index)
        masked = res["masked"][0].cpu().view(shape)
        scored = lambda error: torch.where(masked, error[0].float().cpu().view(shape), torch.nan).numpy()
        scale = (self.spectrum or self.mae).encoder.config.input_scale  # in the units the spectrum model learned
        spectra = lambda s: patch_spectrum(patchify(s[None] / scale, cfg.patch_size))[0].view(*shape, -1).numpy()
        x, recon = res["input"][0].float().cpu(), res["recon"][0].float().cpu()
        out = dict(x=x.numpy(), recon=recon.numpy(), masked=masked.numpy(), mae_error=scored(res["error"]),
                   true=spectra(x), mae=spectra(recon))
        if self.spectrum is None:
            out.update(spectrum_error=np.full(shape, np.nan), spectrum=np.full_like(out["true"], np.nan))
        else:  # the same seed and shape give the spectrum model the same mask
            spec = self.reconstruct(self.spectrum, ratio, kind, index)
            predicted = spec["pred"][0].float().cpu().view(*shape, -1).numpy()
            out.update(spectrum_error=scored(spec["error"]), spectrum=predicted)
        return out

    # -- the picture ------------------------------------------------------------------------------------
    def _empty_figure(self):
        """Every trace in place, without data (update() fills them): signal, two error maps, two spectra."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
        fig = make_subplots(rows=3, cols=2, specs=[[{"colspan": 2}, None], [{}, {}], [{}, {}]],
                            row_heights=[0.36, 0.32, 0.32], vertical_spacing=0.1, horizontal_spacing=0.1,
                            subplot_titles=[" "] * 5)
        names = [channel_label(self.names, c) for c in range(self.mae.encoder.config.channels)]
        patches = list(range(self.mae.encoder.config.patches))
        line = lambda name, color, width=1.3, **kw: go.Scatter(mode="lines", name=name,
                                                               line=dict(color=color, width=width), **kw)
        pick = lambda: go.Scatter(mode="markers", showlegend=False, hoverinfo="skip",
                                  marker=dict(symbol="square-open", size=14, color="#000000", line=dict(width=2)))
        heat = lambda name: go.Heatmap(x=patches, y=names, colorscale="Viridis", showscale=False, name=name,
                                       hovertemplate="%{y}, patch %{x}: error %{z:.3g}<extra></extra>")
        traces = [  # (trace, row, col), in the order _trace_data fills them
            (go.Scatter(name="hidden patch", mode="lines", fill="toself", fillcolor=SHADE, line=dict(width=0),
                        hoverinfo="skip"), 1, 1),
            (line("selected patch", "#000000", 1.2), 1, 1),
            (line("original", ORIGINAL, 1.0), 1, 1),
            (line("seen by the encoder", SEEN), 1, 1),
            (line("MAE reconstruction", MAE_COLOR, 1.8), 1, 1),
            (heat("MAE error"), 2, 1), (pick(), 2, 1),
            (heat("spectrum model error"), 2, 2), (pick(), 2, 2),
            (line("true spectrum", "#000000"), 3, 1),
            (line("spectrum of the MAE reconstruction", MAE_COLOR), 3, 1),
            (line("spectrum model's prediction", SPECTRUM_COLOR, 1.8), 3, 1),
            (line("true", "#000000", showlegend=False), 3, 2),
            (line("MAE", MAE_COLOR, showlegend=False), 3, 2),
            (line("spectrum model", SPECTRUM_COLOR, 1.8, showlegend=False), 3, 2)]
        for trace, row, col in traces:
            fig.add_trace(trace, row=row, col=col)
        for col in (1, 2):  # every channel named on the error maps (plotly would skip every other one)
            fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=names, tickfont=dict(size=8),
                             title_text="channel", row=2, col=col)
            fig.update_xaxes(title_text="patch", row=2, col=col)
            fig.update_xaxes(title_text="frequency (Hz)" if self.fs else "cycles / step", row=3, col=col)
            fig.update_yaxes(title_text="log |rFFT|", row=3, col=col)
        fig.update_xaxes(title_text=self.time_label, row=1, col=1)
        fig.update_yaxes(title_text="signal (its own units)", row=1, col=1)
        fig.update_layout(template="plotly_white", height=880, margin=dict(l=10, r=10, t=110, b=10),
                          title=dict(x=0.01, y=0.99, yanchor="top"), font=dict(size=11),
                          legend=dict(orientation="h", x=0, y=1.01, yanchor="bottom"))
        return fig

    def _trace_data(self, out: dict, channel: int, patch: int) -> tuple[list[dict], list[str], str]:
        """What each trace of _empty_figure shows for these outputs, the five panel titles, the figure title."""
        size, dt = self.mae.encoder.config.patch_size, self.time[1] - self.time[0]
        x, recon, masked = out["x"][channel], out["recon"][channel], out["masked"]
        hidden = np.repeat(masked[channel], size)
        lo, hi = float(min(x.min(), recon.min())), float(max(x.max(), recon.max()))
        lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)

        def boxes(patches) -> dict:
            """Rectangles around ``patches`` as one outline, NaN between them (a gap: plotly starts a new shape)."""
            start = self.time[np.asarray(patches, dtype=int) * size][:, None]
            xs = np.hstack([start, start + size * dt, start + size * dt, start, start, np.full_like(start, np.nan)])
            ys = np.tile([lo, lo, hi, hi, lo, np.nan], (len(start), 1))
            return dict(x=xs.ravel(), y=ys.ravel())

        name = channel_label(self.names, channel)
        picked = dict(x=[patch], y=[name])
        every = masked.ravel()
        mean = lambda key: out[key].reshape(every.size, -1)[every].mean(0)
        spectra = [dict(x=self.freqs, y=out[key][channel, patch]) for key in ("true", "mae", "spectrum")]
        means = [dict(x=self.freqs, y=mean(key)) for key in ("true", "mae", "spectrum")]
        data = [boxes(np.flatnonzero(masked[channel])), boxes([patch]),
                dict(x=self.time, y=x), dict(x=self.time, y=np.where(hidden, np.nan, x)),
                dict(x=self.time, y=np.where(hidden, recon, np.nan)),
                dict(z=_gaps(out["mae_error"])), picked, dict(z=_gaps(out["spectrum_error"])), picked, *spectra, *means]
        start = self.time[patch * size]
        where = f"{start:g}–{start + size * dt:g} s" if self.fs else f"steps {patch * size}–{(patch + 1) * size}"
        mean_error = lambda key: f"mean {np.nanmean(out[key]):.3g}" if np.isfinite(out[key]).any() else "no model"
        titles = ["",  # the figure's title names the channel drawn in time
                  f"MAE error per hidden patch ({mean_error('mae_error')})",
                  f"spectrum model's error ({mean_error('spectrum_error')})",
                  f"{name}, patch {patch} ({where}): "
                  f"{'hidden' if masked[channel, patch] else 'visible, not predicted'}",
                  f"mean over all {int(every.sum())} hidden patches"]
        s = self.state
        title = (f"sample {s['index']}, {s['kind']} mask at ratio {s['ratio']:.2f}: {int(every.sum())} of {every.size} "
                 f"tokens hidden; {name} in time")
        return data, titles, title

    STALE_SECONDS = 3.0  # a page applies an update in well under a second (live.WatchedFigure)

    @property
    def plot(self):
        """The figure: its live FigureWidget once the panel is built (every update goes to the page), else a Figure."""
        return self.drawn if self.live is None else self.live.figure

    def _draw(self, out: dict) -> None:
        if self.drawn is None:
            self.drawn = self._empty_figure()
        data, titles, title = self._trace_data(out, self.state["channel"], self.state["patch"])
        notes = {f"annotations[{i}].text": text for i, text in enumerate(titles[:len(self.plot.layout.annotations)])}
        update_traces(self.plot, data, {**notes, "title.text": title})
        if self.live is not None:
            self.live.sent()

    def update(self, ratio: float | None = None, kind: str | None = None, index: int | None = None,
               channel: int | None = None, patch: int | None = None):
        """Redraw for the given settings (the others unchanged); returns the plotly figure, or the message
        (str) saying why these settings have no mask. The time it took is in ``redraw_seconds``."""
        t0 = time.perf_counter()
        given = dict(ratio=ratio, kind=kind, index=index, channel=channel, patch=patch)
        self.state.update({k: v for k, v in given.items() if v is not None})
        s = self.state
        try:
            out = self.outputs(s["ratio"], s["kind"], s["index"])
        except ValueError as e:  # the last picture stays, with the reason beside it
            self.problem = f"No picture for kind={s['kind']!r}, ratio={s['ratio']:.2f}: {e}"
        else:
            self.problem = None
            self._draw(out)
        if self.message is not None:
            self.message.value = f"<b>{html.escape(self.problem)}</b>" if self.problem else ""
        self.redraw_seconds = time.perf_counter() - t0
        return self.problem or self.plot

    @property
    def widget(self):
        """The panel: mask ratio, mask kind, sample, channel and patch controls above one plotly FigureWidget
        (built on first use). Each control carries the CSS class fmlab-mask-<name>, the figure fmlab-masking-plot."""
        if self._widget is None:
            import ipywidgets as w
            s, cfg = self.state, self.mae.encoder.config
            self.controls = dict(
                ratio=w.FloatSlider(value=s["ratio"], min=0.05, max=0.95, step=0.05, description="mask ratio",
                                    continuous_update=False, readout_format=".2f"),
                kind=w.Dropdown(options=list(MASK_KINDS), value=s["kind"], description="mask kind"),
                index=w.IntSlider(value=s["index"], min=0, max=len(self.x) - 1, description="sample",
                                  continuous_update=False),
                channel=w.Dropdown(options=[(channel_label(self.names, c), c) for c in range(cfg.channels)],
                                   value=s["channel"], description="channel"),
                patch=w.IntSlider(value=s["patch"], min=0, max=cfg.patches - 1, description="patch",
                                  continuous_update=False))
            wire(self.controls, self.update, "fmlab-mask")
            self.message = w.HTML()
            self.update()  # the first drawing goes into the widget whole: changes sent before it is shown get lost
            self.live = WatchedFigure(self.drawn if self.drawn is not None else self._empty_figure(),
                                      "fmlab-masking-plot", self.STALE_SECONDS)
            c = self.controls
            self._widget = w.VBox([w.HBox([c["ratio"], c["kind"], c["index"]]), w.HBox([c["channel"], c["patch"]]),
                                   self.message, self.live.box])
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel for Jupyter and Voila; for viewers without a kernel (the HTML report drops widget
        state) its current drawing as a static plotly figure."""
        import plotly.graph_objects as go
        bundle = widget_bundle(self.widget, include, exclude)
        problem = f"<p>{html.escape(self.problem)}</p>" if self.problem else ""
        bundle["text/html"] = static_note() + problem + plotly_html(go.Figure(self.plot))
        bundle["text/plain"] = "MaskingExplorer (the controls need a live Jupyter kernel)"
        return bundle
