"""Run profiles (smoke / cpu / gpu), the device, the cache directory, and whether fmlab narrates.

A profile says how big a run is: which encoder preset, how many samples, how many steps. Every number that
differs between smoke, cpu and gpu lives in its ``Profile``, so a change of budget is one edit here.
Notebooks take it from their ``profile`` parameter, scripts from FMLAB_PROFILE.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Profile:
    name: str
    # pretraining (fmlab.pretrain.run_settings)
    size: str          # EncoderConfig preset
    n: int             # samples generated for pretraining corpora
    steps: int         # optimisation steps for one notebook pretraining run (an objective's STEP_COST divides them)
    batch_size: int
    lr: float
    pile: str          # fmlab.data.pile.build_pile size that pretrain(data="pile") trains on
    # adaptation: one fit() of a strategy (fmlab.adapt.compare)
    adapt_steps: int        # the notebooks' short runs (06, 07; 09 in smoke): what a notebook can afford
    adapt_batch_size: int
    adapt_seeds: int        # seeds a notebook's strategy comparison averages over (06)
    ratio_sweep: bool       # whether notebook 01 pretrains one MAE per masking ratio
    # The benchmarks' knobs; left out of the repr the notebooks print.
    benchmark_steps: int = field(repr=False)   # benchmarks/' pretraining runs (recipes.benchmark_steps): their
    # committed results were made with it, and on the cpu it is longer than a notebook can afford
    benchmark_adapt_steps: int = field(repr=False)   # benchmarks/mnist1d.py, ucr.py --adapt: 4,000 labels need more
    benchmark_adapt_batch_size: int = field(repr=False)
    # benchmarks/bench_adapt.py --fair: (epochs, least steps, most steps, batch) of fmlab.adapt.FairBudget
    fair_adapt: tuple[float, int, int, int] = field(repr=False)
    mnist1d_split: tuple[int, int] = field(repr=False)   # benchmarks/mnist1d.py: first (train, test) of the paper's
    throughput_sizes: tuple[str, ...] = field(repr=False)  # presets benchmarks/throughput.py measures
    # fmlab.scaling (notebook 10): encoder widths x step budgets of the grid, its batch, and the larger run the
    # fitted law predicts before it is trained (width, steps)
    scaling_widths: tuple[int, ...] = field(repr=False)
    scaling_steps: tuple[int, ...] = field(repr=False)
    scaling_batch_size: int = field(repr=False)
    scaling_check: tuple[int, int] = field(repr=False)
    # notebook 05's last section: eeg signals per probe split for the reference encoders (each reads 19 x 64 tokens)
    reference_probe: int = field(repr=False)
    # notebook 06: the most test signals its strategy runs are scored on (each of its 18 runs encodes them all)
    adapt_test: int = field(repr=False)

    @property
    def adapt_run(self) -> dict:
        """fit() arguments of one notebook adaptation run: {"steps", "batch_size"}."""
        return dict(steps=self.adapt_steps, batch_size=self.adapt_batch_size)

    @property
    def benchmark_adapt_run(self) -> dict:
        """fit() arguments of one benchmark adaptation run: {"steps", "batch_size"}."""
        return dict(steps=self.benchmark_adapt_steps, batch_size=self.benchmark_adapt_batch_size)

    @property
    def fair_budget(self) -> dict:
        """fmlab.adapt.FairBudget arguments of the profile: {"epochs", "least", "most", "batch_size"}."""
        return dict(zip(("epochs", "least", "most", "batch_size"), self.fair_adapt))


PROFILES = {
    "smoke": Profile("smoke", size="tiny", n=256, steps=20, batch_size=32, lr=1e-3, pile="smoke",
                     adapt_steps=5, adapt_batch_size=32, adapt_seeds=1, ratio_sweep=False,
                     benchmark_steps=20, benchmark_adapt_steps=5, benchmark_adapt_batch_size=32,
                     mnist1d_split=(400, 200),
                     fair_adapt=(2, 3, 6, 32), throughput_sizes=("tiny",),
                     scaling_widths=(8, 16, 24), scaling_steps=(10, 20), scaling_batch_size=32, scaling_check=(32, 30),
                     reference_probe=24, adapt_test=1000),
    "cpu": Profile("cpu", size="small", n=4000, steps=300, batch_size=128, lr=1e-3, pile="cpu",
                   adapt_steps=50, adapt_batch_size=16, adapt_seeds=1, ratio_sweep=False,
                   benchmark_steps=600, benchmark_adapt_steps=400, benchmark_adapt_batch_size=64,
                   mnist1d_split=(4000, 1000),
                   fair_adapt=(20, 50, 200, 32), throughput_sizes=("tiny", "small"),
                   scaling_widths=(16, 32, 48, 64), scaling_steps=(100, 250, 600), scaling_batch_size=64,
                   scaling_check=(96, 1000), reference_probe=160, adapt_test=500),
    "gpu": Profile("gpu", size="medium", n=20000, steps=5000, batch_size=256, lr=5e-4, pile="cpu",
                   adapt_steps=300, adapt_batch_size=64, adapt_seeds=3, ratio_sweep=True,
                   benchmark_steps=5000, benchmark_adapt_steps=3000, benchmark_adapt_batch_size=128,
                   mnist1d_split=(4000, 1000),
                   fair_adapt=(30, 100, 3000, 64), throughput_sizes=("small", "medium", "base"),
                   scaling_widths=(16, 32, 64, 128, 256, 384), scaling_steps=(250, 1000, 4000), scaling_batch_size=256,
                   scaling_check=(512, 8000), reference_probe=1000, adapt_test=5000),
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
    import torch  # here, not at the top: the command line reads PROFILES without loading torch
    prefer = prefer or os.environ.get("FMLAB_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


QUIET_ENV = "FMLAB_QUIET"  # `fmlab explore` sets it: a Voila page for students shows controls and plots only


def quiet() -> bool:
    """True where FMLAB_QUIET is set (to anything but "" or "0"): fmlab's own lines about what it loaded, saved,
    trained and recorded are not printed (say()). Progress bars, warnings and errors still show."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def say(message: str) -> None:
    """Print one of fmlab's lines about what it does (e.g. "fmlab.fit: MAE on cpu ..."), unless quiet()."""
    if not quiet():
        print(message, flush=True)


def cache_dir(*parts: str) -> Path:
    """FMLAB_CACHE (default ~/.cache/fmlab), joined with ``parts`` and created."""
    root = Path(os.environ.get("FMLAB_CACHE") or Path.home() / ".cache" / "fmlab").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
