"""Check for the band-power exercise of notebook 00: the log power of each channel in each frequency band.
Reference: fmlab.data.spectral.log_band_power, on the Welch spectrum of fmlab.data.spectral.power_spectrum."""
from __future__ import annotations

import torch

from ..data.spectral import BANDS, power_spectrum
from ..data.spectral import log_band_power as reference_band_power
from .harness import CheckFailed, diagnose, run, same, tensor_like


def _band_power(x, fs, bands, closed: bool = False, width: bool = True, reduce: str = "sum", log=torch.log,
                eps: float = 1e-6, dim: int = -1):
    """The log band power with one thing changed: the plausible wrong versions a student might write."""
    freqs, psd = power_spectrum(x, fs)
    out = []
    for lo, hi in bands.values():
        inside = (freqs >= lo) & ((freqs <= hi) if closed else (freqs < hi))
        power = getattr(psd[..., inside], reduce)(-1) * (freqs[1] if width else 1)
        out.append(power if log is None else log(power + eps))
    return torch.stack(out, dim)


BAND_MISTAKES = [
    (lambda x, fs, b: _band_power(x, fs, b, closed=True),
     "your bands include their upper edge (freqs <= hi), so a bin on a shared edge counts twice: alpha's last bin "
     "is beta's first at 13 Hz. A band is half-open, lo <= f < hi: (freqs >= lo) & (freqs < hi)"),
    (lambda x, fs, b: _band_power(x, fs, b, width=False),
     "you sum the PSD without the bin width: the PSD is power per Hz, so the power of a band is the sum over its "
     "bins times the width of one bin, df = freqs[1] - freqs[0]"),
    (lambda x, fs, b: _band_power(x, fs, b, log=None),
     "you return the band power itself; return its natural log, torch.log(power + 1e-6): power spans orders of "
     "magnitude from band to band"),
    (lambda x, fs, b: _band_power(x, fs, b, reduce="mean", width=False),
     "you average the PSD over the band; the power of a band is the area under it, the sum over its bins times the "
     "bin width"),
    (lambda x, fs, b: _band_power(x, fs, b, log=torch.log10),
     "you use log10; the features use the natural log, torch.log"),
    (lambda x, fs, b: _band_power(x, fs, b, eps=0.0),
     "a flat channel gives -inf (log of a power of 0): add eps = 1e-6 inside the log, torch.log(power + 1e-6)"),
]


def _band_case(batch: int, channels: int, length: int, fs: float, bands: dict, seed: int, flat: bool = False):
    def case(fn):
        g = torch.Generator().manual_seed(seed)
        t = torch.arange(length) / fs
        x = torch.randn(batch, channels, length, generator=g) + 3 * torch.sin(2 * torch.pi * 10 * t)  # noise + 10 Hz
        if flat:
            x[0, -1] = 2.0  # a flat electrode at an offset: no power in any band
        given = x.clone()
        expected = reference_band_power(x, fs, bands)
        got = fn(given, fs, dict(bands))
        if not torch.equal(given, x):
            raise CheckFailed("your function changed x in place; compute into new tensors: the caller's signals must "
                              "stay as they were")
        got = tensor_like(got, expected, f"[B, C, n_bands] = {tuple(expected.shape)}: one number per channel and "
                                         f"band, the bands along the last dimension (torch.stack(..., dim=-1))")
        if not same(got, expected, atol=1e-4):
            raise diagnose(got, (x, fs, bands), BAND_MISTAKES,
                           f"your band powers differ from fmlab's by up to {float((got - expected).abs().max()):.3g} "
                           f"({case.__doc__}): use power_spectrum(x, fs), sum the PSD over lo <= f < hi, times the "
                           f"bin width, then torch.log(power + 1e-6)")
    edges = ", ".join(f"{name} {lo:g}-{hi:g}" for name, (lo, hi) in bands.items())
    case.__doc__ = (f"x [{batch}, {channels}, {length}] at {fs:g} Hz, bands {edges} Hz"
                    + (", the last channel of sample 0 flat" if flat else ""))
    return case


def log_band_power(student_fn) -> None:
    """Check ``log_band_power(x [B, C, T], fs, bands {name: (lo, hi)}) -> [B, C, n_bands]``: the natural log of the
    power in each band (the Welch PSD summed over lo <= f < hi, times the bin width, + 1e-6), as
    fmlab.data.spectral.log_band_power; the EEG bands, other rates and lengths, one band, a flat channel."""
    cases = [_band_case(2, 3, 512, 128.0, BANDS, 0), _band_case(1, 2, 400, 100.0, {"slow": (0.5, 4.0),
                                                                                   "fast": (4.0, 20.0)}, 1),
             _band_case(3, 1, 256, 64.0, {"alpha": (8.0, 13.0)}, 2),
             _band_case(2, 2, 512, 128.0, BANDS, 3, flat=True)]
    if failure := run("log_band_power", student_fn, cases):
        raise failure
