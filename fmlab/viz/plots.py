"""Matplotlib figures for the notebooks: signals, tokens, masks, training runs (spectra: spectra.py).

Every helper returns a Figure detached from pyplot (the conventions and colours: style.py).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from ..data.dataset import SignalDataset
from ..masking import MASK_KINDS, make_mask
from .style import (HIDDEN, PALETTE, VISIBLE, artifact_keys, channel_indices, channel_label, check_dataset, detached,
                    one_signal, palette_color, smoothed, stack_traces, time_axis)


def _patches(a: np.ndarray, patch_size: int, fn: str) -> int:
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1 or a.shape[1] % patch_size:
        raise ValueError(f"{fn}: patch_size must be a positive int that divides the length {a.shape[1]}, "
                         f"got {patch_size!r}; the length does not cut into patches of that size")
    return a.shape[1] // patch_size


def plot_history(hist, ax=None):
    """Training loss per step (log y when positive, raw and smoothed) and evaluation metrics on a twin axis.

    ``hist``: a fmlab.train.History (step, loss lists; metrics name -> [(step, value)]). Only metrics
    recorded less often than the loss (evaluations such as probe_acc) go on the twin axis; per-step logs
    (JEPA's emb_std, eff_rank) have scales of their own: see fmlab.viz.diagnostics.plot_collapse.
    ``ax``: draw into this Axes (the caller owns its figure) instead of a new figure."""
    if not hasattr(hist, "loss") or not hasattr(hist, "metrics"):
        raise ValueError(f"plot_history: expected a fmlab.train.History, got {type(hist).__name__}")
    if len(hist.loss) == 0:
        raise ValueError("plot_history: the History holds no steps yet; plot it after fit() has run")
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    steps, loss = np.asarray(hist.step, dtype=float), np.asarray(hist.loss, dtype=float)
    smooth = smoothed(loss)
    ax.plot(steps, loss, color=PALETTE[0], alpha=0.3, lw=0.8)
    handles = ax.plot(steps, smooth, color=PALETTE[0], lw=1.8, label="loss (smoothed)")
    if (loss > 0).all():
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="training loss", title=f"{len(loss)} steps in {hist.seconds:.1f} s")
    ax.grid(alpha=0.3)
    evaluations = {k: v for k, v in hist.metrics.items() if len(v) < len(hist.loss)}
    if evaluations:
        twin = ax.twinx()
        for i, (name, points) in enumerate(sorted(evaluations.items())):
            handles += twin.plot(*zip(*points), "o-", ms=3.5, lw=1.2, color=palette_color(i + 1), label=name)
        twin.set_ylabel(", ".join(name.replace("_", " ") for name in sorted(evaluations)))
    ax.legend(handles=handles, loc="best", fontsize=8)
    return detached(ax.figure) if own else ax.figure


def plot_signals(ds: SignalDataset, index: int = 0, channels=None, seconds: float | None = None):
    """Stacked traces of sample ``index`` of ds.x [N, C, T], titled with its class and artifact flags.

    ``channels``: indices or names (default all); ``seconds``: show only the first seconds
    (time steps when ds.fs is 1)."""
    check_dataset(ds, "plot_signals")
    if not -len(ds) <= index < len(ds):
        raise ValueError(f"plot_signals: index {index} is out of range for {len(ds)} samples")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"plot_signals: seconds must be positive, got {seconds}")
    idx = channel_indices(channels, ds.channels, ds.x.shape[1], "plot_signals")
    t, xlabel = time_axis(ds.fs, ds.x.shape[2])
    keep = t < seconds if seconds is not None else slice(None)
    fig, ax = plt.subplots(figsize=(9, max(2.4, 0.9 + 0.3 * len(idx))), layout="constrained")
    offsets = stack_traces(ax, t[keep], ds.x[index, idx].cpu().numpy()[:, keep],
                           [channel_label(ds.channels, c) for c in idx])
    title = f"{ds.name} #{index % len(ds)}: {ds.classes[int(ds.y[index])]}"
    if "subject" in ds.meta:
        title += f" · subject {int(ds.meta['subject'][index])}"
    if artifact_keys(ds):
        title += f" · artifacts: {', '.join(k for k in artifact_keys(ds) if ds.meta[k][index]) or 'none'}"
    unit = " µV" if ds.name == "eeg" else ""
    gap = f"traces {offsets[0] - offsets[1]:.3g}{unit} apart" if len(idx) > 1 else ""
    ax.set(xlabel=xlabel, ylabel=gap, title=title)
    return detached(fig)


def plot_examples(ds: SignalDataset, per_class: int = 3):
    """A grid classes x ``per_class`` samples of ds.x [N, C, T]: all channels when C <= 6, else channel 0."""
    check_dataset(ds, "plot_examples")
    if per_class < 1:
        raise ValueError(f"plot_examples: per_class must be at least 1, got {per_class}")
    x, y = ds.x.cpu().numpy(), ds.y.cpu().numpy()
    idx = list(range(x.shape[1])) if x.shape[1] <= 6 else [0]
    t, xlabel = time_axis(ds.fs, x.shape[2])
    k = len(ds.classes)
    fig, axes = plt.subplots(k, per_class, figsize=(2.8 * per_class + 0.8, (1.1 if k <= 6 else 0.85) * k + 0.9),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    for c in range(k):
        members = np.flatnonzero(y == c)
        for s, ax in enumerate(axes[c]):
            if s < len(members):
                for n, ch in enumerate(idx):
                    ax.plot(t, x[members[s], ch], lw=0.9, color=palette_color(n), label=channel_label(ds.channels, ch))
                ax.text(0.98, 0.92, f"#{members[s]}", transform=ax.transAxes, ha="right", va="top", fontsize=7)
            ax.tick_params(labelsize=7)
        axes[c, 0].set_ylabel(ds.classes[c], fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    if len(idx) > 1:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(idx), fontsize=8)
    shown = ("one channel" if x.shape[1] == 1 else "all channels" if len(idx) > 1
             else f"channel {channel_label(ds.channels, 0)} of {x.shape[1]}")
    fig.suptitle(f"{ds.name}: {per_class} samples per class ({shown})")
    return detached(fig)


def plot_tokens(x, patch_size: int, channels=None, names=None):
    """How one signal x [C, T] becomes C * P tokens: a few ``channels`` (default the first 3) cut into
    patches (top), and the token grid [C, P] with each token's index c * P + p (bottom)."""
    a = one_signal(x, "plot_tokens")
    n_ch, length = a.shape
    n_p = _patches(a, patch_size, "plot_tokens")
    idx = channel_indices(list(range(min(3, n_ch))) if channels is None else channels, names, n_ch, "plot_tokens")
    fig, (top, grid) = plt.subplots(2, 1, figsize=(9, 1.6 + 0.55 * len(idx) + 0.18 * n_ch),
                                    height_ratios=[0.8 + 0.55 * len(idx), 0.8 + 0.18 * n_ch], layout="constrained")
    colors = [palette_color(i) for i in range(len(idx))]
    offsets = stack_traces(top, np.arange(length, dtype=float), a[idx], [channel_label(names, c) for c in idx], colors)
    spacing = offsets[0] - offsets[1] if len(idx) > 1 else top.get_ylim()[1]
    for b in range(n_p + 1):
        top.axvline(b * patch_size - 0.5, color="0.55", lw=0.7, ls=":")
    for i, c in enumerate(idx):
        for p in range(n_p):
            top.text((p + 0.5) * patch_size, offsets[i] + 0.42 * spacing, str(c * n_p + p), ha="center", va="center",
                     fontsize=7, color=colors[i], fontweight="bold",
                     bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    top.set(xlabel="time step", title=f"one signal [C={n_ch}, T={length}] cut into P={n_p} patches of {patch_size} "
                                      f"samples per channel; numbers are token indices")
    rgb = np.ones((n_ch, n_p, 3)) * np.where(np.arange(n_ch) % 2, 0.93, 0.86)[:, None, None]
    for i, c in enumerate(idx):
        rgb[c] = 0.65 + 0.35 * np.array(to_rgb(colors[i]))  # the drawn channels' rows, tinted
    grid.imshow(rgb, aspect="auto", interpolation="nearest")
    if n_ch * n_p <= 600:
        for c in range(n_ch):
            for p in range(n_p):
                grid.text(p, c, str(c * n_p + p), ha="center", va="center", fontsize=6.5 if n_p > 16 else 7.5)
    grid.set_yticks(range(n_ch), [channel_label(names, c) for c in range(n_ch)] if n_ch <= 32 else None, fontsize=7)
    grid.set(xlabel="time patch p", ylabel="channel c", title=f"token grid [C, P] = [{n_ch}, {n_p}] → "
             f"{n_ch * n_p} tokens, channel-major: token c·P + p (row after row)")
    return detached(fig)


def plot_masks(channels: int, patches: int, ratios=(0.25, 0.5, 0.75), kinds=MASK_KINDS, seed: int = 0):
    """A grid kinds x ratios of one mask each, drawn as [C, P] images (blue visible, grey hidden),
    titled with the share actually hidden (masks round to whole tokens, spans or channels)."""
    for name, v in (("channels", channels), ("patches", patches)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"plot_masks: {name} must be a positive int, got {v!r}")
    kinds, ratios = list(kinds), list(ratios)
    if not ratios or not kinds or any(k not in MASK_KINDS for k in kinds):
        raise ValueError(f"plot_masks: expected kinds from {MASK_KINDS} and at least one ratio, "
                         f"got kinds={kinds}, ratios={ratios}")
    fig, axes = plt.subplots(len(kinds), len(ratios), squeeze=False, sharex=True, sharey=True, layout="constrained",
                             figsize=(2.8 * len(ratios) + 0.8, (0.9 + 0.1 * channels) * len(kinds) + 0.6))
    for i, kind in enumerate(kinds):
        for j, ratio in enumerate(ratios):
            _, masked = make_mask(kind, 1, channels, patches, ratio, generator=torch.Generator().manual_seed(seed))
            m = masked.reshape(channels, patches).numpy()
            ax = axes[i, j]
            ax.imshow(m, cmap=ListedColormap([VISIBLE, HIDDEN]), vmin=0, vmax=1, aspect="auto", interpolation="nearest")
            ax.set_xticks(np.arange(patches + 1) - 0.5, minor=True)
            ax.set_yticks(np.arange(channels + 1) - 0.5, minor=True)
            ax.grid(which="minor", color="white", lw=0.5)
            ax.tick_params(which="minor", length=0)
            ax.set_title(f"{kind}, ratio {ratio:g}: {m.mean():.0%} hidden", fontsize=9)
        axes[i, 0].set_ylabel("channel")
    axes[0, 0].yaxis.set_major_locator(MaxNLocator(integer=True))  # shared by every panel
    axes[0, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("time patch")
    fig.legend(handles=[Patch(color=VISIBLE, label="visible"), Patch(color=HIDDEN, label="hidden")],
               loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(f"masks over {channels} channels x {patches} patches (seed {seed})")
    return detached(fig)


def plot_masked_signal(x, masked, patch_size: int, channels=None, names=None):
    """What the encoder sees: signal x [C, T] with the tokens where ``masked`` [C * P] (or [1, C * P],
    [C, P]; True = hidden, channel-major) greyed out. ``channels``: rows to draw (default all)."""
    a = one_signal(x, "plot_masked_signal")
    n_ch, length = a.shape
    n_p = _patches(a, patch_size, "plot_masked_signal")
    m = np.asarray(masked.detach().cpu() if isinstance(masked, torch.Tensor) else masked).astype(bool)
    if m.size != n_ch * n_p:
        raise ValueError(f"plot_masked_signal: masked must hold C * P = {n_ch} * {n_p} = {n_ch * n_p} values "
                         f"(one per token, channel-major), got shape {m.shape}")
    m = m.reshape(n_ch, n_p)
    idx = channel_indices(channels, names, n_ch, "plot_masked_signal")
    fig, ax = plt.subplots(figsize=(9, max(2.4, 1.0 + 0.3 * len(idx))), layout="constrained")
    t = np.arange(length, dtype=float)
    offsets = stack_traces(ax, t, a[idx], [channel_label(names, c) for c in idx], colors=[HIDDEN] * len(idx))
    spacing = offsets[0] - offsets[1] if len(idx) > 1 else ax.get_ylim()[1]
    hidden = np.repeat(m, patch_size, axis=1)  # [C, T]
    for i, c in enumerate(idx):
        ax.plot(t, np.where(hidden[c], np.nan, a[c] - a[c].mean() + offsets[i]), lw=0.8, color=VISIBLE)
        for p in np.flatnonzero(m[c]):
            ax.add_patch(Rectangle((p * patch_size - 0.5, offsets[i] - spacing / 2), patch_size, spacing,
                                   color="0.94", lw=0, zorder=0))
    for b in range(1, n_p):
        ax.axvline(b * patch_size - 0.5, color="0.8", lw=0.5, ls=":")
    ax.set(xlabel="time step", title=f"what the encoder sees: {int((~m).sum())} of {m.size} tokens visible "
                                     f"({m.mean():.0%} hidden, grey)")
    return detached(fig)
