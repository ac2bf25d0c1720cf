"""Pictures for the joint-embedding objectives (contrastive, JEPA): what augmentations do to a signal,
the EMA schedule, collapse monitors, and what a frozen encoder's features encode.

    fig = plot_augmentations(ds.x[0], {"jitter": Jitter(0.1), "scale": Scale()}, fs=ds.fs, names=ds.channels)
    fig = plot_collapse(hist, dim=encoder.dim)       # a JEPA History: emb_std, eff_rank, probe_acc
Every helper returns a Figure (detached from pyplot; conventions in style.py).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..evaluate import majority_chance
from ..pretrain.ema import momentum_at
from .style import (HIDDEN, PALETTE, channel_indices, channel_label, detached, one_signal, palette_color, smoothed,
                    stack_traces, time_axis)


def _views(a: np.ndarray, augmentations: dict, seed: int) -> list[tuple[str, np.ndarray]]:
    """(name, the signal a [C, T] under that augmentation), the i-th drawn from seed + i in a forked generator."""
    views = []
    for i, (name, aug) in enumerate(augmentations.items()):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + i)
            y = aug(torch.as_tensor(a, dtype=torch.float32)[None])
        if tuple(y.shape) != (1, *a.shape):
            raise ValueError(f"plot_augmentations: {name!r} turned [1, {a.shape[0]}, {a.shape[1]}] into "
                             f"{tuple(y.shape)}; an augmentation must keep the shape")
        views.append((name, y[0].double().numpy()))
    return views


def plot_augmentations(x, augmentations: dict, fs: float = 1.0, channels=None, names=None,
                       seconds: float | None = None, seed: int = 0):
    """The same signal x [C, T] under each augmentation (a callable on batches [B, C, T]), one row each:
    the traces (left; grey: the original) and the log power spectrum averaged over the drawn channels
    (right). Row titles say how much the waveform changed (rms of the difference over rms of the signal)
    and how much the spectrum changed (mean |dB| per channel and frequency bin), both over all channels.
    ``channels``: indices or names (default up to 4 spread over the montage); ``seconds``: show only
    the start of the traces; ``seed`` fixes the random draws (the global generator is left alone)."""
    a = one_signal(x, "plot_augmentations")
    if not isinstance(augmentations, dict) or not augmentations or not all(map(callable, augmentations.values())):
        raise ValueError(f"plot_augmentations: expected a non-empty dict name -> augmentation callable, "
                         f"got {type(augmentations).__name__}")
    n_ch, length = a.shape
    default = np.unique(np.linspace(0, n_ch - 1, min(4, n_ch)).round().astype(int)).tolist()
    idx = channel_indices(default if channels is None else channels, names, n_ch, "plot_augmentations")
    t, xlabel = time_axis(fs, length)
    shown = t < seconds if seconds else slice(None)
    groups = np.array_split(np.arange(1, length // 2 + 1), min(32, length // 2))  # frequency bins, DC left out
    freqs = np.array([g.mean() * fs / length for g in groups])

    def log_power(s, floor=-np.inf):  # [C, T] -> [C, bins], smoothed over neighbouring frequencies
        p = np.abs(np.fft.rfft(s, axis=-1)) ** 2
        return np.maximum(np.log10(np.stack([p[:, g].mean(-1) for g in groups], -1) + 1e-30), floor)

    rows = [("original", a), *_views(a, augmentations, seed)]
    spacing = 4 * float(np.median(a[idx].std(-1))) or 1.0
    colors = [c for c in PALETTE if c != "#F0E442"]  # yellow is too faint for thin traces
    mean_log = lambda p: np.log10((10.0 ** p[idx]).mean(0))  # the drawn channels' mean power, in log10
    p0 = log_power(a)
    floor = p0.min() - 2  # 20 dB under the faintest bin: a removed channel or band counts, but not as -inf
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, len(rows) * (0.45 + 0.25 * len(idx)) + 0.6),
                             width_ratios=[4, 1.2], sharex="col", sharey="col", squeeze=False, layout="constrained")
    for r, (name, s) in enumerate(rows):
        trace, spec = axes[r]
        color, p = colors[r % len(colors)], log_power(s, floor)
        if r:
            stack_traces(trace, t[shown], a[idx][:, shown], [""] * len(idx), colors=[HIDDEN] * len(idx),
                         spacing=spacing)
            spec.plot(freqs, mean_log(p0), color=HIDDEN, lw=1.5)
        stack_traces(trace, t[shown], s[idx][:, shown], [channel_label(names, c) for c in idx],
                     colors=[color] * len(idx), spacing=spacing)
        spec.plot(freqs, mean_log(p), color=color, lw=1.2)
        wave = np.sqrt(((s - a) ** 2).mean() / max((a ** 2).mean(), 1e-24))
        change = f": waveform change {wave:.0%}, spectrum change {10 * np.abs(p - p0).mean():.1f} dB" if r else ""
        trace.set_title(name + change, fontsize=9, loc="left")
        for ax in (trace, spec):
            ax.tick_params(labelsize=7)
        spec.grid(alpha=0.3)
    lo, hi = mean_log(p0).min(), mean_log(p0).max()
    axes[0, 1].set_ylim(lo - 0.6 * (hi - lo) - 0.5, hi + 0.3 * (hi - lo) + 0.2)  # a deep notch may leave the frame
    axes[-1, 0].set_xlabel(xlabel)
    axes[-1, 1].set_xlabel("frequency (Hz)" if fs != 1 else "frequency (1 / step)")
    axes[0, 1].set_title("log10 power (drawn channels)", fontsize=9)
    fig.suptitle("one signal, several views (grey: the original)")
    return detached(fig)


def plot_ema_schedule(total_steps: int, start: float = 0.996, end: float = 1.0):
    """The target encoder's momentum m over training (left; fmlab.pretrain.ema.momentum_at) and its
    memory 1 / (1 - m): roughly how many recent online steps the target averages (right, log scale)."""
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"plot_ema_schedule: total_steps must be a positive int, got {total_steps!r}")
    if not 0 < start <= end <= 1:
        raise ValueError(f"plot_ema_schedule: expected 0 < start <= end <= 1, got start={start}, end={end}")
    steps = np.arange(total_steps + 1)
    m = np.array([momentum_at(int(s), total_steps, start, end) for s in steps])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), layout="constrained")
    left.plot(steps, m, color=PALETTE[0], lw=2)
    left.set(xlabel="step", ylabel="momentum m",
             title=f"target ← m·target + (1 − m)·online,  m: {start:g} → {end:g}")
    gap = 1 - m[:-1]
    right.plot(steps[:-1][gap > 0], 1 / gap[gap > 0], color=PALETTE[1], lw=2)
    right.axhline(total_steps, color="0.5", ls=":", lw=1)
    right.text(0, total_steps, f" the whole run ({total_steps} steps)", va="bottom", fontsize=8, color="0.4")
    right.set(xlabel="step", ylabel="1 / (1 − m)  (steps)", yscale="log",
              ylim=(None, max(30 * total_steps, 20 / max(1 - start, 1e-9))),
              title="its memory: it averages ~1 / (1 − m) recent steps")
    right.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.yaxis.set_minor_formatter(NullFormatter())
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return detached(fig)


def plot_collapse(hist, dim: int | None = None, batch_size: int | None = None):
    """Collapse monitors of a JEPA run (a History whose metrics hold per-step "emb_std" and "eff_rank",
    and "probe_acc" if it was probed): the spread of the L2-normalised embeddings across a batch, their
    effective rank, and the linear-probe accuracy. Complete collapse (every input to one point) drives
    emb_std to 0; eff_rank is computed after removing the mean, so it ignores scale and may not see that.
    Dimensional collapse (embeddings along a few directions) drives eff_rank towards 1. ``dim`` (the
    embedding width) marks the healthy references: 1 / sqrt(dim) for emb_std, and for eff_rank its ceiling,
    min(dim, batch_size) (a batch of B embeddings spans at most B directions)."""
    if not hasattr(hist, "metrics"):
        raise ValueError(f"plot_collapse: expected a fmlab.train.History, got {type(hist).__name__}")
    missing = [k for k in ("emb_std", "eff_rank") if not hist.metrics.get(k)]
    if missing:
        raise ValueError(f"plot_collapse: the History has no {' or '.join(missing)} (it has {sorted(hist.metrics)}); "
                         f"these are logged per step by objectives like fmlab.pretrain.JEPA")
    panels = [("emb_std", "std of normalised embeddings", 0.0, dim and 1 / np.sqrt(dim)),
              ("eff_rank", "effective rank", 1.0, dim and min(dim, batch_size or dim))]
    if hist.metrics.get("probe_acc"):
        panels.append(("probe_acc", "linear-probe accuracy", None, None))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False, layout="constrained")
    for i, (ax, (key, label, collapsed, healthy)) in enumerate(zip(axes[0], panels)):
        s, v = map(np.asarray, zip(*hist.metrics[key]))
        if key == "probe_acc":
            ax.plot(s, v, "o-", ms=4, color=palette_color(2))
        else:
            ax.plot(s, v, color=palette_color(i), alpha=0.3, lw=0.8)
            ax.plot(s, smoothed(v), color=palette_color(i), lw=1.8)
            ax.axhline(collapsed, color=PALETTE[3], ls="--", lw=1, label=f"collapsed ({collapsed:g})")
            if healthy:
                what = "spread evenly" if key == "emb_std" else "at most"
                ax.axhline(healthy, color="0.4", ls=":", lw=1, label=f"{what} ({healthy:.3g})")
            ax.set_ylim(bottom=collapsed - 0.05 * max(float(v.max()), healthy or 0))
            ax.legend(fontsize=8, loc="best")
        ax.set(xlabel="step", ylabel=label, title=f"{label}: {v[-1]:.3g} at the end")
        ax.grid(alpha=0.3)
    fig.suptitle("is it collapsing? all inputs to one point: std → 0; onto a few directions: rank → 1")
    return detached(fig)


def plot_what_it_encodes(scores: dict, chance: dict | None = None, data=None):
    """Grouped bars of probe accuracies {encoder name: {"state", "subject", "artifact"}} (from
    fmlab.evaluate.what_it_encodes), one group per property, one bar per encoder, with dashed chance
    levels: ``chance`` {property: accuracy}, else majority_chance(data) when ``data`` is given, else
    only the artifact's 0.5. Good for the state task: high on "state", near chance on the rest."""
    if not isinstance(scores, dict) or not scores or not all(isinstance(s, dict) and s for s in scores.values()):
        raise ValueError("plot_what_it_encodes: expected {encoder name: {property: accuracy}}, e.g. "
                         "{'default': what_it_encodes(encoder, data)}")
    props = list(dict.fromkeys(k for s in scores.values() for k in s))
    chance = chance if chance is not None else majority_chance(data) if data is not None else {"artifact": 0.5}
    width = 0.8 / len(scores)
    fig, ax = plt.subplots(figsize=(2.2 * len(props) + 1.6, 3.8), layout="constrained")
    for i, (name, s) in enumerate(scores.items()):
        pos = np.arange(len(props)) - 0.4 + (i + 0.5) * width
        vals = np.array([s.get(p, np.nan) for p in props], dtype=float)
        bars = ax.bar(pos, vals, width * 0.92, color=palette_color(i), label=name)
        ax.bar_label(bars, [f"{v:.2f}" if np.isfinite(v) else "" for v in vals], fontsize=7, padding=1)
    marked = [(j, p) for j, p in enumerate(props) if p in chance]
    for n, (j, p) in enumerate(marked):
        ax.hlines(chance[p], j - 0.45, j + 0.45, color="0.2", ls="--", lw=1.2, zorder=3, label=None if n else "chance")
    want = {"state": "want high", "subject": "want low", "artifact": "want low",
            "state_neighbours": "want high", "subject_neighbours": "want low"}
    ax.set_xticks(range(len(props)), [f"{p.replace('_', ' ')}\n({want[p]})" if p in want else p for p in props])
    ax.set(ylim=(0, 1.08), ylabel="probe accuracy (artifact: balanced)\nor share of neighbours",
           title="what the frozen features encode (linear probes)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return detached(fig)
