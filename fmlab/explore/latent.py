"""The latent explorer: a UMAP map beside one sample's signal; click a point to see it and its neighbours.

    ex = LatentExplorer(umap_embedding(F), ds, features=F)   # a notebook cell's value: the live panel
    ex.select(7)                         # what a click on sample 7 does: its signal, its ring of neighbours
    ex.nearest(7)                        # [(index, cosine distance)] on the features, nearest first

In a static report the panel shows the map and the selected sample as plotly figures (hover works, clicks do not).
"""
from __future__ import annotations

import numpy as np

from ..data.dataset import SignalDataset
from ..viz.embedding import check_features, cosine_knn
from ..viz.latent import check_embedding, interactive_scatter, sample_facts
from ..viz.offline import plotly_html
from ..viz.style import channel_indices
from .live import WatchedFigure, update_traces, widget_bundle


class LatentExplorer:
    """The interactive scatter of emb [N, 2] beside one sample's signal: clicking a point (live kernel)
    calls select(index), which redraws the signal panel. ``channels``: indices or names to draw (default up
    to 8, spread over the montage). Given the ``features`` [N, D] the map was made from, a click also rings
    the point's ``neighbours`` nearest samples (cosine distance on the features, not on the map) and lists them.

    The live panel's two plotly FigureWidgets are made once: a click changes their numbers in place (one message
    each, about 0.15 s in Voila where new widgets per click took 3 s), and layout.uirevision keeps a zoom. A figure
    whose page has not applied an update after STALE_SECONDS is made anew from its state (live.WatchedFigure)."""

    STALE_SECONDS = 3.0  # a page applies an update in well under a second, even on a busy machine

    def __init__(self, emb, data: SignalDataset, color_by: str = "state", channels=None, features=None,
                 neighbours: int = 5):
        self.map_figure = interactive_scatter(emb, data, color_by, title="click a point to see its signal", height=420)
        self.map_figure.update_layout(width=460, uirevision="latent-map")
        n_ch = data.x.shape[1]
        self.emb, self.data, self.selected = check_embedding(emb, data, "LatentExplorer"), data, 0
        spread = np.unique(np.linspace(0, n_ch - 1, min(8, n_ch)).round().astype(int)).tolist()
        self.channels = channel_indices(spread if channels is None else channels, data.channels, n_ch, "LatentExplorer")
        self.spacing = 4 * float(data.x[:, self.channels].std(-1).median()) or 1.0  # one scale for every sample
        self.live_map = self.live_signal = self.listing = self._row = self._widget = None  # WatchedFigures, widgets
        self.knn = None
        if features is not None:
            f = check_features(features, "LatentExplorer")
            if len(f) != len(data) or not 1 <= neighbours < len(f):
                raise ValueError(f"LatentExplorer: expected features [N, D] of the {len(data)} samples and 1 <= "
                                 f"neighbours < N, got {len(f)} rows and neighbours={neighbours}; pass "
                                 f"features(encoder, data) of the data the map shows")
            self.knn = cosine_knn(f, neighbours + 1)  # each point comes with itself, dropped in nearest()
            self.map_figure.add_scatter(mode="markers", name=f"its {neighbours} nearest neighbours", hoverinfo="skip",
                                    marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(width=2, color="black")))
            self.map_figure.add_scatter(mode="markers", name="selected", hoverinfo="skip",
                                    marker=dict(size=15, symbol="x-thin", line=dict(width=3, color="black")))
            self._ring(0)

    @property
    def figure(self):
        """The map: its live FigureWidget once the panel is built (every update goes to the page), else a Figure."""
        return self.map_figure if self.live_map is None else self.live_map.figure

    @property
    def scatter(self):
        return None if self.live_map is None else self.live_map.figure

    @property
    def signal(self):
        return None if self.live_signal is None else self.live_signal.figure

    @property
    def rebuilt(self) -> int:
        """Live figures made anew because their page dropped updates."""
        return sum(w.rebuilt for w in (self.live_map, self.live_signal) if w is not None)

    def nearest(self, index: int) -> list[tuple[int, float]]:
        """The sample's nearest neighbours by cosine distance on the features: [(index, distance)], nearest first."""
        if self.knn is None:
            raise ValueError("LatentExplorer: neighbours need the features; pass features=features(encoder, data)")
        idx, dist = self.knn
        return [(int(j), float(d)) for j, d in zip(idx[index], dist[index]) if j != index][:idx.shape[1] - 1]

    def _ring(self, index: int) -> None:
        """Point the map's two highlight traces (the last two) at sample ``index`` and its neighbours."""
        near = [j for j, _ in self.nearest(index)]
        update_traces(self.figure, [{}] * (len(self.figure.data) - 2) + [
            dict(x=self.emb[near, 0], y=self.emb[near, 1], customdata=near),
            dict(x=self.emb[[index], 0], y=self.emb[[index], 1], customdata=[index])])

    def neighbours_html(self, index: int) -> str:
        """The neighbours of sample ``index`` as an HTML table: index, state, subject, artifacts, distance."""
        d, near = self.data, self.nearest(index)
        same = sum(int(d.y[j]) == int(d.y[index]) for j, _ in near)
        rows = "".join(f"<tr><td>{sample_facts(d, [j])[0].replace('<br>', '</td><td>')}</td><td>{dist:.3f}</td></tr>"
                       for j, dist in near)
        return (f"<p><b>The {len(near)} nearest neighbours of #{index}</b> (cosine distance on the features): "
                f"{same} of {len(near)} share its state ({d.classes[int(d.y[index])]}).</p>"
                f'<table style="font-size:12px">{rows}</table>')

    def signal_figure(self, index: int):
        """Sample ``index``'s channels, stacked (a plotly Figure)."""
        import plotly.graph_objects as go
        if not 0 <= index < len(self.data):
            raise ValueError(f"LatentExplorer: sample {index} is out of range for {len(self.data)} samples")
        d = self.data
        t = np.arange(d.x.shape[2]) / d.fs
        fig = go.Figure()
        for i, c in enumerate(self.channels):
            trace = d.x[index, c].cpu().numpy()
            fig.add_scatter(x=t, y=trace - trace.mean() - i * self.spacing, mode="lines", line=dict(width=1),
                            name=d.channels[c] if d.channels else f"ch {c}", hoverinfo="name")
        fig.update_layout(template="plotly_white", height=420, width=560, showlegend=False,
                          margin=dict(l=10, r=10, t=40, b=10), uirevision="signal",
                          title=sample_facts(d, [index])[0].replace("<br>", " · "))
        fig.update_yaxes(tickvals=[-i * self.spacing for i in range(len(self.channels))],
                         ticktext=[d.channels[c] if d.channels else f"ch {c}" for c in self.channels])
        fig.update_xaxes(title_text="time (s)" if d.fs != 1 else "time step")
        return fig

    def select(self, index: int):
        """Show sample ``index`` in the signal panel (what a click does); returns its figure."""
        fig = self.signal_figure(int(index))
        self.selected = int(index)
        if self.knn is not None:
            self._ring(self.selected)
            if self.listing is not None:
                self.listing.value = self.neighbours_html(self.selected)
        if self.signal is not None:  # the live panel: new numbers for the same traces, and the title
            update_traces(self.signal, [{"y": new.y} for new in fig.data], {"title.text": fig.layout.title.text})
            self.live_map.sent()
            self.live_signal.sent()
        return fig

    def _clicked(self, trace, points, state=None) -> None:
        if points.point_inds:
            self.select(int(trace.customdata[points.point_inds[0]]))

    @property
    def widget(self):
        """The live panel: the map and the signal as plotly FigureWidgets side by side (built on first use; from
        then on ``figure`` is the map's FigureWidget, so every update goes to the page)."""
        if self._widget is None:
            import ipywidgets as w
            self.live_map = WatchedFigure(self.map_figure, "fmlab-latent-map", self.STALE_SECONDS, self._clicked)
            self.live_signal = WatchedFigure(self.signal_figure(self.selected), "fmlab-latent-signal",
                                             self.STALE_SECONDS)
            self._widget = self._row = w.HBox([self.live_map.box, self.live_signal.box])
            if self.knn is not None:
                self.listing = w.HTML(self.neighbours_html(self.selected))
                self.listing.add_class("fmlab-latent-neighbours")
                self._widget = w.VBox([self._row, self.listing])
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel for Jupyter; for viewers without a kernel (the HTML report drops widget state) the
        scatter and the selected sample as static plotly figures: hover works there, clicking does not."""
        bundle = widget_bundle(self.widget, include, exclude)
        note = "<p><i>Static copy: clicking a point needs a live Jupyter kernel. Shown: sample " \
               f"{self.selected}.</i></p>"
        bundle["text/html"] = note + f'<div style="display:flex;flex-wrap:wrap">' \
            f'<div style="width:460px">{plotly_html(self.figure)}</div>' \
            f'<div style="width:560px">{plotly_html(self.signal_figure(self.selected))}</div></div>' + \
            (self.neighbours_html(self.selected) if self.knn is not None else "")
        bundle["text/plain"] = "LatentExplorer (clicking a point needs a live Jupyter kernel)"
        return bundle
