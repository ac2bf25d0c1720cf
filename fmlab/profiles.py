"""Run profiles (smoke / cpu / gpu), the device, and the cache directory.

A profile says how big a run is: which encoder preset, how many samples, how many steps.
Notebooks take it from their ``profile`` parameter, scripts from FMLAB_PROFILE.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch


@dataclass(frozen=True)
class Profile:
    name: str
    size: str          # EncoderConfig preset
    n: int             # samples generated for pretraining corpora
    steps: int         # optimisation steps for one pretraining run
    batch_size: int
    lr: float

    def with_(self, **changes) -> "Profile":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": Profile("smoke", size="tiny", n=256, steps=20, batch_size=32, lr=1e-3),
    "cpu": Profile("cpu", size="small", n=4000, steps=600, batch_size=128, lr=1e-3),
    "gpu": Profile("gpu", size="medium", n=20000, steps=5000, batch_size=256, lr=5e-4),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else FMLAB_PROFILE, else "cpu"."""
    name = name or os.environ.get("FMLAB_PROFILE") or "cpu"
    if name not in PROFILES:
        raise ValueError(f"profile: unknown {name!r}; choose one of {', '.join(PROFILES)} "
                         f"(notebook parameter `profile` or the FMLAB_PROFILE variable)")
    return PROFILES[name]


def device(prefer: str | None = None) -> torch.device:
    """cuda > mps > cpu, unless ``prefer`` (or FMLAB_DEVICE) names one."""
    prefer = prefer or os.environ.get("FMLAB_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cache_dir(*parts: str) -> Path:
    """FMLAB_CACHE (default ~/.cache/fmlab), joined with ``parts`` and created."""
    root = Path(os.environ.get("FMLAB_CACHE") or Path.home() / ".cache" / "fmlab").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
