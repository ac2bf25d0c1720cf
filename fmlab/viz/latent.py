"""Pictures of a latent space: an embedding [N, 2] coloured by state, subject or artifact.

    plot_latent_grid({"mae": emb, ...}, ds)          # encoders x colourings (a matplotlib Figure)
    plotly_offline(interactive_scatter(emb, ds))     # hover shows each point's index, state, subject, artifacts

The embedding comes from umap_embedding (embedding.py); the click explorer is fmlab.explore.LatentExplorer.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

from ..data.dataset import SignalDataset
from .style import HIDDEN, PALETTE, artifact_keys, detached

COLOR_BY = ("state", "subject", "artifact")


def _groups(data: SignalDataset, color_by: str) -> tuple[np.ndarray, list[str]]:
    """Category per sample [N] (ints) and the category names, for colouring by ``color_by``."""
    if not isinstance(data, SignalDataset):
        raise ValueError(f"expected a SignalDataset (from fmlab.data.load), got {type(data).__name__}")
    if color_by == "state":
        return data.y.cpu().numpy(), list(data.classes)
    if color_by == "subject" and "subject" in data.meta:
        values, codes = np.unique(data.meta["subject"].cpu().numpy(), return_inverse=True)
        return codes, [f"subject {v}" for v in values]
    kinds = artifact_keys(data)
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


def check_embedding(emb, data, fn: str) -> np.ndarray:
    """An embedding emb [N, 2] of the N samples of ``data`` as a float array; ValueError for any other shape."""
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
    e = check_embedding(emb, data, "plot_embedding")
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
    return detached(ax.figure) if own else ax.figure


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
    return detached(fig)


def sample_facts(data: SignalDataset, indices=None) -> list[str]:
    """The facts of each sample in ``indices`` (default all): index, state, subject, artifacts, joined by <br>."""
    kinds = artifact_keys(data)
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
    e = check_embedding(emb, data, "interactive_scatter")
    codes, names = _groups(data, color_by)
    hover, colors = np.array(sample_facts(data), dtype=object), _colors(names, color_by)
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
