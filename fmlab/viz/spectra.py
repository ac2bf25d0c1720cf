"""Frequency-domain pictures of a dataset: spectra per class, scalp topographies, artifacts.

Every helper returns a Figure detached from pyplot (conventions in style.py).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle

from ..data.dataset import SignalDataset
from .style import (HIDDEN, artifact_keys, channel_indices, channel_label, check_dataset, detached, palette_color,
                    stack_traces, time_axis)


def plot_spectra(ds: SignalDataset, channels=None, bands: dict | None = None):
    """Mean log power spectrum per class over ``channels`` of ds.x [N, C, T], with band shading.

    Default channels: the occipital ones (names starting with O) if any, else all.
    ``bands``: name -> (lo, hi) Hz to shade; default the EEG bands for the eeg dataset."""
    from ..data.spectral import BANDS, power_spectrum
    check_dataset(ds, "plot_spectra")
    occipital = [c for c, n in enumerate(ds.channels or []) if n.upper().startswith("O")]
    idx = channel_indices(channels if channels is not None else (occipital or None), ds.channels,
                         ds.x.shape[1], "plot_spectra")
    bands = (BANDS if ds.name == "eeg" else {}) if bands is None else bands
    freqs, psd = power_spectrum(ds.x[:, idx].cpu(), ds.fs)  # [F], [N, k, F]
    freqs, db = freqs[1:].numpy(), (10 * torch.log10(psd[..., 1:] + 1e-12)).mean(1).numpy()  # no DC; [N, F]
    y = ds.y.cpu().numpy()
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for i, (name, (lo, hi)) in enumerate(bands.items()):
        ax.axvspan(lo, hi, color="0.93" if i % 2 else "0.86", zorder=0, lw=0)
        ax.text((lo + hi) / 2, 0.98, name, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8)
    for c, cls in enumerate(ds.classes):
        if (y == c).any():
            q25, q75 = np.percentile(db[y == c], [25, 75], axis=0)
            ax.fill_between(freqs, q25, q75, color=palette_color(c), alpha=0.15, lw=0)
            ax.plot(freqs, db[y == c].mean(0), color=palette_color(c), lw=1.6, label=f"{cls} (n={int((y == c).sum())})")
    where = ", ".join(channel_label(ds.channels, c) for c in idx) if len(idx) <= 6 else f"{len(idx)} channels"
    ax.set(xlabel=f"frequency ({'Hz' if ds.fs != 1 else 'cycles / step'})", ylabel="power (dB)",
           xlim=(freqs[0], freqs[-1]), title=f"{ds.name}: mean spectrum per class over {where} (shade: middle 50%)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return detached(fig)


def plot_topomaps(ds: SignalDataset, bands: dict | None = None):
    """Scalp maps of mean log band power, a grid classes x bands; one colour scale per band (column).

    Needs the eeg montage to place electrodes. ``bands``: name -> (lo, hi) Hz, default the EEG bands."""
    from ..data.eeg import CHANNEL_POSITIONS, CHANNELS
    from ..data.spectral import BANDS, log_band_power
    check_dataset(ds, "plot_topomaps")
    if list(ds.channels or []) != list(CHANNELS):
        raise ValueError(f"plot_topomaps: needs the eeg montage {list(CHANNELS)} to place electrodes; "
                         f"{ds.name!r} has channels {ds.channels}")
    bands = bands or BANDS
    power = log_band_power(ds.x.cpu(), ds.fs, bands=bands).numpy()  # [N, C, B]
    y = ds.y.cpu().numpy()
    present = [c for c in range(len(ds.classes)) if (y == c).any()]
    maps = np.stack([power[y == c].mean(0) for c in present])  # [K, C, B]
    pos = np.array([CHANNEL_POSITIONS[n] for n in CHANNELS])  # [C, 2], nose towards +y
    r = 1.08 * np.hypot(*pos.T).max()
    fig, axes = plt.subplots(len(present), len(bands), figsize=(1.9 * len(bands) + 0.6, 1.9 * len(present) + 0.8),
                             squeeze=False, layout="constrained")
    for b, (band, (lo, hi)) in enumerate(bands.items()):
        levels = np.linspace(maps[..., b].min(), maps[..., b].max() + 1e-9, 14)
        for k, c in enumerate(present):
            ax = axes[k, b]
            filled = ax.tricontourf(*pos.T, maps[k, :, b], levels=levels, cmap="viridis")
            ax.add_patch(Circle((0, 0), r, fill=False, lw=1.2))
            ax.plot([-0.12 * r, 0, 0.12 * r], [0.99 * r, 1.14 * r, 0.99 * r], "k", lw=1.2)  # the nose
            ax.plot(*pos.T, "k.", ms=2.5)
            ax.set(aspect="equal", xlim=(-1.2 * r, 1.2 * r), ylim=(-1.2 * r, 1.22 * r), xticks=[], yticks=[])
            ax.spines[:].set_visible(False)
            if k == 0:
                ax.set_title(f"{band}\n{lo:g}–{hi:g} Hz", fontsize=10)
            if b == 0:
                ax.set_ylabel(ds.classes[c], fontsize=10)
        fig.colorbar(filled, ax=axes[:, b], location="bottom", shrink=0.85, pad=0.02, label="log power (ln µV²)",
                     ticks=np.linspace(levels[0], levels[-1], 3), format="%.1f")
    fig.suptitle(f"{ds.name}: mean log band power per class (nose up; colours shared down each column)")
    return detached(fig)


def _artifact_scores(x: torch.Tensor, fs: float, flags: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """How strongly each channel of each sample x [N, C, T] shows each flagged kind (flags [A, N]) -> [A, N, C].

    Features per channel (log spectrum bins, log largest one-step jump) are z-scored against clean samples.
    A kind weighs the features where its samples' most-changed channel exceeds a clean sample's most
    (at least half the largest excess); a channel's score is its weighted mean z."""
    from ..data.spectral import power_spectrum
    jump = x.diff(dim=-1).abs().amax(-1, keepdim=True)  # pops and spikes hide from a spectrum
    feats = torch.cat([torch.log(power_spectrum(x, fs)[1] + 1e-12), torch.log(jump + 1e-12)], -1)  # [N, C, F+1]
    z = (feats - feats[clean].mean(0)) / (feats[clean].std(0) + 1e-6)
    top = z.amax(1)  # [N, F+1]
    excess = torch.stack([top[f].mean(0) - top[clean].mean(0) for f in flags])  # [A, F+1]
    weights = excess * (excess >= 0.5 * excess.amax(-1, keepdim=True))  # only the features that tell the kind
    return torch.einsum("ncf,af->anc", z, weights / weights.sum(-1, keepdim=True).clamp_min(1e-12))


