"""Latent spaces as pictures: a UMAP of frozen features, coloured by state, subject or artifact.

    emb = umap_embedding(features(encoder, ds))      # [N, 2]; cached, so the same features reuse the result
    plot_latent_grid({"mae": emb, ...}, ds)          # encoders x colourings (a matplotlib Figure)
    plotly_offline(interactive_scatter(emb, ds))     # hover shows each point's index, state, subject, artifacts
    latent_explorer(emb, ds, features=F)             # live notebook: click a point to see its signal and neighbours

Plotly figures go through plotly_offline, which carries plotly.js inside the notebook (once per kernel):
the executed notebook's HTML report then draws them with no internet and no plotly extension.
"""
from __future__ import annotations

import hashlib
import json
from importlib.metadata import version

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

from ..data.core import SignalDataset
from ..hub import atomic_path
from ..profiles import cache_dir
from .plots import HIDDEN, PALETTE, _artifact_keys, _channel_index, _done

COLOR_BY = ("state", "subject", "artifact")
_MEMORY: dict[str, np.ndarray] = {}  # UMAP results of this session, by cache key


def _as_features(features, fn: str) -> np.ndarray:
    f = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if f.ndim != 2 or len(f) < 4 or not np.isfinite(f).all():
        raise ValueError(f"{fn}: expected finite features [N, D] with N >= 4, got shape {f.shape}; "
                         f"compute them with fmlab.evaluate.features(encoder, data)")
    return np.ascontiguousarray(f, dtype=np.float32)


