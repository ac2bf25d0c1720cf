"""Small spectral helpers: a Welch power spectrum and log band power, in torch.

    freqs, psd = power_spectrum(x, fs)        # x [..., T] -> freqs [F], psd [..., F]
    feats = log_band_power(x, fs)             # x [N, C, T] -> [N, C, n_bands]
"""
from __future__ import annotations

import torch

# The classic EEG bands in Hz: the default of band_power (and what fmlab.data.eeg's states differ in).
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}


def power_spectrum(x: torch.Tensor, fs: float, nperseg: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Welch power spectral density of ``x`` [..., T] along the last axis.

    Hann-windowed segments of ``nperseg`` samples (default: 2 s, at most T) with 50 % overlap,
    one-sided density (units of x squared per Hz), averaged over segments.
    Returns freqs [F] in Hz and psd [..., F], F = nperseg // 2 + 1, on x's device.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or not x.is_floating_point():
        raise ValueError(f"power_spectrum: expected a float tensor [..., T], got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}; use x.float()")
    T = x.shape[-1]
    nperseg = min(T, int(round(2 * fs))) if nperseg is None else int(nperseg)
    if not 2 <= nperseg <= T:
        raise ValueError(f"power_spectrum: expected 2 <= nperseg <= T = {T}, got {nperseg}; pass a smaller nperseg")
    window = torch.hann_window(nperseg, periodic=True, dtype=x.dtype, device=x.device)
    segments = x.unfold(-1, nperseg, max(1, nperseg // 2))                       # [..., S, nperseg]
    segments = segments - segments.mean(-1, keepdim=True)                         # drop each segment's DC offset
    spec = torch.fft.rfft(segments * window, dim=-1).abs() ** 2 / (fs * (window**2).sum())
    spec[..., 1:(nperseg + 1) // 2] *= 2                                          # one-sided: fold negative freqs
    freqs = torch.fft.rfftfreq(nperseg, 1 / fs, device=x.device)
    return freqs, spec.mean(-2)


def log_band_power(x: torch.Tensor, fs: float, bands: dict[str, tuple[float, float]] | None = None,
                   eps: float = 1e-6) -> torch.Tensor:
    """Natural log of the power in each band: x [N, C, T] (any [..., T]) -> [N, C, n_bands].

    Power in band (lo, hi) Hz = sum of the Welch PSD over lo <= f < hi, times the bin width
    (units of x squared). ``bands``: name -> (lo, hi), default the EEG ``BANDS`` (delta..gamma).
    """
    bands = BANDS if bands is None else bands
    freqs, psd = power_spectrum(x, fs)
    df = float(freqs[1] - freqs[0])
    out = []
    for name, (lo, hi) in bands.items():
        inside = (freqs >= lo) & (freqs < hi)
        if not inside.any():
            raise ValueError(f"log_band_power: band {name!r} ({lo}-{hi} Hz) holds no frequency bin "
                             f"(resolution {df:g} Hz, Nyquist {fs / 2:g} Hz); widen it or use a longer signal")
        out.append(torch.log(psd[..., inside].sum(-1) * df + eps))
    return torch.stack(out, -1)
