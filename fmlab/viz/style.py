"""What every figure shares: the palette, channel names and indices, the time axis, stacked traces.

Every figure helper returns a Figure and never calls plt.show(): detached(fig) takes it off pyplot, so a
notebook shows it once, as a cell's value; save it with ``fig.savefig(path)``. Colours are the Okabe-Ito
palette (colour-blind safe); visible tokens are blue, hidden ones grey.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data.dataset import SignalDataset

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
VISIBLE, HIDDEN = PALETTE[0], "#c8c8c8"
ORIGINAL, RECON, SHADE = "0.55", PALETTE[3], "0.92"  # a reconstruction: the original, the model's guess, hidden
MARKERS = "osD^vP*Xh"  # one per line of a comparison, after the colour


def palette_color(i: int) -> str:
    """The i-th colour of the palette, round again after the last."""
    return PALETTE[i % len(PALETTE)]


def detached(fig):
    """``fig`` off pyplot: no second copy in a notebook, no pile of open figures."""
    plt.close(fig)
    return fig


def smoothed(values) -> np.ndarray:
    """An exponential moving average of a training curve (span: a twentieth of its length, at least 2)."""
    out, alpha = np.array(values, dtype=float), 2 / (max(2, len(values) // 20) + 1)
    for i in range(1, len(out)):
        out[i] = alpha * out[i] + (1 - alpha) * out[i - 1]
    return out


def check_dataset(ds, fn: str) -> None:
    if not isinstance(ds, SignalDataset):
        raise ValueError(f"{fn}: expected a SignalDataset (from fmlab.data.load), got {type(ds).__name__}")
    if len(ds) == 0:
        raise ValueError(f"{fn}: the dataset {ds.name!r} is empty")


def one_signal(x, fn: str) -> np.ndarray:
    """One signal as a float array [C, T]; a 1-D [T] counts as one channel."""
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2:
        raise ValueError(f"{fn}: expected one signal [C, T] (or [T]), got shape {a.shape}; "
                         f"pick one sample, e.g. ds.x[0]")
    return a


def channel_indices(channels, names, count: int, fn: str) -> list[int]:
    """None -> every channel; ints or channel names -> indices into [0, count)."""
    if channels is None:
        return list(range(count))
    out = []
    for ch in [channels] if isinstance(channels, (int, str)) else channels:
        if isinstance(ch, str) and ch not in (names or []):
            raise ValueError(f"{fn}: unknown channel {ch!r}; known: {list(names or [])} (or use indices)")
        if not isinstance(ch, str) and not 0 <= int(ch) < count:
            raise ValueError(f"{fn}: channel index {ch} is out of range for {count} channels")
        out.append(list(names).index(ch) if isinstance(ch, str) else int(ch))
    if not out:
        raise ValueError(f"{fn}: channels is empty; pass None for all, or a list of indices or names")
    return out


def channel_label(names, c: int) -> str:
    return names[c] if names else f"ch {c}"


def time_axis(fs: float, length: int) -> tuple[np.ndarray, str]:
    """The times of ``length`` samples at rate ``fs`` and the axis label (time steps when fs is 1)."""
    return (np.arange(length, dtype=float), "time step") if fs == 1 else (np.arange(length) / fs, "time (s)")


def stack_traces(ax, t, traces: np.ndarray, labels, colors=None, spacing: float | None = None) -> np.ndarray:
    """Draw traces [k, T] top to bottom at one shared scale, labelled on the y axis; returns the offsets."""
    spacing = spacing or 4 * float(np.median(traces.std(-1))) or 1.0
    offsets = -spacing * np.arange(len(traces))
    shown = traces - traces.mean(-1, keepdims=True) + offsets[:, None]
    for i, trace in enumerate(shown):
        ax.plot(t, trace, lw=0.8, color=colors[i] if colors else PALETTE[0])
    ax.set_yticks(offsets, labels)
    ax.set_ylabel("channel (traces offset, one scale)")
    drawn_before = len(ax.lines) > len(shown)  # a second stack on the same axes keeps the first one in view
    lo, hi = ax.get_ylim() if drawn_before else (np.inf, -np.inf)
    ax.set_ylim(min(lo, shown.min(), offsets[-1] - spacing / 2), max(hi, shown.max(), spacing / 2))
    ax.set_xlim(t[0], t[-1])
    return offsets


def artifact_keys(ds: SignalDataset) -> list[str]:
    """Artifact flags are the bool entries of ds.meta (eeg: blink, muscle, line_noise, pop)."""
    return [k for k, v in ds.meta.items() if v.dtype == torch.bool]
