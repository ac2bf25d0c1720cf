import re

import pytest
import torch

from fmlab.adapt import Classifier, lora
from fmlab.models import Encoder, EncoderConfig
from fmlab.train import History, fit, lr_factor, seeded
from fmlab.pretrain import MAE
from toy import NoisyReconstruction, sine_classes


def objective(seed=0):
    torch.manual_seed(seed)
    return NoisyReconstruction(Encoder(EncoderConfig.preset("tiny", channels=2, length=64)))


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_fit_lowers_the_loss_of_an_objective():
    hist = fit(objective(), sine_classes(), steps=60, batch_size=32, lr=3e-3, progress=False, device="cpu")
    assert len(hist.loss) == 60 and hist.seconds > 0
    assert sum(hist.loss[-10:]) / 10 < 0.5 * sum(hist.loss[:5]) / 5


def test_fit_trains_a_classifier_with_cross_entropy():
    torch.manual_seed(0)
    data = sine_classes(n=256)
    train, test = data.split(0.25, seed=0)
    clf = Classifier(Encoder(EncoderConfig.preset("tiny", channels=2, length=64)), num_classes=2)
    hist = fit(clf, train, steps=80, batch_size=32, lr=3e-3, progress=False, device="cpu",
               evaluate=lambda m: {"test_acc": m.accuracy(test)}, eval_every=40)
    assert [s for s, _ in hist.metrics["test_acc"]] == [40, 80]
    assert hist.last("test_acc") > 0.9


def test_a_hook_with_final_is_told_which_evaluation_is_the_last():
    told = []
    fit(objective(), sine_classes(), steps=12, batch_size=16, progress=False, device="cpu", eval_every=5,
        evaluate=lambda m, final: told.append(final) or {})
    assert told == [False, False, True]  # steps 5, 10 and the end, 12


def test_the_online_probe_is_cheap_on_the_way_and_whole_at_the_end():
    from fmlab.evaluate import online_probe
    data = sine_classes(n=200)
    train, test = data.split(0.5, seed=0)
    seen = []
    encoder = Encoder(EncoderConfig.preset("tiny", channels=2, length=64))
    encoder.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    probe = online_probe(encoder, train, test, on_the_way=30)
    with torch.no_grad():
        probe(encoder, final=False)
        on_the_way, seen[:] = sum(seen), []
        probe(encoder)  # called as a plain hook (no final keyword): the whole splits
    assert on_the_way == 60 and sum(seen) == len(train) + len(test)


def test_same_seed_same_run_on_cpu():
    a = objective(); fit(a, sine_classes(), steps=10, batch_size=16, seed=3, progress=False, device="cpu")
    b = objective(); fit(b, sine_classes(), steps=10, batch_size=16, seed=3, progress=False, device="cpu")
    c = objective(); fit(c, sine_classes(), steps=10, batch_size=16, seed=4, progress=False, device="cpu")
    assert torch.equal(weights(a), weights(b)) and not torch.equal(weights(a), weights(c))


