"""Pictures of one encoder on many datasets: reconstructions of every shape, and one latent space for all.

    fig = plot_reconstructions(fmlab.pretrain.reference_objective("mae-small"), {"eeg": eeg, "GunPoint": gp})
    fig = plot_sources_embedding(xy, sources)      # xy [N, 2] (umap_embedding), sources [N] dataset names
Every helper returns a Figure detached from pyplot (conventions in style.py).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data.dataset import SignalDataset
from .style import ORIGINAL, RECON, SHADE, detached, palette_color, time_axis


@torch.no_grad()
def plot_reconstructions(objective, datasets: dict[str, SignalDataset], index: int = 0, ratio: float = 0.5,
                         seed: int = 0):
    """One row per dataset: sample ``index``, its first channel, the original (grey), the reconstruction of
    the hidden patches (orange, shaded) by ``objective`` (an MAE), each at its own shape and length."""
    if not datasets:
        raise ValueError("plot_reconstructions: expected a dict {name: SignalDataset}, got an empty one")
    fig, axes = plt.subplots(len(datasets), 1, figsize=(10, 1.8 * len(datasets)), layout="constrained", squeeze=False)
    for ax, (name, data) in zip(axes[:, 0], datasets.items()):
        if not isinstance(data, SignalDataset) or not 0 <= index < len(data):
            raise ValueError(f"plot_reconstructions: {name!r} must be a SignalDataset with a sample {index}")
        x = data.x[index:index + 1]
        lengths = data.meta.get("length")
        if lengths is not None:  # a padded series: show (and reconstruct) its valid part only
            x = x[..., : int(lengths[index])]
        r = objective.reconstruct(x, ratio=ratio, generator=torch.Generator().manual_seed(seed))
        c, t = x.shape[1:]
        masked = r["masked"][0].reshape(c, -1)[0].numpy()
        size = -(-t // len(masked))
        time, xlabel = time_axis(data.fs or 1.0, t)
        dt = time[1] - time[0] if t > 1 else 1.0
        for p in np.flatnonzero(masked):
            ax.axvspan(time[min(p * size, t - 1)], time[min(p * size, t - 1)] + size * dt, color=SHADE, lw=0)
        hidden = np.repeat(masked, size)[:t]
        ax.plot(time, x[0, 0].numpy(), color=ORIGINAL, lw=0.9)
        ax.plot(time, np.where(hidden, r["recon"][0, 0].numpy(), np.nan), color=RECON, lw=1.4)
        err = float(((r["recon"][0, 0] - x[0, 0]) ** 2)[torch.as_tensor(hidden)].mean() / x[0, 0].var().clamp(min=1e-12))
        ax.set_title(f"{name}: [{c}, {t}], channel 0; {int(masked.sum())} of {len(masked)} patches hidden; "
                     f"error {err:.2f} of the variance", fontsize=9, loc="left")
        ax.set(xlabel=xlabel)
    return detached(fig)


def plot_sources_embedding(emb, sources, title: str = "one latent space, several datasets"):
    """A 2-D embedding [N, 2] coloured by the dataset each point came from (``sources`` [N] names)."""
    e = np.asarray(emb.detach().cpu() if isinstance(emb, torch.Tensor) else emb, dtype=float)
    sources = np.asarray(sources)
    if e.ndim != 2 or e.shape[1] != 2 or len(e) != len(sources):
        raise ValueError(f"plot_sources_embedding: expected an embedding [N, 2] and N source names, got "
                         f"{e.shape} and {len(sources)} names")
    fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
    for i, name in enumerate(dict.fromkeys(sources.tolist())):
        at = sources == name
        ax.scatter(e[at, 0], e[at, 1], s=6, alpha=0.7, color=palette_color(i), label=f"{name} ({int(at.sum())})")
    ax.set(xticks=[], yticks=[], title=title)
    ax.legend(fontsize=8, markerscale=2, loc="best")
    return detached(fig)