def _cosine_knn(f: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours [N, k] by cosine distance (each point is its own first), in blocks."""
    z = torch.nn.functional.normalize(torch.from_numpy(f), dim=-1)
    found = [(block @ z.T).topk(k, dim=1) for block in z.split(2048)]
    sim, idx = torch.cat([s for s, _ in found]), torch.cat([i for _, i in found])
    return idx.numpy(), (1 - sim).clamp_min(0).numpy()


def _fit_umap(f: np.ndarray, seed: int, n_neighbors: int, min_dist: float, metric: str) -> np.ndarray:
    import warnings

    import umap  # slow to import (numba): only when a UMAP is really computed
    # Cosine neighbours are found exactly here: pynndescent's approximate search (umap's choice from 4096 points)
    # compiles for about a minute in every new process, and numba's disk cache does not keep it.
    knn = _cosine_knn(f, n_neighbors) if metric == "cosine" else (None, None, None)
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, random_state=seed, n_jobs=1,
                        precomputed_knn=knn)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # only .transform() would need it
        return reducer.fit_transform(f).astype(np.float32)


def umap_embedding(features, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                   metric: str = "cosine") -> np.ndarray:
    """UMAP of features [N, D] (torch or numpy) to [N, 2] (umap-learn; neighbours by cosine similarity,
    as fmlab.evaluate.knn). The seed makes it deterministic (and single-threaded). The result is kept in
    memory and in FMLAB_CACHE/umap, keyed by the feature bytes and the arguments: the same encoder on the same
    data reuses it. The first UMAP in a fresh process imports and compiles numba code: about 50 s with an empty
    NUMBA_CACHE_DIR, 15-25 s once it holds the kernels; later calls take seconds (benchmarks/bench_umap.py)."""
    f = _as_features(features, "umap_embedding")
    n_neighbors = min(n_neighbors, len(f) - 1)
    args = dict(seed=seed, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, umap=version("umap-learn"),
                neighbours="exact" if metric == "cosine" else "umap")
    h = hashlib.sha1(f.tobytes())
    h.update(json.dumps([f.shape, args], sort_keys=True).encode())
    key = h.hexdigest()[:20]
    if key not in _MEMORY:
        path = cache_dir("umap") / f"{key}.npy"
        try:
            _MEMORY[key] = np.load(path)
        except (OSError, ValueError, EOFError):  # not there yet, or unreadable: compute it again
            _MEMORY[key] = _fit_umap(f, seed, n_neighbors, min_dist, metric)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, _MEMORY[key])
    return _MEMORY[key].copy()


def _groups(data: SignalDataset, color_by: str) -> tuple[np.ndarray, list[str]]:
    """Category per sample [N] (ints) and the category names, for colouring by ``color_by``."""
    if not isinstance(data, SignalDataset):
        raise ValueError(f"expected a SignalDataset (from fmlab.data.load), got {type(data).__name__}")
    if color_by == "state":
        return data.y.cpu().numpy(), list(data.classes)
    if color_by == "subject" and "subject" in data.meta:
        values, codes = np.unique(data.meta["subject"].cpu().numpy(), return_inverse=True)
        return codes, [f"subject {v}" for v in values]
    kinds = _artifact_keys(data)
    if color_by == "artifact" and kinds:
        flags = torch.stack([data.meta[k].cpu() for k in kinds], 1).numpy()  # [N, kinds]
        codes = np.where(flags.sum(1) > 1, len(kinds) + 1, np.where(flags.any(1), flags.argmax(1) + 1, 0))
        return codes, ["none", *kinds, "several"]
    raise ValueError(f"color_by: expected one of {COLOR_BY} that {data.name!r} has (subject and artifacts come "
                     f"from data.meta, which holds {sorted(data.meta)}), got {color_by!r}")


def _colors(names: list[str], color_by: str) -> list[str]:
    if color_by == "artifact":  # clean samples in grey, so the few with artifacts stand out
        return [HIDDEN, *[PALETTE[(i + 1) % len(PALETTE)] for i in range(len(names) - 1)]]
    if len(names) <= len(PALETTE):
        return list(PALETTE[:len(names)])
    cmap = plt.get_cmap("tab20")
    return [to_hex(cmap(i % 20)) for i in range(len(names))]


def _check_emb(emb, data, fn: str) -> np.ndarray:
    e = np.asarray(emb.detach().cpu() if isinstance(emb, torch.Tensor) else emb, dtype=float)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"{fn}: expected an embedding [N, 2] (from umap_embedding), got shape {e.shape}")
    if len(e) != len(data):
        raise ValueError(f"{fn}: the embedding has {len(e)} points but the dataset {len(data)} samples; "
                         f"embed features(encoder, data) of this same dataset")
    return e


def plot_embedding(emb, data: SignalDataset, color_by: str = "state", ax=None, title: str | None = None,
                   legend: bool = True):
    """A 2-D embedding emb [N, 2] of data's samples as dots coloured by ``color_by`` ("state", "subject" or
    "artifact"). ``ax``: draw into this Axes (the caller owns its figure). Returns the Figure."""
    e = _check_emb(emb, data, "plot_embedding")
    codes, names = _groups(data, color_by)
    colors = np.array(_colors(names, color_by), dtype=object)
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(5, 4.4), layout="constrained")
    order = np.argsort(codes != 0, kind="stable") if color_by == "artifact" else np.arange(len(e))  # grey below
    size = float(np.clip(300 / np.sqrt(len(e)), 3, 30))  # smaller dots when there are many
    ax.scatter(e[order, 0], e[order, 1], c=list(colors[codes[order]]), s=size, lw=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else f"coloured by {color_by}", fontsize=10)
    if legend:
        shown = [i for i in range(len(names)) if (codes == i).any()]
        handles = [Line2D([], [], ls="", marker="o", color=colors[i], label=names[i]) for i in shown]
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                  ncols=1 + len(handles) // 12)
    return _done(ax.figure) if own else ax.figure


def plot_latent_grid(embeddings: dict, data: SignalDataset, color_by=COLOR_BY):
    """One row per encoder {name: emb [N, 2]} (all embeddings of the same ``data``), one column per
    colouring in ``color_by``; each column's legend on its right."""
    if not isinstance(embeddings, dict) or not embeddings:
        raise ValueError("plot_latent_grid: expected {encoder name: embedding [N, 2]}, e.g. "
                         "{'mae': umap_embedding(features(encoder, data))}")
    color_by = [color_by] if isinstance(color_by, str) else list(color_by)
    rows, cols = len(embeddings), len(color_by)
    fig, axes = plt.subplots(rows, cols, figsize=(3.7 * cols + 1.8, 2.9 * rows + 0.4), squeeze=False,
                             layout="constrained")
    for r, (name, emb) in enumerate(embeddings.items()):
        for c, key in enumerate(color_by):
            plot_embedding(emb, data, key, ax=axes[r, c], title=f"coloured by {key}" if r == 0 else "",
                           legend=r == 0)
        axes[r, 0].set_ylabel(name, fontsize=11)
    fig.suptitle(f"UMAP of the frozen features of {len(data)} samples ({data.name})")
    return _done(fig)