def plot_artifacts(ds: SignalDataset, top: int = 3):
    """Per artifact kind flagged in ds.meta: its clearest sample on the ``top`` channels it changes most
    (left; grey: a clean sample of the same class) and the most changed channel's spectrum against
    the clean mean (right). Which channels change is measured, not assumed (see _artifact_scores)."""
    from ..data.spectral import power_spectrum
    check_dataset(ds, "plot_artifacts")
    kinds = [k for k in artifact_keys(ds) if ds.meta[k].bool().any()]
    if not kinds:
        raise ValueError(f"plot_artifacts: {ds.name!r} has no artifact flags set in meta (keys {sorted(ds.meta)})")
    every = torch.stack([ds.meta[k].bool().cpu() for k in artifact_keys(ds)])  # [all kinds, N]
    flags, clean = torch.stack([ds.meta[k].bool().cpu() for k in kinds]), ~every.any(0)
    if not clean.any():
        raise ValueError(f"plot_artifacts: every sample of {ds.name!r} has an artifact; no clean one to compare")
    x, y = ds.x.cpu(), ds.y.cpu()
    scores = _artifact_scores(x, ds.fs, flags, clean)  # [A, N, C]
    freqs, psd = power_spectrum(x, ds.fs)
    db = 10 * torch.log10(psd + 1e-12)  # [N, C, F]
    t, xlabel = time_axis(ds.fs, x.shape[2])
    fig, axes = plt.subplots(len(kinds), 2, figsize=(10, 0.8 + 0.45 * len(kinds) * (min(top, x.shape[1]) + 1)),
                             width_ratios=[3, 1], squeeze=False, layout="constrained")
    for a, (kind, (ax, spec)) in enumerate(zip(kinds, axes)):
        only = flags[a] & (every.sum(0) == 1)  # this artifact and no other
        pool = (only if only.any() else flags[a]).nonzero().flatten()
        i = int(pool[scores[a, pool].amax(-1).argmax()])
        same = (clean & (y == y[i])).nonzero().flatten()
        j = int(same[0] if len(same) else clean.nonzero()[0])
        idx = sorted(scores[a, i].argsort(descending=True)[:top].tolist())
        spacing = 4 * float(x[j, idx].std(-1).median()) or 1.0
        stack_traces(ax, t, x[j, idx].numpy(), [], colors=[HIDDEN] * len(idx), spacing=spacing)
        stack_traces(ax, t, x[i, idx].numpy(), [channel_label(ds.channels, c) for c in idx],
                     [palette_color(3)] * len(idx), spacing)
        ax.set_title(f"{kind}: sample #{i} ({float(flags[a].float().mean()):.0%} of samples flagged); "
                     f"grey: clean sample #{j}", fontsize=10, loc="left")
        worst = int(scores[a, i].argmax())
        spec.plot(freqs, db[clean, worst].mean(0), color=HIDDEN, lw=1.5, label="clean mean")
        spec.plot(freqs, db[i, worst], color=palette_color(3), lw=1, label=f"#{i}")
        spec.set(ylabel="power (dB)", title=channel_label(ds.channels, worst))
        spec.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(xlabel)
    axes[-1, 1].set_xlabel("frequency (Hz)" if ds.fs != 1 else "cycles / step")
    axes[0, 1].legend(fontsize=7)
    fig.suptitle(f"{ds.name}: each artifact on the channels it changes most")
    return detached(fig)


