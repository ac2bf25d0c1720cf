import pytest
import torch

import fmlab
from fmlab.data import SignalDataset


def make(n=40, c=2, t=16, subjects=4, classes=("a", "b")):
    g = torch.Generator().manual_seed(0)
    return SignalDataset(torch.randn(n, c, t, generator=g), torch.arange(n) % len(classes), list(classes),
                         fs=100.0, meta={"subject": torch.arange(n) % subjects}, name="toy")


def test_dataset_holds_tensors_and_repr():
    ds = make()
    assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert ds.shape == (40, 2, 16) and ds.num_classes == 2 and len(ds) == 40
    assert "40 samples" in repr(ds)


@pytest.mark.parametrize("bad, message", [
    (torch.randn(4, 16), "rank 3"),
    (torch.full((2, 1, 8), float("nan")), "NaN or Inf"),
    (torch.tensor([[[1.0, float("inf")]]]), "NaN or Inf"),
    (torch.zeros(2, 1, 8, dtype=torch.int64), "float"),
])
def test_bad_signals_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        SignalDataset(bad, torch.zeros(len(bad), dtype=torch.int64), ["a"], fs=1.0)


def test_labels_and_meta_must_fit():
    with pytest.raises(ValueError, match="one label per sample"):
        SignalDataset(torch.zeros(3, 1, 4), torch.zeros(2), ["a"], fs=1.0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\)"):
        SignalDataset(torch.zeros(3, 1, 4), torch.tensor([0, 1, 0]), ["a"], fs=1.0)
    with pytest.raises(ValueError, match="expected 3 values"):
        SignalDataset(torch.zeros(3, 1, 4), torch.zeros(3), ["a"], fs=1.0, meta={"subject": torch.zeros(2)})


def test_random_split_is_stratified_disjoint_and_seeded():
    ds = make(n=100)
    ds.meta["id"] = torch.arange(100)
    train, test = ds.split(test_size=0.2, seed=1)
    ids_train, ids_test = set(train.meta["id"].tolist()), set(test.meta["id"].tolist())
    assert not ids_train & ids_test and len(ids_train | ids_test) == 100
    assert torch.bincount(test.y).tolist() == [10, 10]
    assert torch.equal(ds.split(0.2, seed=1)[1].meta["id"], test.meta["id"])
    assert not torch.equal(ds.split(0.2, seed=2)[1].meta["id"], test.meta["id"])


def test_subject_split_keeps_subjects_apart():
    train, test = make(n=80, subjects=8).split(test_size=0.25, by="subject", seed=0)
    assert set(train.meta["subject"].tolist()).isdisjoint(test.meta["subject"].tolist())
    assert len(set(test.meta["subject"].tolist())) == 2
    with pytest.raises(ValueError, match="known keys"):
        make().split(by="session")


def test_label_budgets():
    ds = make(n=100)
    few = ds.subset(per_class=3, seed=0)
    assert torch.bincount(few.y).tolist() == [3, 3]
    assert torch.equal(ds.subset(per_class=3, seed=0).x, few.x)
    assert torch.bincount(ds.subset(fraction=0.1, seed=0).y).tolist() == [5, 5]
    with pytest.raises(ValueError, match="only 50 samples"):
        ds.subset(per_class=51)
    with pytest.raises(ValueError, match="exactly one"):
        ds.subset()
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        ds.subset(fraction=1.5)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="known: eeg, eeg-offsets, mnist1d, ucr:NAME"):
        fmlab.data.load("imagenet")


def test_offset_views_add_a_new_constant_to_every_channel():
    from fmlab.data.augment import AUGMENTS, Offset
    x = torch.randn(4, 3, 50)
    moved = Offset(1.0)(x) - x
    assert torch.allclose(moved, moved[..., :1].expand_as(moved)) and moved.abs().min() > 0
    assert "Offset" in repr(AUGMENTS["offsets"](128.0))