def _hover(data: SignalDataset, indices=None) -> list[str]:
    """The facts of each sample in ``indices`` (default all): index, state, subject, artifacts."""
    kinds = _artifact_keys(data)
    flags = torch.stack([data.meta[k].cpu() for k in kinds], 1).numpy() if kinds else np.zeros((len(data), 0), bool)
    subject = data.meta["subject"].cpu().numpy() if "subject" in data.meta else None
    out = []
    for i in range(len(data)) if indices is None else indices:
        parts = [f"#{i}", f"state: {data.classes[int(data.y[i])]}"]
        if subject is not None:
            parts.append(f"subject: {subject[i]}")
        if kinds:
            parts.append(f"artifacts: {', '.join(k for k, f in zip(kinds, flags[i]) if f) or 'none'}")
        out.append("<br>".join(parts))
    return out


def interactive_scatter(emb, data: SignalDataset, color_by: str = "state", title: str | None = None,
                        height: int = 440):
    """A plotly Figure of emb [N, 2]: one trace per category of ``color_by`` (click the legend to hide one);
    hovering a point shows its index, state, subject and artifacts; trace.customdata holds the indices.
    Show it with plotly_offline(fig) so it also draws in HTML reports."""
    import plotly.graph_objects as go
    e = _check_emb(emb, data, "interactive_scatter")
    codes, names = _groups(data, color_by)
    hover, colors = np.array(_hover(data), dtype=object), _colors(names, color_by)
    fig = go.Figure()
    for c, name in enumerate(names):
        idx = np.flatnonzero(codes == c)
        if len(idx):
            fig.add_scatter(x=e[idx, 0], y=e[idx, 1], mode="markers", name=name, customdata=idx,
                            text=list(hover[idx]), hovertemplate="%{text}<extra></extra>",
                            marker=dict(size=6, color=colors[c], line=dict(width=0)))
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      title=title or f"UMAP coloured by {color_by}: hover a point", legend_title_text=color_by)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


_PLOTLYJS_SENT = False  # plotly.js goes into the first figure drawn in this kernel; later ones reuse it


def _plotly_html(*figs) -> str:
    global _PLOTLYJS_SENT
    parts = []
    for fig in figs:
        parts.append(fig.to_html(full_html=False, include_plotlyjs=not _PLOTLYJS_SENT, include_mathjax=False))
        _PLOTLYJS_SENT = True
    return "".join(parts)


class OfflinePlotly:
    """A plotly figure for a notebook cell: plotly's own renderer in JupyterLab, and HTML with plotly.js
    embedded for nbconvert reports and other viewers (no CDN, so it draws offline)."""

    def __init__(self, fig):
        self.figure = fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"application/vnd.plotly.v1+json": json.loads(self.figure.to_json()),
                "text/html": _plotly_html(self.figure),
                "text/plain": f"<plotly figure: {self.figure.layout.title.text}>"}


def plotly_offline(fig) -> OfflinePlotly:
    """Show a plotly figure as a cell's value so that it draws live and in the offline HTML report."""
    return OfflinePlotly(fig)


def _when_not_applied(fig, seconds: float, rebuild) -> None:
    """Call ``rebuild(fig)`` if the page has not applied the last trace edit sent to the FigureWidget ``fig``
    within ``seconds``. anywidget 0.11 gives each widget 2 s from its creation to load its code, and a plotly
    widget's is 5 MB: on a page with four of them and a busy CPU the last ones can miss it. Such a view still
    draws, but every later update to it is dropped without a word. The page answers each applied trace edit
    (plotly's _js2py_traceDeltas; its layout answers never arrive, so on_edits_completed cannot tell), so a figure
    whose edit stays unanswered is stale; one made now loads alone, in time."""
    import asyncio
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no kernel event loop (plain Python, unit tests): no page to wait for
        return
    edit = getattr(fig, "_last_trace_edit_id", None)
    stale = lambda: getattr(fig, "_trace_edit_in_process", False) and fig._last_trace_edit_id == edit
    loop.call_later(seconds, lambda: stale() and rebuild(fig))


