"""Generated signal families for the pretraining pile: shapes a foundation encoder should know.

    x = generate("gp", n=1000, length=512, seed=0)     # [1000, 1, 512] float32, each series z-normalised
    x = generate_mixture(n=60_000, length=512, seed=0)  # every family in FAMILIES, equal shares

Each family is a vectorised sampler ``(n, length, generator) -> [n, length]``; a seed gives the same series.
- "sines":     1-4 sinusoids at log-uniform frequencies, some chirping, some in bursts (a Gaussian envelope)
- "ar":        stable AR(2) processes (random pole radius and angle: from smooth drifts to sharp resonances)
- "walk":      random walks with drift, some with observation noise
- "piecewise": piecewise-linear trends with level shifts at 1-5 change points
- "bumps":     1-5 Gaussian, triangular or rectangular bumps of random widths on a flat line (UCR-like shapes)
- "gp":        Gaussian-process samples from random compositions of RBF, periodic, linear, rational-quadratic
               and white kernels, joined by + or * (the KernelSynth idea of Chronos, Ansari et al. 2024)
- "smooth":    white noise smoothed by a Gaussian kernel of random width
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_U = lambda n, g, lo=0.0, hi=1.0: lo + (hi - lo) * torch.rand(n, generator=g)
_loguniform = lambda n, g, lo, hi: torch.exp(_U(n, g, math.log(lo), math.log(hi)))


def sines(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    time = torch.arange(t, dtype=torch.float32)[None]
    x = torch.zeros(n, t)
    k = torch.randint(1, 5, (n,), generator=g)
    for i in range(4):
        f0 = _loguniform(n, g, 1.0 / t, 0.25)[:, None]               # cycles per sample
        chirp = (torch.rand(n, generator=g) < 0.3)[:, None] * _U(n, g, -0.5, 0.5)[:, None] * f0 / t
        phase = _U(n, g, 0, 2 * math.pi)[:, None]
        wave = torch.sin(2 * math.pi * (f0 * time + chirp * time ** 2) + phase) * _loguniform(n, g, 0.2, 1.0)[:, None]
        burst = torch.rand(n, generator=g) < 0.3
        centre, width = _U(n, g, 0, t)[:, None], _U(n, g, 0.05, 0.3)[:, None] * t
        envelope = torch.where(burst[:, None], torch.exp(-0.5 * ((time - centre) / width) ** 2), torch.ones(1, t))
        x += (i < k)[:, None] * wave * envelope
    return x


def ar(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    radius, angle = _U(n, g, 0.5, 0.995), _U(n, g, 0.0, math.pi)
    a1, a2 = 2 * radius * torch.cos(angle), -radius ** 2            # poles radius * exp(+-i angle): stable
    noise = torch.randn(n, t + 100, generator=g)
    x = torch.zeros(n, t + 100)
    for s in range(2, t + 100):
        x[:, s] = a1 * x[:, s - 1] + a2 * x[:, s - 2] + noise[:, s]
    return x[:, 100:]                                               # the burn-in forgets the zero start


def walk(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    steps = torch.randn(n, t, generator=g) + _U(n, g, -0.2, 0.2)[:, None]
    noisy = (torch.rand(n, generator=g) < 0.5)[:, None]
    return steps.cumsum(-1) + noisy * _loguniform(n, g, 0.5, 5.0)[:, None] * torch.randn(n, t, generator=g)


def piecewise(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    time = torch.arange(t, dtype=torch.float32)[None]
    x = _U(n, g, -1, 1)[:, None] * time / t
    for _ in range(5):
        on = (torch.rand(n, generator=g) < 0.6)[:, None]
        at = _U(n, g, 0, t)[:, None]
        after = (time >= at).float()
        x += on * after * (_U(n, g, -2, 2)[:, None] * (time - at) / t + _U(n, g, -1, 1)[:, None])
    return x + 0.05 * torch.randn(n, t, generator=g)


def bumps(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    time = torch.arange(t, dtype=torch.float32)[None]
    x = torch.zeros(n, t)
    k = torch.randint(1, 6, (n,), generator=g)
    for i in range(5):
        centre, width = _U(n, g, 0.1, 0.9)[:, None] * t, _loguniform(n, g, 0.01, 0.2)[:, None] * t
        height = _U(n, g, -1.5, 1.5)[:, None]
        d = (time - centre) / width
        shape = torch.randint(0, 3, (n, 1), generator=g)
        bump = torch.where(shape == 0, torch.exp(-0.5 * d ** 2),
                           torch.where(shape == 1, (1 - d.abs()).clamp(min=0), (d.abs() < 1).float()))
        x += (i < k)[:, None] * height * bump
    return x + 0.02 * torch.randn(n, t, generator=g)


def _kernel(kind: int, s: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One random base kernel per row: kind [n] in 0..4, s [G] grid in [0, 1] -> [n, G, G]."""
    n = len(kind)
    d = s[None, :, None] - s[None, None, :]
    length = _loguniform(n, g, 0.02, 0.5)[:, None, None]
    period = _loguniform(n, g, 0.02, 0.5)[:, None, None]
    rbf = torch.exp(-0.5 * (d / length) ** 2)
    periodic = torch.exp(-2 * torch.sin(math.pi * d.abs() / period) ** 2 / (2 * length) ** 2)
    linear = (s[None, :, None] - 0.5) * (s[None, None, :] - 0.5) * 4 + 0.1
    rq = (1 + d ** 2 / (2 * 2.0 * length ** 2)) ** -2.0
    white = torch.eye(len(s))[None] * 0.1
    k = kind[:, None, None]
    return torch.where(k == 0, rbf, torch.where(k == 1, periodic, torch.where(k == 2, linear.expand_as(rbf),
                       torch.where(k == 3, rq, white.expand_as(rbf)))))


