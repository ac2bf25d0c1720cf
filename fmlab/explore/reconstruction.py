"""The reconstruction explorer of notebook 01: sliders that redraw a trained MAE's mask and reconstruction at once.

    ReconstructionExplorer(mae, ds)            # in a notebook: ratio slider, mask-kind menu, sample slider
    ex = ReconstructionExplorer(mae, ds)
    ex.figure(0.5, "block", 3)                 # the same picture without a browser (a Figure)
    ex.render(0.99, "block", 3)                # a Figure, or the message saying why that mask cannot be made

Each move draws fmlab.viz.plot_reconstruction anew (a matplotlib Figure). In a static report (papermill, HTML) the
panel shows its first drawing as an image instead of the sliders. The explorer page (notebook 07) uses its plotly
cousin, which redraws in place and sets the masked-spectrum model beside the MAE: MaskingExplorer (masking.py).
"""
from __future__ import annotations

import base64
import io

import torch

from ..data.dataset import SignalDataset
from ..masking import MASK_KINDS
from ..viz.reconstruction import default_channels, plot_reconstruction
from .live import widget_bundle


class ReconstructionExplorer:
    """A trained MAE and the signals data.x [N, C, T] it reconstructs. ``channels``: rows to draw (default the
    most hidden when a sample and mask kind are first drawn, the same at every ratio). The mask is drawn from
    ``seed`` each time, so moving a slider away and back gives the same picture."""

    def __init__(self, mae, data: SignalDataset | torch.Tensor, fs: float | None = None, names=None,
                 channels=None, seed: int = 0):
        from ..pretrain import MAE, MaskedSpectrum
        if not isinstance(mae, MAE) or isinstance(mae, MaskedSpectrum):  # a spectrum model has no waveform to draw
            raise ValueError(f"{type(self).__name__}: expected an MAE (fmlab.pretrain.MAE), got {type(mae).__name__}; "
                             f"for MaskedSpectrum use fmlab.viz.plot_spectrum_reconstruction")
        x = data.x if isinstance(data, SignalDataset) else data
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or len(x) == 0:
            raise ValueError(f"{type(self).__name__}: expected a SignalDataset or a tensor [N, C, T] with N >= 1, "
                             f"got {type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
        mae.encoder.check_input(x[:1])
        self.mae, self.x, self.seed, self.channels = mae, x, seed, channels
        self.fs = fs if fs is not None else getattr(data, "fs", None)
        self.names = names if names is not None else getattr(data, "channels", None)
        self.state = dict(ratio=float(mae.mask_ratio), kind=mae.mask_kind, index=0)
        self._widget = self._output = self.shown = None
        self._picked = {}  # (kind, sample) -> the channels drawn for it

    def reconstruct(self, model, ratio: float, kind: str, index: int) -> dict:
        """``model``.reconstruct() of sample ``index`` (a batch of one) under the mask drawn from ``seed``:
        models of one shape get the same mask. ValueError if the mask cannot be made, e.g. a ratio that
        hides every channel."""
        if not 0 <= index < len(self.x):
            raise ValueError(f"{type(self).__name__}: sample {index} is out of range for {len(self.x)} samples")
        dev = next(model.parameters()).device
        g = torch.Generator(device=dev).manual_seed(self.seed)
        was_training = model.training
        model.eval()
        try:
            res = model.reconstruct(self.x[index:index + 1].to(dev), ratio=ratio, kind=kind, generator=g)
        finally:
            model.train(was_training)
        if res["masked"].all():  # a ratio that rounds to zero hidden units is bumped to one, which can be all
            raise ValueError(f"this {kind} mask hides all {res['masked'].shape[1]} tokens, leaving the encoder "
                             f"nothing to see; pick another kind (one channel: random or block)")
        return res

    def figure(self, ratio: float, kind: str, index: int):
        """Mask sample ``index`` with ``kind`` at ``ratio`` and draw the reconstruction (ValueError if the
        mask cannot be made, e.g. a ratio that hides every channel)."""
        res = self.reconstruct(self.mae, ratio, kind, index)
        # by default the channels most hidden when this sample and kind are first drawn, kept while the ratio
        # moves: the same traces at every ratio, to compare
        channels = self.channels if self.channels is not None else self._picked.setdefault(
            (kind, index), default_channels(res))
        return plot_reconstruction(res, channels=channels, names=self.names, fs=self.fs,
                                   label=f"sample {index}, {kind} mask at ratio {ratio:.2f}")

    def render(self, ratio: float, kind: str, index: int):
        """A Figure, or the message (str) explaining why this combination has no mask."""
        try:
            return self.figure(ratio, kind, index)
        except ValueError as e:
            return f"No picture for kind={kind!r}, ratio={ratio:.2f}: {e}"

    def update(self, ratio: float | None = None, kind: str | None = None, index: int | None = None):
        """Redraw the panel for the given settings (the others unchanged); returns what was drawn."""
        from IPython.display import clear_output, display
        given = dict(ratio=ratio, kind=kind, index=index)
        self.state.update({k: v for k, v in given.items() if v is not None})
        self.shown = shown = self.render(**self.state)
        if self._output is not None:
            with self._output:
                clear_output(wait=True)
                if isinstance(shown, str):
                    print(shown)
                else:
                    display(shown)
        return shown

    @property
    def widget(self):
        """The panel: ratio slider, mask-kind menu, sample slider, and the drawing (built on first use)."""
        if self._widget is None:
            import ipywidgets as w
            s = self.state
            ratio = w.FloatSlider(value=s["ratio"], min=0.05, max=0.95, step=0.05, description="mask ratio",
                                  continuous_update=False, readout_format=".2f")
            kind = w.Dropdown(options=list(MASK_KINDS), value=s["kind"], description="mask kind")
            index = w.IntSlider(value=s["index"], min=0, max=len(self.x) - 1, description="sample",
                                continuous_update=False)
            self._output = w.Output()
            for control, key in ((ratio, "ratio"), (kind, "kind"), (index, "index")):
                control.observe(lambda change, key=key: self.update(**{key: change["new"]}), names="value")
            self._widget = w.VBox([w.HBox([ratio, kind, index]), self._output])
            self.update()
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel for Jupyter, and a PNG of the current drawing for viewers without widgets
        (nbconvert skips a widget view whose state the notebook does not carry)."""
        bundle = widget_bundle(self.widget, include, exclude)
        shown = self.shown
        if isinstance(shown, str):
            bundle["text/plain"] = shown
        else:
            buf = io.BytesIO()
            shown.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            bundle["image/png"] = base64.b64encode(buf.getvalue()).decode()
            bundle["text/plain"] = ("ReconstructionExplorer (the sliders need a live Jupyter kernel; this is its first "
                                    "drawing)")
        return bundle
