"""The synthetic EEG generator (fmlab.data.eeg) and the spectral helpers (fmlab.data.spectral)."""
import math

import numpy as np
import pytest
import torch

import fmlab
from fmlab.data.eeg import ARTIFACTS, BANDS, CHANNEL_POSITIONS, CHANNEL_XY, CHANNELS, STATES, load_eeg
from fmlab.data.spectral import log_band_power, power_spectrum

FS = 128.0


@pytest.fixture(scope="module")
def ds():
    return load_eeg(n=400, seed=0)


@pytest.fixture(scope="module")
def dirty():
    """Every artifact kind often (blink 40 %, muscle 30 %, line noise 15 %, pop 15 %), and the same
    corpus without artifacts: the generator adds them on top, so the difference is the artifact."""
    return load_eeg(n=400, seed=1, artifact_rate=1.0), load_eeg(n=400, seed=1, artifact_rate=0.0)


def ch(*names):
    return [CHANNELS.index(n) for n in names]


# -- the dataset's shape ---------------------------------------------------------------------------
def test_shapes_dtypes_and_names(ds):
    assert ds.x.shape == (400, 19, 512) and ds.x.dtype == torch.float32
    assert ds.y.dtype == torch.int64 and ds.classes == list(STATES)
    assert STATES == ("eyes_closed", "eyes_open", "task", "drowsy")
    assert ds.fs == FS and ds.name == "eeg" and ds.channels == list(CHANNELS) and len(CHANNELS) == 19
    assert set(ds.meta) == {"subject", "alpha_peak", *ARTIFACTS}
    assert ds.meta["subject"].dtype == torch.int64 and ds.meta["alpha_peak"].dtype == torch.float32
    assert all(ds.meta[k].dtype == torch.bool for k in ARTIFACTS)
    assert list(CHANNEL_POSITIONS) == list(CHANNELS) and CHANNEL_XY.shape == (19, 2)
    assert list(BANDS) == ["delta", "theta", "alpha", "beta", "gamma"]
    # Microvolt-like scale: typical channel std of order 10, never exploding.
    assert 3 < ds.x.std(-1).median() < 30 and ds.x.abs().max() < 1000


def test_load_by_name():
    small = fmlab.data.load("eeg", n=24, seed=3, length=256)
    assert small.shape == (24, 19, 256)


