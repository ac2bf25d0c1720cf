"""Learning tests: training really learns, on tiny data, in seconds on a CPU."""
import pytest
import torch

import fmlab
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import JEPA, MAE, Contrastive, MaskedSpectrum

pytestmark = pytest.mark.slow  # real training on eeg: about 10-70 s a test on 2 shared cores


@pytest.fixture(scope="module")
def eeg():
    return fmlab.data.load("eeg", n=800, seed=0)


def tiny_encoder(data):
    """The README's quick-start encoder: it normalises its own input (eeg's std is ~12), nothing to set."""
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=data.x.shape[1], length=data.x.shape[2]))


def test_encoder_with_linear_head_learns_the_eeg_states_on_unseen_subjects(eeg):
    train, test = eeg.split(test_size=0.25, by="subject", seed=0)
    clf = fmlab.adapt.Classifier(tiny_encoder(train), num_classes=4)
    hist = fmlab.train.fit(clf, train, steps=120, batch_size=64, lr=2e-3, progress=False, device="cpu")
    assert hist.final_loss() < 0.5 * hist.loss[0]
    assert clf.accuracy(test) > 0.6, "chance is 0.25"


@pytest.mark.parametrize("make", [lambda e, fs: MAE(e), lambda e, fs: MaskedSpectrum(e),
                                  lambda e, fs: Contrastive(e, fs=fs), lambda e, fs: Contrastive(e, method="byol", fs=fs),
                                  lambda e, fs: JEPA(e)],
                         ids=["mae", "spectrum", "simclr", "byol", "jepa"])
def test_each_objective_lowers_its_loss_on_eeg(eeg, make):
    batch = eeg.take(torch.arange(128))
    objective = make(tiny_encoder(batch), batch.fs)
    hist = fmlab.train.fit(objective, batch, steps=40, batch_size=64, lr=2e-3, progress=False, device="cpu")
    first, last = sum(hist.loss[:4]) / 4, hist.final_loss(4)
    assert last < 0.9 * first, (first, last)


def test_masked_spectrum_pretraining_beats_random_init_with_10_labels_per_class(eeg):
    """The kit's central claim, small: pretraining on unlabelled eeg helps a linear probe with few labels."""
    train, test = eeg.split(test_size=0.25, by="subject", seed=0)
    few = train.subset(per_class=10, seed=0)
    random_init = tiny_encoder(train)
    pretrained = tiny_encoder(train)
    fmlab.train.fit(MaskedSpectrum(pretrained), train, steps=300, batch_size=64, lr=2e-3, progress=False, device="cpu")
    acc_random = fmlab.evaluate.linear_probe(random_init, few, test)
    acc_pretrained = fmlab.evaluate.linear_probe(pretrained, few, test)
    assert acc_pretrained > acc_random + 0.15, (acc_pretrained, acc_random)  # seeds 0-2: +0.2 to +0.37