def test_fit_gives_the_caller_their_random_stream_back():
    """fit reseeds torch's global generator at every step; after it the caller's next draw is the one it would have
    been without the fit (before seeded(), every fit left the generator at its last step's seed)."""
    model = objective()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, sine_classes(), steps=3, batch_size=16, progress=False, device="cpu")
    assert torch.equal(torch.rand(3), expected)
    with seeded(7):
        inside = torch.rand(2)
    assert torch.equal(inside, torch.rand(2, generator=torch.Generator().manual_seed(7)))


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    data, ckpt = sine_classes(), tmp_path / "run.pt"
    whole = objective()
    fit(whole, data, steps=20, batch_size=16, progress=False, device="cpu")

    def interrupt_at_10(model):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(1)
        return {}
    calls = []
    part = objective()
    with pytest.raises(KeyboardInterrupt):
        fit(part, data, steps=20, batch_size=16, progress=False, device="cpu", checkpoint=ckpt,
            evaluate=interrupt_at_10, eval_every=5)
    assert torch.load(ckpt, weights_only=True)["step"] == 10
    resumed = objective()  # built as the first was: a rerun of the same cell
    counted = []
    resumed.register_forward_pre_hook(lambda module, args: counted.append(1))
    hist = fit(resumed, data, steps=20, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    assert len(counted) == 10 and hist.step == list(range(20))  # it went on from step 10, not from the start
    assert torch.equal(weights(resumed), weights(whole))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no debris


def test_checkpoint_of_another_run_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    fit(objective(), sine_classes(), steps=4, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    with pytest.raises(ValueError, match="belongs to another run; what differs: steps: 4 in the checkpoint, 8 now"):
        fit(objective(), sine_classes(), steps=8, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    fit(objective(), sine_classes(), steps=4, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    other = NoisyReconstruction(Encoder(EncoderConfig.preset("small", channels=2, length=64)))
    with pytest.raises(ValueError, match=r"belongs to another run.*NoisyReconstruction\.encoder\.config\.dim: 64 in "
                                         r"the checkpoint, 128 now"):
        fit(other, sine_classes(), steps=4, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)


def encoder(seed):
    torch.manual_seed(seed)
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64))


def test_lora_of_another_encoder_does_not_inherit_a_checkpoint(tmp_path):
    """Issue 17, item 2: the same strategy on another pretrained encoder is another run, not a finished one."""
    ckpt, data = tmp_path / "run.pt", sine_classes()
    first = lora(encoder(1), num_classes=2)
    fit(first, data, steps=4, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    second = lora(encoder(2), num_classes=2)
    before = {k: v.clone() for k, v in second.state_dict().items()}
    with pytest.raises(ValueError, match="belongs to another run; what differs: initial weights fingerprint"):
        fit(second, data, steps=4, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    assert all(torch.equal(before[k], v) for k, v in second.state_dict().items())  # nothing of the first loaded


@pytest.mark.parametrize("change, says", [
    ("mask_ratio", "MAE.mask_ratio: 0.75 in the checkpoint, 0.5 now"),
    ("data", "data fingerprint: "),
    ("data size", "data shape: [128, 2, 64] in the checkpoint, [96, 2, 64] now"),
])
def test_checkpoint_of_another_objective_or_data_is_refused(tmp_path, change, says):
    ckpt, data = tmp_path / "run.pt", sine_classes()
    fit(MAE(encoder(0)), data, steps=2, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    model = MAE(encoder(0), mask_ratio=0.5 if change == "mask_ratio" else 0.75)
    other = {"data": sine_classes(seed=1), "data size": sine_classes(n=96)}.get(change, data)
    with pytest.raises(ValueError, match=f"what differs: .*{re.escape(says)}"):
        fit(model, other, steps=2, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)


def test_the_same_run_built_again_resumes_its_finished_checkpoint(tmp_path):
    ckpt, data = tmp_path / "run.pt", sine_classes()
    done = MAE(encoder(0))
    fit(done, data, steps=3, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    again = MAE(encoder(0))
    hist = fit(again, data, steps=3, batch_size=16, progress=False, device="cpu", checkpoint=ckpt)
    assert hist.step == [0, 1, 2] and torch.equal(weights(again), weights(done))


class NeedsSubject(NoisyReconstruction):
    """Records the meta it is handed, to check fit() passes the batch's own values."""
    needs_meta = ("subject",)

    def forward(self, x, meta=None):
        self.seen = meta
        return super().forward(x)


def test_fit_hands_the_batch_meta_a_model_asks_for():
    data = sine_classes(n=64)
    torch.manual_seed(0)
    model = NeedsSubject(Encoder(EncoderConfig.preset("tiny", channels=2, length=64)))
    fit(model, data, steps=1, batch_size=64, progress=False, device="cpu")
    assert sorted(model.seen["subject"].tolist()) == sorted(data.meta["subject"].tolist())
    bare = type(data)(data.x, data.y, data.classes, data.fs, name="no meta")
    with pytest.raises(ValueError, match="subject"):
        fit(model, bare, steps=1, progress=False, device="cpu")


def test_schedule_warms_up_then_decays():
    f = [lr_factor(s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] < 0.01


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected steps to be a whole number >= 1, got 0"):
        fit(objective(), sine_classes(), steps=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(objective(), sine_classes().take(torch.tensor([], dtype=torch.int64)), steps=1, progress=False)
    frozen = objective()
    frozen.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(frozen, sine_classes(), steps=1, progress=False)


def test_history_roundtrip():
    h = History(step=[0, 1], loss=[2.0, 1.0], lr=[1e-3, 1e-3])
    h.add("probe_acc", 1, 0.5)
    assert History.from_dict(h.to_dict()) == h and h.last("probe_acc") == 0.5
    with pytest.raises(KeyError, match="probe_acc"):
        h.last("knn")
