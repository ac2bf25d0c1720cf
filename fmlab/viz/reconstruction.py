"""What a masked model fills in: reconstructions in time and in frequency, and the masking-ratio sweep.

    res = mae.reconstruct(x, ratio=0.75)          # {"input", "recon" [B, C, T], "masked" [B, N], "error" [B, N]}
    plot_reconstruction(res, names=ds.channels, fs=ds.fs)
    plot_spectrum_reconstruction(spec.reconstruct(x), fs=ds.fs)   # MaskedSpectrum: log-magnitudes per patch
Every helper returns a Figure detached from pyplot (conventions in style.py); hidden tokens are shaded.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import PowerNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .style import ORIGINAL, PALETTE, RECON, SHADE, channel_indices, channel_label, detached, palette_color, time_axis


def _unpack(result: dict, index: int, keys: tuple[str, ...], fn: str):
    """One sample of a reconstruct() result -> (x [C, T], masked [C, P], error [C, P], patch_size)."""
    if not isinstance(result, dict) or any(k not in result for k in keys):
        raise ValueError(f"{fn}: expected the dict from reconstruct() with keys {list(keys)}, got "
                         f"{sorted(result) if isinstance(result, dict) else type(result).__name__}")
    x = result["input"]
    if not -len(x) <= index < len(x):
        raise ValueError(f"{fn}: index {index} is out of range for a batch of {len(x)}")
    c, t = x.shape[1:]
    p = result["masked"].shape[1] // c
    as_np = lambda v: v[index].detach().float().cpu().numpy()
    size = -(-t // p)  # the last patch may be partial (zero-padded by the encoder)
    return as_np(x), as_np(result["masked"]).reshape(c, p) > 0, as_np(result["error"]).reshape(c, p), size


def _error_map(ax, err: np.ndarray, masked: np.ndarray, names, t_end: float, xlabel: str, unit: str) -> None:
    """Per-token error [C, P] of the hidden tokens on the time axis; visible tokens (not scored) blank."""
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    im = ax.imshow(np.where(masked, err, np.nan), aspect="auto", interpolation="nearest", cmap=cmap,
                   norm=PowerNorm(0.5),  # square-root scale: a few large errors don't wash out the rest
                   extent=(0, t_end, len(err) - 0.5, -0.5))
    ax.figure.colorbar(im, ax=ax, pad=0.01, label=f"squared error\n({unit})")
    labels = [channel_label(names, c) for c in range(len(err))] if len(err) <= 32 else None
    ax.set_yticks(range(len(err)), labels, fontsize=7)
    ax.set(xlabel=xlabel, ylabel="channel", title=f"error per hidden patch (white: visible, not scored); "
                                                  f"mean {err[masked].mean():.3g}")


def _default_channels(masked: np.ndarray) -> list[int]:
    """The 3 channels with the most hidden patches and the one with the fewest (so a channel mask shows
    a visible neighbour too), in montage order."""
    order = np.argsort(-masked.sum(1), kind="stable")
    return sorted(set(order[:3].tolist() + order[-1:].tolist()))


def default_channels(result: dict, index: int = 0) -> list[int]:
    """The channels plot_reconstruction draws for sample ``index`` of a reconstruct() result by default."""
    return _default_channels(_unpack(result, index, ("input", "masked", "error"), "default_channels")[1])


def plot_reconstruction(result: dict, index: int = 0, channels=None, names=None, fs: float | None = None,
                        label: str | None = None):
    """MAE.reconstruct() output, sample ``index``: for a few ``channels`` (default: see _default_channels) the
    original (grey), what the encoder saw (blue) and the reconstruction of hidden patches (orange, shaded),
    then the per-patch error map [C, P]. ``label`` names the sample in the title (default "sample <index>")."""
    x, masked, err, size = _unpack(result, index, ("input", "recon", "masked", "error"), "plot_reconstruction")
    recon = result["recon"][index].detach().float().cpu().numpy()
    idx = channel_indices(_default_channels(masked) if channels is None else channels, names, len(x),
                         "plot_reconstruction")
    t, xlabel = time_axis(fs or 1.0, x.shape[1])
    hidden = np.repeat(masked, size, axis=1)[:, : x.shape[1]]  # [C, T]
    heights = [1 + 0.55 * len(idx), 1 + 0.12 * len(x)]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, layout="constrained", figsize=(10, 0.2 + sum(heights)),
                                      height_ratios=heights)
    spread = np.abs(x[idx] - x[idx].mean(-1, keepdims=True))
    spacing = 2 * float(np.percentile(spread, 98)) or 1.0  # rows rarely overlap, even strong alpha
    dt = t[1] - t[0]
    for i, c in enumerate(idx):
        o, mean = -spacing * i, x[c].mean()
        for p in np.flatnonzero(masked[c]):
            top.add_patch(Rectangle((t[p * size], o - spacing / 2), size * dt, spacing, color=SHADE, lw=0,
                                    zorder=0))
        top.plot(t, x[c] - mean + o, color=ORIGINAL, lw=0.8)
        top.plot(t, np.where(hidden[c], np.nan, x[c]) - mean + o, color=PALETTE[0], lw=0.9)
        top.plot(t, np.where(hidden[c], recon[c], np.nan) - mean + o, color=RECON, lw=1.4)
    top.set_yticks(-spacing * np.arange(len(idx)), [channel_label(names, c) for c in idx])
    top.set_ylabel("channel (traces offset, one scale)")
    top.set(xlim=(t[0], t[-1] + dt), ylim=(-spacing * (len(idx) - 0.5), spacing / 2))
    variance = max(float(((x - x.mean(1, keepdims=True)) ** 2)[hidden].mean()), 1e-12)
    err_h = float(((recon - x) ** 2)[hidden].mean()) / variance
    # the map in the same unit as the title: each patch's squared error over the hidden samples' variance, so its
    # mean is the title's number (up to a partial last patch)
    sq = np.pad((recon - x) ** 2, ((0, 0), (0, masked.shape[1] * size - x.shape[1])), constant_values=np.nan)
    err = np.nanmean(sq.reshape(len(x), masked.shape[1], size), -1) / variance
    top.set_title(f"{label or f'sample {index}'}: {int(masked.sum())} of {masked.size} tokens hidden\n"
                  f"error on the hidden patches = {err_h:.2f} of their variance (1: no better than a flat line)",
                  fontsize=10)
    handles = [Line2D([], [], color=ORIGINAL, label="original"),
               Line2D([], [], color=PALETTE[0], label="seen by the encoder"),
               Line2D([], [], color=RECON, lw=1.4, label="reconstruction"), Patch(color=SHADE, label="hidden patch")]
    fig.legend(handles=handles, loc="outside upper center", ncols=4, fontsize=8, frameon=False)
    _error_map(bottom, err, masked, names, t[-1] + dt, xlabel, "share of the hidden samples' variance")
    return detached(fig)


def plot_spectrum_reconstruction(result: dict, index: int = 0, tokens: int = 3, names=None,
                                 fs: float | None = None):
    """MaskedSpectrum.reconstruct() output, sample ``index``: true (black) vs predicted (orange) log-magnitude
    spectra of ``tokens`` hidden patches (lowest, middle and highest error), their mean over every hidden
    patch, and the per-patch error map [C, P]."""
    x, masked, err, size = _unpack(result, index, ("input", "target", "pred", "masked", "error"),
                                   "plot_spectrum_reconstruction")
    if tokens < 1:
        raise ValueError(f"plot_spectrum_reconstruction: tokens must be at least 1, got {tokens}")
    target, pred = (result[k][index].detach().float().cpu().numpy() for k in ("target", "pred"))  # [N, bins]
    hidden = np.flatnonzero(masked.ravel())
    ranked = hidden[np.argsort(err.ravel()[hidden], kind="stable")]
    shown = ranked[np.unique(np.linspace(0, len(ranked) - 1, min(tokens, len(ranked))).round().astype(int))]
    freqs = np.fft.rfftfreq(size, 1 / (fs or 1.0))
    fig = plt.figure(figsize=(2.6 * (len(shown) + 1) + 1, 4.6 + 0.12 * len(x)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3, 1.6 + 0.12 * len(x)])
    axes = top.subplots(1, len(shown) + 1, sharey=True)
    n_p = masked.shape[1]
    where = lambda p: f"{p * size / fs:g}–{(p + 1) * size / fs:g} s" if fs else f"patch {p}"
    panels = [(target[n], pred[n], f"{channel_label(names, n // n_p)}, {where(n % n_p)}: error {err.ravel()[n]:.2f}")
              for n in shown]
    panels.append((target[hidden].mean(0), pred[hidden].mean(0), f"mean of all {len(hidden)} hidden patches"))
    for ax, (true, guess, title) in zip(axes, panels):
        ax.plot(freqs, true, color="k", lw=1.2, label="true")
        ax.plot(freqs, guess, color=RECON, lw=1.4, label="predicted")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("frequency (Hz)" if fs else "cycles / step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("log |rFFT| of the patch")
    axes[0].legend(fontsize=8)
    top.suptitle(f"sample {index}: spectra of hidden patches, from lowest to highest error", fontsize=10)
    _error_map(bottom.subplots(), err, masked, names, x.shape[1] / (fs or 1.0),
               "time (s)" if fs else "time step", "log-magnitude")
    return detached(fig)


def plot_reconstruction_spectra(result: dict, fs: float, bands: dict | None = None):
    """MAE.reconstruct() output, in frequency: the mean power spectrum of every hidden patch in the batch,
    original vs reconstruction vs what was missed (original - reconstruction), and the share of each
    frequency's power the reconstruction recovered. ``bands``: name -> (lo, hi) Hz to shade."""
    if not isinstance(result, dict) or "recon" not in result:
        raise ValueError("plot_reconstruction_spectra: expected the dict from MAE.reconstruct() (with 'recon')")
    if not fs or fs <= 0:
        raise ValueError(f"plot_reconstruction_spectra: fs must be the sampling rate (> 0), got {fs}")
    x, recon = (result[k].detach().float().cpu() for k in ("input", "recon"))
    masked = result["masked"].detach().cpu().bool()
    size = x.shape[-1] * x.shape[1] // masked.shape[1]
    window = torch.hann_window(size, periodic=True)
    power = lambda s: (torch.fft.rfft((s - s.mean(-1, keepdim=True)) * window).abs() ** 2)[..., 1:].mean(0).numpy()
    pick = lambda s: s.reshape(len(s), -1, size)[masked]  # hidden patches [H, L]
    orig, rec = pick(x), pick(recon)
    freqs = np.fft.rfftfreq(size, 1 / fs)[1:]
    p_orig, p_rec, p_miss = power(orig), power(rec), power(orig - rec)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for p, label, color in ((p_orig, "original", "k"), (p_rec, "reconstruction", RECON),
                            (p_miss, "missed (original − reconstruction)", PALETTE[0])):
        left.plot(freqs, 10 * np.log10(p + 1e-12), color=color, lw=1.5, label=label)
    left.set(xlabel="frequency (Hz)", ylabel="power (dB)",
             title=f"mean spectrum of {len(orig)} hidden patches ({size} samples each)")
    left.legend(fontsize=8)
    recovered = np.clip(1 - p_miss / np.maximum(p_orig, 1e-12), -1, 1)
    right.plot(freqs, recovered, color=palette_color(2), lw=1.6, marker="o", ms=3)
    right.axhline(0, color="0.5", lw=0.8)
    right.set(xlabel="frequency (Hz)", ylabel="share of power recovered", ylim=(-1.05, 1.05),
              title="1 − missed / original (0: nothing recovered; clipped at −1)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        for i, (name, (lo, hi)) in enumerate((bands or {}).items()):
            ax.axvspan(lo, hi, color="0.93" if i % 2 else "0.86", zorder=0, lw=0)
            ax.text((lo + hi) / 2, 0.01 + 0.05 * (i % 2), name, transform=ax.get_xaxis_transform(), ha="center",
                    fontsize=7)
    return detached(fig)


def plot_ratio_sweep(ratios, accuracies, reference: dict[str, float] | None = None, chance: float | None = None,
                     noise: float | None = None):
    """Linear-probe accuracy against the MAE masking ratio. ``accuracies``: one accuracy per ratio, or a dict
    {mask kind: [[accuracy per seed] per ratio]} drawn as the seeds' mean with their range shaded.
    ``reference``: name -> accuracy drawn as dashed lines (e.g. {"random init": 0.41}); ``chance``: a dotted
    line; ``noise``: the test set's standard error, drawn as error bars on each mean."""
    ratios = np.asarray(ratios, dtype=float)
    curves = accuracies if isinstance(accuracies, dict) else {"MAE": [[a] for a in np.asarray(accuracies, float)]}
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    for i, (kind, per_ratio) in enumerate(curves.items()):
        acc = np.asarray(per_ratio, dtype=float)
        if ratios.ndim != 1 or len(ratios) == 0 or acc.ndim != 2 or len(acc) != len(ratios):
            raise ValueError(f"plot_ratio_sweep: expected one accuracy per ratio (or one list of seeds per ratio), got "
                             f"{len(ratios)} ratios and {acc.shape} accuracies for {kind!r}")
        mean = acc.mean(1)
        label = f"{kind} masks, linear probe" + (f" ({acc.shape[1]} seeds: mean, range)" if acc.shape[1] > 1 else "")
        ax.plot(ratios, mean, "o-", color=palette_color(i), lw=1.8, label=label)
        if noise:
            ax.errorbar(ratios, mean, yerr=noise, fmt="none", ecolor=palette_color(i), capsize=3, lw=1)
        if acc.shape[1] > 1:
            ax.fill_between(ratios, acc.min(1), acc.max(1), color=palette_color(i), alpha=0.15, lw=0)
        best = int(np.argmax(mean))
        ax.annotate(f"best {mean[best]:.1%}", (ratios[best], mean[best]), textcoords="offset points",
                    xytext=(0, 8 + 10 * i), ha="center", fontsize=8, color=palette_color(i))
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, color=palette_color(i + len(curves)), ls="--", lw=1.2, label=f"{name} ({value:.1%})")
    if chance is not None:
        ax.axhline(chance, color="0.5", ls=":", lw=1, label=f"chance ({chance:.0%})")
    ax.set(xlabel="masking ratio (share of tokens hidden)", ylabel="probe accuracy (held-out subjects)",
           title="which masking ratio teaches the encoder most?")
    ax.grid(alpha=0.3)
    ax.margins(y=0.15)
    ax.legend(fontsize=8)
    return detached(fig)