class LatentExplorer:
    """The interactive scatter of emb [N, 2] beside one sample's signal: clicking a point (live kernel)
    calls select(index), which redraws the signal panel. ``channels``: indices or names to draw (default up
    to 8, spread over the montage). Given the ``features`` [N, D] the map was made from, a click also rings
    the point's ``neighbours`` nearest samples (cosine distance on the features, not on the map) and lists them.

    The live panel's two plotly FigureWidgets are made once: a click changes their numbers in place (one message
    each, about 0.15 s in Voila where new widgets per click took 3 s), and layout.uirevision keeps a zoom. A figure
    whose page has not applied an update after STALE_SECONDS is made anew from its state (see _when_not_applied)."""

    STALE_SECONDS = 3.0  # a page applies an update in well under a second, even on a busy machine

    def __init__(self, emb, data: SignalDataset, color_by: str = "state", channels=None, features=None,
                 neighbours: int = 5):
        self.figure = interactive_scatter(emb, data, color_by, title="click a point to see its signal", height=420)
        self.figure.update_layout(width=460, uirevision="latent-map")
        n_ch = data.x.shape[1]
        self.emb, self.data, self.selected = _check_emb(emb, data, "LatentExplorer"), data, 0
        spread = np.unique(np.linspace(0, n_ch - 1, min(8, n_ch)).round().astype(int)).tolist()
        self.channels = _channel_index(spread if channels is None else channels, data.channels, n_ch, "LatentExplorer")
        self.spacing = 4 * float(data.x[:, self.channels].std(-1).median()) or 1.0  # one scale for every sample
        self.scatter = self.signal = self.listing = self._row = self._widget = None
        self.knn, self.rebuilt = None, 0  # rebuilt: live figures made anew because their page dropped updates
        if features is not None:
            f = _as_features(features, "LatentExplorer")
            if len(f) != len(data) or not 1 <= neighbours < len(f):
                raise ValueError(f"LatentExplorer: expected features [N, D] of the {len(data)} samples and 1 <= "
                                 f"neighbours < N, got {len(f)} rows and neighbours={neighbours}; pass "
                                 f"features(encoder, data) of the data the map shows")
            self.knn = _cosine_knn(f, neighbours + 1)  # each point comes with itself, dropped in nearest()
            self.figure.add_scatter(mode="markers", name=f"its {neighbours} nearest neighbours", hoverinfo="skip",
                                    marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(width=2, color="black")))
            self.figure.add_scatter(mode="markers", name="selected", hoverinfo="skip",
                                    marker=dict(size=15, symbol="x-thin", line=dict(width=3, color="black")))
            self._ring(0)

    def nearest(self, index: int) -> list[tuple[int, float]]:
        """The sample's nearest neighbours by cosine distance on the features: [(index, distance)], nearest first."""
        if self.knn is None:
            raise ValueError("LatentExplorer: neighbours need the features; pass features=features(encoder, data)")
        idx, dist = self.knn
        return [(int(j), float(d)) for j, d in zip(idx[index], dist[index]) if j != index][:idx.shape[1] - 1]

    def _ring(self, index: int) -> None:
        """Point the map's two highlight traces (the last two) at sample ``index`` and its neighbours."""
        near = [j for j, _ in self.nearest(index)]
        ring, cross = self.figure.data[-2:]
        with self.figure.batch_update():
            ring.x, ring.y, ring.customdata = self.emb[near, 0], self.emb[near, 1], near
            cross.x, cross.y, cross.customdata = self.emb[[index], 0], self.emb[[index], 1], [index]

    def neighbours_html(self, index: int) -> str:
        """The neighbours of sample ``index`` as an HTML table: index, state, subject, artifacts, distance."""
        d, near = self.data, self.nearest(index)
        same = sum(int(d.y[j]) == int(d.y[index]) for j, _ in near)
        rows = "".join(f"<tr><td>{_hover(d, [j])[0].replace('<br>', '</td><td>')}</td><td>{dist:.3f}</td></tr>"
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
                          title=_hover(d, [index])[0].replace("<br>", " · "))
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
            with self.signal.batch_update():
                for live, new in zip(self.signal.data, fig.data):
                    live.y = new.y
                self.signal.layout.title.text = fig.layout.title.text
            for live in (self.scatter, self.signal):
                _when_not_applied(live, self.STALE_SECONDS, self._rebuild)
        return fig

    def _clicked(self, trace, points, state=None) -> None:
        if points.point_inds:
            self.select(int(trace.customdata[points.point_inds[0]]))

    def _live(self, fig, name: str):
        """``fig`` as a FigureWidget with the CSS class fmlab-latent-``name``; on the map a click calls select().
        Once the page shows it, it gets an edit that draws nothing, so that a page that drops its updates is found
        (and the figure made anew) before anyone clicks."""
        import plotly.graph_objects as go
        live = go.FigureWidget(fig)
        live.add_class(f"fmlab-latent-{name}")
        if name == "map":
            for trace in live.data:
                trace.on_click(self._clicked)
        live.observe(lambda change: change["new"] and not change["old"] and self._probe(live), names="_view_count")
        return live

    def _probe(self, live) -> None:
        """An edit of ``live`` that draws nothing, watched like a click's (_when_not_applied)."""
        with live.batch_update():
            live.data[0].meta = (live.data[0].meta or 0) + 1  # free data of the trace: nothing to draw
        _when_not_applied(live, self.STALE_SECONDS, self._rebuild)

    def _rebuild(self, stale) -> None:
        """Replace the live map or signal ``stale`` by a new FigureWidget of its present state (zoom included)."""
        if self.rebuilt >= 4:  # a page that drops updates to every new widget is not helped by one more
            return
        if stale is self.scatter:
            self.figure = self.scatter = self._live(stale, "map")
        elif stale is self.signal:
            self.signal = self._live(stale, "signal")
        else:
            return  # replaced already
        self._row.children = (self.scatter, self.signal)
        stale.close()
        self.rebuilt += 1

    @property
    def widget(self):
        """The live panel: the map and the signal as plotly FigureWidgets side by side (built on first use; from
        then on ``figure`` is the map's FigureWidget, so every update goes to the page)."""
        if self._widget is None:
            import ipywidgets as w
            self.figure = self.scatter = self._live(self.figure, "map")
            self.signal = self._live(self.signal_figure(self.selected), "signal")
            self._widget = self._row = w.HBox([self.scatter, self.signal])
            if self.knn is not None:
                self.listing = w.HTML(self.neighbours_html(self.selected))
                self.listing.add_class("fmlab-latent-neighbours")
                self._widget = w.VBox([self._row, self.listing])
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel for Jupyter; for viewers without a kernel (the HTML report drops widget state) the
        scatter and the selected sample as static plotly figures: hover works there, clicking does not."""
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        note = "<p><i>Static copy: clicking a point needs a live Jupyter kernel. Shown: sample " \
               f"{self.selected}.</i></p>"
        bundle["text/html"] = note + f'<div style="display:flex;flex-wrap:wrap">' \
            f'<div style="width:460px">{_plotly_html(self.figure)}</div>' \
            f'<div style="width:560px">{_plotly_html(self.signal_figure(self.selected))}</div></div>' + \
            (self.neighbours_html(self.selected) if self.knn is not None else "")
        bundle["text/plain"] = "LatentExplorer (clicking a point needs a live Jupyter kernel)"
        return bundle


def latent_explorer(emb, data: SignalDataset, color_by: str = "state", **kwargs) -> LatentExplorer:
    """The click explorer for a notebook cell; keyword arguments go to LatentExplorer."""
    return LatentExplorer(emb, data, color_by, **kwargs)
