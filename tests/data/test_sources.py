"""MNIST-1D and UCR/UEA sources: shapes, determinism, the cache, offline behaviour, errors.

MNIST-1D generation costs ~0.2 ms a sample, so these tests use n <= 200.
UCR tests only touch the datasets aeon ships, so they run offline.
"""
import random
import time

import numpy as np
import pytest
import torch

import fmlab.data
from fmlab.data import mnist1d as m1d
from fmlab.data import ucr
from fmlab.data.mnist1d import load_mnist1d
from fmlab.data.ucr import load_ucr, offline_datasets


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    # Keep the user's FMLAB_CACHE and ~/aeon_data out of it (and any dataset cached there).
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path / "fmlab"))
    monkeypatch.setenv("AEON_DATA", str(tmp_path / "aeon"))


# -- MNIST-1D ------------------------------------------------------------------------------------
def test_mnist1d_shape_and_classes():
    ds = load_mnist1d(n=123, seed=0)
    assert ds.x.shape == (123, 1, 40) and ds.x.dtype == torch.float32
    assert ds.y.shape == (123,) and ds.y.dtype == torch.int64
    assert ds.classes == [str(d) for d in range(10)] and ds.fs == 1.0 and ds.name == "mnist1d"
    assert set(ds.y.tolist()) == set(range(10))
    assert abs(float(ds.x.std()) - 1) < 0.2  # the package scales the set to std 1


def test_mnist1d_deterministic_and_leaves_global_rng_alone():
    np.random.seed(123)
    random.seed(123)
    a = load_mnist1d(n=100, seed=1, cache=False)
    assert np.random.rand() == np.random.RandomState(123).rand()  # caller's stream untouched
    assert random.random() == random.Random(123).random()
    b = load_mnist1d(n=100, seed=1, cache=False)
    c = load_mnist1d(n=100, seed=2, cache=False)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_mnist1d_cache_hit_is_identical_and_not_regenerated(tmp_path, monkeypatch):
    first = load_mnist1d(n=200, seed=0)
    files = list((tmp_path / "fmlab" / "mnist1d").glob("*.npz"))
    assert len(files) == 1 and "n200_seed0" in files[0].name
    assert not list(files[0].parent.glob("*.tmp"))  # the atomic write left no temp file

    def no_generation(n, seed):
        raise AssertionError("cache miss: generated again")
    monkeypatch.setattr(m1d, "_generate", no_generation)
    again = load_mnist1d(n=200, seed=0)
    assert torch.equal(first.x, again.x) and torch.equal(first.y, again.y)
    with pytest.raises(AssertionError, match="cache miss"):
        load_mnist1d(n=200, seed=1)  # another seed is another file


def test_mnist1d_via_load_and_n_validation():
    assert len(fmlab.data.load("mnist1d", n=20, seed=0)) == 20
    for bad in (5, 0, -3, 10.5, "100", True):
        with pytest.raises(ValueError, match=r"n=.*expected an integer >= 10"):
            load_mnist1d(n=bad)


# -- UCR / UEA -----------------------------------------------------------------------------------
def test_offline_list_has_the_shipped_classification_sets():
    names = offline_datasets()
    for name in ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels"):
        assert name in names
    assert "Covid3Month" not in names  # a regression problem, also shipped


def test_gunpoint_splits_lengths_and_labels():
    train, test = load_ucr("GunPoint", split="train"), load_ucr("GunPoint", split="test")
    assert train.shape == (50, 1, 152) and test.shape == (150, 1, 152)  # 150 -> nearest multiple of 8
    assert train.classes == ["1", "2"] and train.name == "ucr:GunPoint"
    assert (train.meta["orig_length"] == 150).all() and (train.meta["n_missing"] == 0).all()
    assert load_ucr("GunPoint", length=64).shape == (50, 1, 64)
    assert load_ucr("GunPoint", multiple=7).shape[-1] == 147