def gp(n: int, t: int, g: torch.Generator, grid: int = 64) -> torch.Tensor:
    s = torch.linspace(0, 1, grid)
    cov = _kernel(torch.randint(0, 4, (n,), generator=g), s, g)     # the first kernel is never white alone
    for _ in range(2):
        on = (torch.rand(n, generator=g) < 0.5)[:, None, None]
        product = (torch.rand(n, generator=g) < 0.4)[:, None, None]
        other = _kernel(torch.randint(0, 5, (n,), generator=g), s, g)
        cov = torch.where(on, torch.where(product, cov * other, cov + other), cov)
    cov = cov.double() + 1e-4 * torch.eye(grid, dtype=torch.float64)
    root, info = torch.linalg.cholesky_ex(cov)                      # on a coarse grid: Cholesky stays cheap
    if bool((info > 0).any()):  # rounding made a few products indefinite: their root from the eigenvalues
        bad = info > 0
        w, v = torch.linalg.eigh(cov[bad])
        root[bad] = v * w.clamp(min=0).sqrt()[:, None, :]
    z = (root @ torch.randn(n, grid, 1, generator=g, dtype=torch.float64))[..., 0].float()
    return F.interpolate(z[:, None], size=t, mode="linear", align_corners=True)[:, 0]


def smooth(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, 1, t + 256, generator=g)
    out = torch.empty(n, t)
    widths = _loguniform(n, g, 0.5, 40.0)
    for lo in range(0, n, 1024):  # one kernel per series: a grouped convolution, in chunks
        w = widths[lo:lo + 1024]
        taps = torch.arange(-128, 129, dtype=torch.float32)[None]
        kern = torch.exp(-0.5 * (taps / w[:, None]) ** 2)
        kern = (kern / kern.sum(-1, keepdim=True))[:, None]
        out[lo:lo + 1024] = F.conv1d(x[lo:lo + 1024].transpose(0, 1), kern, groups=len(w))[0, :, :t]
    return out


FAMILIES = {"sines": sines, "ar": ar, "walk": walk, "piecewise": piecewise, "bumps": bumps, "gp": gp, "smooth": smooth}


def znorm(x: torch.Tensor) -> torch.Tensor:
    """Each series [..., T] to mean 0, std 1 over time (a constant one becomes zeros)."""
    mean, std = x.mean(-1, keepdim=True), x.std(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))


def generate(family: str, n: int, length: int = 512, seed: int = 0) -> torch.Tensor:
    """``n`` series of one family: [n, 1, length] float32, z-normalised, the same for the same seed."""
    if family not in FAMILIES:
        raise ValueError(f"generate: unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    for name, v in (("n", n), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"generate({name}=...): expected a positive int, got {v!r}")
    g = torch.Generator().manual_seed(seed * 1000 + list(FAMILIES).index(family))
    parts = [FAMILIES[family](min(4096, n - lo), length, g) for lo in range(0, n, 4096)]
    return znorm(torch.cat(parts)).float()[:, None, :].contiguous()


def generate_mixture(n: int, length: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` series, an equal share from every family: (x [n, 1, length], family index [n])."""
    shares = [n // len(FAMILIES) + (i < n % len(FAMILIES)) for i in range(len(FAMILIES))]
    x = torch.cat([generate(f, k, length, seed) for f, k in zip(FAMILIES, shares) if k])
    family = torch.cat([torch.full((k,), i) for i, k in enumerate(shares) if k])
    return x, family