def test_same_seed_same_tensors_other_seed_different():
    a, b, c = load_eeg(n=48, seed=7), load_eeg(n=48, seed=7), load_eeg(n=48, seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert all(torch.equal(a.meta[k], b.meta[k]) for k in a.meta)
    assert not torch.allclose(a.x, c.x)
    assert torch.equal(load_eeg(n=48, seed=7, device="cpu").x, a.x)


def test_subjects_and_states_are_balanced(ds):
    assert torch.bincount(ds.y, minlength=4).tolist() == [100] * 4
    pairs = torch.bincount(ds.meta["subject"] * 4 + ds.y, minlength=80).view(20, 4)
    assert (pairs == 5).all()  # n = 400 = 5 * 4 * 20: every subject has every state equally often
    odd = load_eeg(n=50, subjects=20)
    assert torch.bincount(odd.y, minlength=4).tolist() in ([12, 12, 13, 13], [13, 13, 12, 12])
    assert len(odd.meta["subject"].unique()) == 20


@pytest.mark.parametrize("kw, message", [
    ({"n": 0}, "n="), ({"n": 2.5}, "n="), ({"seed": "0"}, "seed="), ({"subjects": 0}, "subjects="),
    ({"length": 32}, "length="), ({"length": 100}, "at least 1 s"), ({"fs": 64.0}, "above 100 Hz"),
    ({"artifact_rate": 1.5}, "artifact_rate="), ({"artifact_rate": -0.1}, "artifact_rate="),
    ({"device": "not-a-device"}, "device="),
])
def test_bad_knobs_are_refused(kw, message):
    with pytest.raises(ValueError, match=message) as err:
        load_eeg(**kw)
    assert "expected" in str(err.value)


# -- states live in the spectrum -------------------------------------------------------------------
def test_eyes_closed_has_more_occipital_alpha(ds):
    alpha = log_band_power(ds.x[:, ch("O1", "O2")], ds.fs)[..., list(BANDS).index("alpha")].mean(-1)  # [N]
    closed, open_ = alpha[ds.y == STATES.index("eyes_closed")], alpha[ds.y == STATES.index("eyes_open")]
    assert closed.mean() > open_.mean() + 1.0  # log power: e^1 ~ 2.7 times the power
    # ... and alpha is occipital: stronger at O1/O2 than at Fp1/Fp2 with eyes closed.
    front = log_band_power(ds.x[:, ch("Fp1", "Fp2")], ds.fs)[..., 2].mean(-1)[ds.y == 0]
    assert closed.mean() > front.mean() + 1.0


def test_task_raises_frontal_theta_and_drowsy_slows_alpha(ds):
    theta = log_band_power(ds.x[:, ch("Fz")], ds.fs)[:, 0, list(BANDS).index("theta")]
    assert theta[ds.y == STATES.index("task")].mean() > theta[ds.y == STATES.index("eyes_open")].mean() + 0.5
    peak = ds.meta["alpha_peak"]
    assert ((peak > 6.5) & (peak < 12.1)).all()
    assert peak[ds.y == STATES.index("drowsy")].mean() < peak[ds.y == STATES.index("eyes_closed")].mean() - 1.0
    # The spectral peak at O1/O2 sits where meta says (eyes closed: alpha dominates there).
    freqs, psd = power_spectrum(ds.x[ds.y == 0][:, ch("O1", "O2")], ds.fs)
    band = (freqs >= 6) & (freqs <= 14)
    found = freqs[band][psd[..., band].mean(1).argmax(-1)]
    assert (found - peak[ds.y == 0]).abs().median() <= 0.75


def test_states_are_not_in_the_raw_waveform(ds):
    # Random phases: the class-mean waveform is close to zero at every time and channel.
    for c in range(4):
        mean = ds.x[ds.y == c].mean(0)
        assert mean.abs().mean() < 0.25 * ds.x[ds.y == c].std()


def test_bandpower_probe_beats_raw_probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = load_eeg(n=800, seed=0).split(test_size=0.25, by="subject", seed=0)

    def accuracy(features, max_iter):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
        model.fit(features(train), train.y.numpy())
        return model.score(features(test), test.y.numpy())

    power = accuracy(lambda d: log_band_power(d.x, d.fs).flatten(1).numpy(), 2000)
    raw = accuracy(lambda d: d.x.flatten(1).numpy(), 200)
    assert power > 0.75 and power > raw + 0.3, (power, raw)


# -- artifacts -------------------------------------------------------------------------------------
def test_artifact_flags_and_rates():
    big = load_eeg(n=2000, seed=2, length=128)
    for kind, share in ARTIFACTS.items():
        p = 0.3 * share
        assert abs(big.meta[kind].float().mean() - p) < 4 * math.sqrt(p * (1 - p) / 2000), kind
    none = load_eeg(n=64, artifact_rate=0.0)
    assert not any(none.meta[k].any() for k in ARTIFACTS)


def test_artifacts_are_added_on_top_of_the_same_brain_signal(dirty):
    with_art, clean = dirty
    flagged = torch.stack([with_art.meta[k] for k in ARTIFACTS]).any(0)
    assert torch.equal(with_art.x[~flagged], clean.x[~flagged])
    assert ((with_art.x - clean.x)[flagged].abs().amax((1, 2)) > 1).all()
    lower = load_eeg(n=400, seed=1, artifact_rate=0.3)
    assert all((lower.meta[k] <= with_art.meta[k]).all() for k in ARTIFACTS)  # nested flags


def only(ds, kind):
    others = torch.stack([ds.meta[k] for k in ARTIFACTS if k != kind]).any(0)
    return ds.meta[kind] & ~others


def test_blinks_are_large_slow_and_frontal(dirty):
    ds, clean = dirty
    slow = {"slow": (0.5, 4.0)}
    fp = log_band_power(ds.x[:, ch("Fp1", "Fp2")], ds.fs, bands=slow).mean((1, 2))
    none = ~torch.stack([ds.meta[k] for k in ARTIFACTS]).any(0)
    assert fp[only(ds, "blink")].median() > fp[none].median() + 1.0
    art = (ds.x - clean.x)[only(ds, "blink")]                       # the blinks themselves
    size = art.abs().amax(-1).mean(0)                                # [C]
    assert set(size.topk(2).indices.tolist()) == set(ch("Fp1", "Fp2"))
    assert size[ch("O1", "O2")].max() < 0.05 * size[ch("Fp1")]


def test_muscle_is_high_frequency_and_temporal(dirty):
    ds, clean = dirty
    art = (ds.x - clean.x)[only(ds, "muscle")]
    freqs, psd = power_spectrum(art, ds.fs)
    assert psd[..., freqs < 15].sum() < 0.01 * psd[..., freqs > 20].sum()
    per_channel = art.pow(2).mean((0, 2))
    assert set(per_channel.topk(2).indices.tolist()) == set(ch("T3", "T4"))


def test_line_noise_shows_a_50_hz_peak(dirty):
    ds, _ = dirty
    freqs, psd = power_spectrum(ds.x, ds.fs)
    at50 = psd[..., (freqs - 50).abs() < 0.6].sum(-1)
    around = psd[..., ((freqs - 50).abs() > 3) & ((freqs - 50).abs() < 8)].mean(-1)
    ratio = (at50 / around).median(-1).values                        # [N], median over channels
    line, clean = only(ds, "line_noise"), ~torch.stack([ds.meta[k] for k in ARTIFACTS]).any(0)
    assert ratio[line].min() > 10 and ratio[clean].max() < 10


def test_pop_is_a_step_on_one_channel(dirty):
    ds, clean = dirty
    art = (ds.x - clean.x)[only(ds, "pop")]
    assert ((art.abs().amax(-1) > 0).sum(-1) == 1).all()             # exactly one channel
    step = art.diff(dim=-1).abs().amax((1, 2))
    assert (step >= 40).all()                                        # a sudden jump ...
    trace = art[art.abs().amax(-1) > 0]                              # [m, T]
    assert (trace[:, -1].abs() < trace.abs().amax(-1)).all()         # ... that decays


# -- spectral helpers ------------------------------------------------------------------------------
def test_power_spectrum_matches_scipy_welch_and_finds_a_sine():
    from scipy.signal import welch

    x = torch.randn(2, 3, 512, generator=torch.Generator().manual_seed(0))
    freqs, psd = power_spectrum(x, FS)
    ref_f, ref = welch(x.numpy(), FS, nperseg=256)
    assert psd.shape == (2, 3, 129) and np.allclose(freqs.numpy(), ref_f) and np.allclose(psd.numpy(), ref, rtol=1e-4)
    t = torch.arange(512) / FS
    sine = 3 * torch.sin(2 * math.pi * 10 * t)
    freqs, psd = power_spectrum(sine[None], FS)
    assert freqs[psd[0].argmax()] == 10
    assert abs(float(psd[0].sum() * (freqs[1] - freqs[0])) - 4.5) < 0.2  # Parseval: power = 3^2 / 2


def test_log_band_power_shapes_and_errors(ds):
    lbp = log_band_power(ds.x[:5], ds.fs)
    assert lbp.shape == (5, 19, len(BANDS)) and torch.isfinite(lbp).all()
    custom = log_band_power(ds.x[:5], ds.fs, bands={"mu": (9.0, 12.0)})
    assert custom.shape == (5, 19, 1)
    with pytest.raises(ValueError, match="no frequency bin"):
        log_band_power(ds.x[:2], ds.fs, bands={"ultra": (70.0, 80.0)})
    with pytest.raises(ValueError, match="float tensor"):
        power_spectrum(torch.zeros(2, 8, dtype=torch.int64), FS)


def test_electrode_offsets_are_a_constant_per_channel_on_the_same_corpus():
    clean, marked = fmlab.data.load("eeg", n=48, seed=3), fmlab.data.load("eeg-offsets", n=48, seed=3)
    offset = marked.meta["offset"]
    assert offset.shape == (48, 19) and 8 < float(offset.std()) < 16        # ELECTRODE_OFFSET_UV = 12
    assert torch.allclose(marked.x - offset[..., None], clean.x, atol=1e-4)
    assert torch.equal(marked.y, clean.y) and "offset" not in clean.meta
    with pytest.raises(ValueError, match="electrode_offset"):
        load_eeg(n=8, electrode_offset=-1.0)