def test_gunpoint_is_z_normalised_per_series_then_resampled():
    from aeon.datasets import load_classification
    raw, labels = load_classification("GunPoint", split="train")
    exact = load_ucr("GunPoint", multiple=1)  # 150 steps: no resampling
    x = exact.x.double()
    assert torch.allclose(x.mean(-1), torch.zeros(50, 1, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(50, 1, dtype=torch.float64), atol=1e-5)
    # Same shape as the raw series up to scale and offset, and labels in the same order.
    z = (raw - raw.mean(-1, keepdims=True)) / raw.std(-1, keepdims=True)
    assert np.allclose(exact.x.numpy(), z, atol=1e-5)
    assert [exact.classes[i] for i in exact.y] == list(labels)
    # Resampled 150 -> 152: end points kept, statistics barely moved.
    res = load_ucr("GunPoint").x
    assert torch.allclose(res[..., [0, -1]], exact.x[..., [0, -1]], atol=1e-5)
    assert res.mean(-1).abs().max() < 0.05 and (res.std(-1) - 1).abs().max() < 0.05


def test_basicmotions_multivariate_and_italy():
    bm = load_ucr("BasicMotions", split="test")
    assert bm.shape == (40, 6, 104) and bm.classes == ["badminton", "running", "standing", "walking"]
    assert bm.fs == pytest.approx(10.0 * 103 / 99)  # 100 -> 104 steps over the same 9.9 s
    ipd = load_ucr("ItalyPowerDemand")
    assert ipd.shape == (67, 1, 24) and ipd.num_classes == 2


def test_variable_length_set_gets_one_length_for_both_splits():
    train, test = load_ucr("PickupGestureWiimoteZ"), load_ucr("PickupGestureWiimoteZ", split="test")
    assert train.shape[-1] == test.shape[-1] == 360 and train.shape[-1] % 8 == 0  # longest is 361
    assert len(set(train.meta["orig_length"].tolist())) > 1
    assert train.classes == [str(i) for i in range(1, 11)]  # numeric order, not "1", "10", "2"


def test_missing_values_are_filled(monkeypatch):
    import aeon.datasets
    x = np.tile(np.linspace(0.0, 1.0, 16), (3, 1, 1))
    x[0, 0, 5:8] = np.nan
    monkeypatch.setattr(aeon.datasets, "load_classification", lambda name, split: (x, np.array(["a", "b", "a"])))
    ds = load_ucr("GunPoint", multiple=8)
    assert torch.isfinite(ds.x).all() and ds.meta["n_missing"].tolist() == [3, 0, 0]
    assert torch.allclose(ds.x[0], ds.x[1], atol=1e-5)  # the straight line was restored


def test_via_load_case_insensitive():
    ds = fmlab.data.load("ucr:gunpoint", split="test")
    assert ds.name == "ucr:GunPoint" and len(ds) == 150


@pytest.mark.parametrize("kwargs, match", [
    (dict(split="valid"), r"expected 'train' or 'test'.*got 'valid'"),
    (dict(multiple=0), r"multiple=.*positive int"),
    (dict(length=150), r"length=.*multiple of multiple=8"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_ucr("GunPoint", **kwargs)


def test_unknown_name_suggests_a_fix():
    with pytest.raises(ValueError, match=r"unknown UCR/UEA.*did you mean GunPoint.*offline ones: .*ItalyPowerDemand"):
        load_ucr("GunPiont")


def test_not_shipped_fails_fast_when_offline(monkeypatch):
    monkeypatch.setattr(ucr, "_online", lambda *a, **k: False)  # the same on a machine with a network
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as err:
        fmlab.data.load("ucr:Adiac")
    assert time.perf_counter() - t0 < 10  # a clear error, not a hang
    msg = str(err.value)
    for part in ("'Adiac' is not shipped with aeon", "network connection", "GunPoint", "To fix"):
        assert part in msg


def test_network_probe_does_not_hang():
    t0 = time.perf_counter()
    assert ucr._online("fmlab-no-such-host.invalid", timeout=1.0) is False
    assert time.perf_counter() - t0 < 10  # a clear answer, not a hang


def test_unknown_source_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown dataset 'foo'.*mnist1d.*ucr:NAME"):
        fmlab.data.load("foo")
