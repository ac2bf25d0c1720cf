"""The foundation variant shared by benchmarks/ucr.py and benchmarks/mnist1d.py: one encoder pretrained on a
broad unlabelled pile (fmlab.data.pile), then used on each dataset one channel at a time.

    encoder, settings = foundation_encoder("mae", profile="cpu", seed=0)   # cached in FMLAB_CACHE/encoders
    F = foundation_features(encoder, load("ucr:BasicMotions"))    # [N, C * D]: each channel's features side by side

The pile (``pile_sources``): synthetic eeg, mnist1d and the *training* splits of every UCR/UEA classification
set aeon has offline (test splits never enter it), each channel a series, resampled to LENGTH samples and
z-normalised, at most the profile's ``foundation_per_source`` series from one source (fmlab.profiles holds
every ``foundation_*`` size).
"""
from __future__ import annotations

import torch

from fmlab import hub
from fmlab.data import load
from fmlab.data.core import SignalDataset
from fmlab.data.pile import make_pile, univariate
from fmlab.data.ucr import offline_datasets
from fmlab.evaluate import features
from fmlab.models import Encoder
from fmlab.pretrain.recipes import encoder_config, make_objective, run_settings
from fmlab.profiles import get_profile
from fmlab.train import fit

LENGTH, PATCH = 128, 8  # every pile series: 128 samples in 16 patches of 8
MNIST1D = dict(n=5000, seed=42)  # the MNIST-1D paper's data; the pile takes its first 4000 (its train part)


def pile_sources(profile: str) -> list[SignalDataset]:
    """The unlabelled sources: eeg, the mnist1d train part, every offline UCR/UEA train split (smoke: GunPoint)."""
    p = get_profile(profile)
    ucr = p.foundation_ucr or [n for n in offline_datasets() if n != "UnitTest"]
    mnist = load("mnist1d", **MNIST1D)
    return [load("eeg", n=p.foundation_eeg_n, seed=0), mnist.take(torch.arange(p.foundation_mnist1d)),
            *(load(f"ucr:{name}", split="train") for name in ucr)]


def foundation_settings(objective: str, profile: str, seed: int = 0) -> dict:
    p, s = get_profile(profile), run_settings(objective, "pile", profile, seed)
    s.update(steps=s["steps"] * p.foundation_step_factor, length=LENGTH, patch_size=PATCH,
             per_source=p.foundation_per_source, eeg_n=p.foundation_eeg_n)
    return s


def foundation_encoder(objective: str, profile: str, seed: int = 0) -> tuple[Encoder, dict]:
    """The pile-pretrained encoder (trained now, or loaded from the cache) and its settings."""
    s = foundation_settings(objective, profile, seed)
    pile = make_pile(pile_sources(profile), length=LENGTH, per_source=s["per_source"], seed=seed)
    s["pile_series"] = len(pile)

    def train(encoder: Encoder) -> None:
        obj = make_objective(objective, encoder, fs=1.0)
        fit(obj, pile, steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"], seed=seed, progress=False)
    torch.manual_seed(seed)
    cfg = encoder_config(s["size"], pile, patch_size=PATCH)
    encoder = hub.load_or_train(f"foundation-{objective}-{profile}", cfg, train, **s)
    return encoder.eval(), s


def foundation_features(encoder: Encoder, data: SignalDataset) -> torch.Tensor:
    """[N, C, T] -> [N, C * D]: every channel through the univariate encoder, the C feature vectors concatenated."""
    n, c, _ = data.x.shape
    series = univariate(data, encoder.config.length)
    return features(encoder, series).reshape(n, c * encoder.config.dim)
