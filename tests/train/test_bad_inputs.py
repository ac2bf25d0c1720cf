"""Bad inputs to fit, SignalDataset (labels, splits, label budgets), the course runner, the labs builder and the
command line (issue 17, items 6 to 8). Each is refused with a ValueError, or the command's one clear line,
whose message names what was expected and what came instead."""
import signal

import pytest
import torch

from fmlab import course
from fmlab.course import labs
from fmlab.cli import main
from fmlab.data import SignalDataset, check_signal
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import MAE, Contrastive
from fmlab.pretrain.recipes import run_settings
from fmlab.train import fit
from toy import NoisyReconstruction, sine_classes

DATA = sine_classes(n=32)
X, Y = DATA.x, DATA.y


def tiny():
    torch.manual_seed(0)
    return NoisyReconstruction(Encoder(EncoderConfig.preset("tiny", channels=2, length=64)))


def fit_with(**options):
    data = options.pop("data", DATA)
    return lambda: fit(tiny(), data, **{"steps": 2, "batch_size": 8, "progress": False, "device": "cpu", **options})


def dataset(**changes):
    fields = dict(x=X, y=Y, classes=["slow", "fast"], fs=64.0, meta={"subject": DATA.meta["subject"]}, name="sines")
    return lambda: SignalDataset(**{**fields, **changes})


one_subject = SignalDataset(X, Y, ["slow", "fast"], 64.0, meta={"subject": torch.zeros(32)})

# (case, call, what the message says was expected, what it says came)
ENC = Encoder(EncoderConfig.preset("tiny", channels=2, length=64))


def objective(make, call=None):
    return lambda: (call or (lambda o: o))(make())


CASES = [
    ("MAE.mask ratio=0", objective(lambda: MAE(ENC), lambda o: o.mask(X, ratio=0)), "a value in (0, 1)", "got 0"),
    ("MAE.reconstruct ratio=0", objective(lambda: MAE(ENC), lambda o: o.reconstruct(X[:2], ratio=0)),
     "a value in (0, 1)", "got 0"),
    ("MAE on an empty batch", objective(lambda: MAE(ENC), lambda o: o(X[:0])), "at least one signal",
     "got shape (0, 2, 64)"),
    ("Contrastive temperature=nan", objective(lambda: Contrastive(ENC, temperature=float("nan"))),
     "temperature must be a finite number > 0", "got nan"),
    ("Contrastive momentum=5", objective(lambda: Contrastive(ENC, method="byol", momentum=5)),
     "momentum (BYOL's EMA of the target) must be in (0, 1]", "got 5"),
    ("EncoderConfig channels=19.5", lambda: EncoderConfig(channels=19.5, length=64), "a positive integer", "got 19.5"),
    ("EncoderConfig input_scale with instance norm", lambda: EncoderConfig(channels=1, length=64, input_scale=12.0),
     "has no effect with norm='instance'", "input_scale=12.0"),
    ("Encoder longer than its maximum", lambda: ENC(torch.randn(1, 2, 72)), "at most 64 samples", "(1, 2, 72)"),
    ("Encoder lengths beyond T", lambda: ENC(X[:2], lengths=torch.tensor([10, 99])), "integers in 1..64",
     "(2,)"),
    ("pretrain steps=0", lambda: run_settings("mae", steps=0), "a positive int", "got 0"),
    ("pretrain patch_size on eeg", lambda: run_settings("mae", patch_size=4), "from 1 to 64 samples",
     "data='eeg'"),
    ("pretrain patch_size=0", lambda: run_settings("mae", data="pile", patch_size=0), "from 1 to 64 samples",
     "patch_size=0"),
    ("fit steps=0", fit_with(steps=0), "steps to be a whole number >= 1", "got 0"),
    ("fit steps=2.5", fit_with(steps=2.5), "steps to be a whole number >= 1", "got 2.5"),
    ("fit steps=True", fit_with(steps=True), "steps to be a whole number", "got True"),
    ("fit batch_size=0", fit_with(batch_size=0), "batch_size to be a whole number >= 1", "got 0"),
    ("fit batch_size=8.0", fit_with(batch_size=8.0), "batch_size to be a whole number", "got 8.0"),
    ("fit lr=0", fit_with(lr=0), "lr to be a finite number > 0", "got 0"),
    ("fit lr<0", fit_with(lr=-1e-3), "lr to be a finite number > 0", "got -0.001"),
    ("fit lr=inf", fit_with(lr=float("inf")), "lr to be a finite number > 0", "got inf"),
    ("fit lr=nan", fit_with(lr=float("nan")), "lr to be a finite number > 0", "got nan"),
    ("fit lr as text", fit_with(lr="1e-3"), "lr to be a finite number > 0", "got '1e-3'"),
    ("fit weight_decay<0", fit_with(weight_decay=-0.1), "weight_decay to be a finite number >= 0", "got -0.1"),
    ("fit weight_decay=inf", fit_with(weight_decay=float("inf")), "weight_decay to be a finite number", "got inf"),
    ("fit clip=-1", fit_with(clip=-1), "clip to be a finite number >= 0 (the largest gradient norm", "got -1"),
    ("fit clip=nan", fit_with(clip=float("nan")), "clip to be a finite number >= 0", "got nan"),
    ("fit warmup=5.0", fit_with(warmup=5.0), "a fraction of the steps, in [0, 1]",
     "got 5.0; for 5 steps of warm-up pass the whole number warmup=5"),
    ("fit warmup=-0.1", fit_with(warmup=-0.1), "a fraction of the steps, in [0, 1]", "got -0.1"),
    ("fit warmup=nan", fit_with(warmup=float("nan")), "a fraction of the steps, in [0, 1]", "got nan"),
    ("fit warmup=-1", fit_with(warmup=-1), "warmup to be a whole number >= 0", "got -1"),
    ("fit warmup past the end", fit_with(warmup=10), "longer than the run (steps=2)", "warmup=10 steps"),
    ("fit warmup as text", fit_with(warmup="0.1"), "warmup to be a whole number >= 0", "got '0.1'"),
    ("fit seed=1.5", fit_with(seed=1.5), "seed to be a whole number", "got 1.5"),
    ("fit eval_every=0", fit_with(eval_every=0), "eval_every to be a whole number >= 1", "got 0"),
    ("fit checkpoint_every=2.5", fit_with(checkpoint_every=2.5), "checkpoint_every to be a whole number", "got 2.5"),
    ("fit on bare tensors", fit_with(data=X), "expected a SignalDataset", "got Tensor"),
    ("fit on no samples", fit_with(data=DATA.take(torch.tensor([], dtype=torch.int64))),
     "expected a dataset with samples", "got an empty one"),
    ("labels with fractions", dataset(y=Y.float() + 0.5), "expected whole-number class indices",
     "got torch.float32 labels with fractions"),
    ("labels with NaN", dataset(y=torch.where(Y == 0, float("nan"), 1.0)), "whole-number class indices", "NaN"),
    ("bool labels", dataset(y=Y.bool()), "expected class indices", "got bool labels"),
    ("labels beyond the classes", dataset(y=Y * 5), "labels must lie in [0, 2)", "got range [0, 5]"),
    ("labels [N, 1]", dataset(y=Y[:, None]), "expected shape [32]", "got (32, 1)"),
    ("signals [N, T]", dataset(x=X[:, 0]), "expected rank 3 [N, C, T]", "got rank 2"),
    ("integer signals", dataset(x=X.long()), "expected a float tensor", "got torch.int64"),
    ("a NaN sample", dataset(x=torch.where(torch.arange(32)[:, None, None] == 3, float("nan"), X)),
     "1 sample(s) hold NaN or Inf", "first: [3]"),
    ("meta of another length", dataset(meta={"subject": torch.zeros(5)}), "expected 32 values", "got 5"),
    ("channel names of another count", dataset(channels=["a", "b", "c"]), "for 2 channels", "3 names"),
    ("a list as signals", lambda: check_signal([[0.0]]), "expected a torch.Tensor of shape [N, C, T]", "got list"),
    ("split leaving no train set", lambda: DATA.split(test_size=0.99), "the train side would be empty",
     "test_size=0.99"),
    ("split test_size=0", lambda: DATA.split(test_size=0), "expected a fraction in (0, 1)", "got 0"),
    ("split test_size=1.5", lambda: DATA.split(test_size=1.5), "expected a fraction in (0, 1)", "got 1.5"),
    ("split test_size as text", lambda: DATA.split(test_size="0.2"), "expected a fraction in (0, 1)", "got '0.2'"),
    ("split by an unknown key", lambda: DATA.split(by="site"), "known keys: ['subject']", "by='site'"),
    ("split by one group", lambda: one_subject.split(by="subject"), "needs at least 2 distinct values", "found 1"),
    ("subset per_class=2.5", lambda: DATA.subset(per_class=2.5), "a whole number of samples per class >= 1",
     "got 2.5"),
    ("subset per_class=0", lambda: DATA.subset(per_class=0), "a whole number of samples per class", "got 0"),
    ("subset per_class=True", lambda: DATA.subset(per_class=True), "a whole number of samples per class",
     "got True"),
    ("subset beyond a class", lambda: DATA.subset(per_class=17), "ask for at most 16", "has only 16 samples"),
    ("subset with both", lambda: DATA.subset(per_class=2, fraction=0.5), "exactly one of per_class=k or fraction=f",
     "got per_class=2 and fraction=0.5"),
    ("subset with neither", lambda: DATA.subset(), "exactly one of per_class=k or fraction=f",
     "got per_class=None and fraction=None"),
    ("subset fraction=0", lambda: DATA.subset(fraction=0), "expected a fraction in (0, 1]", "got 0"),
    ("subset fraction=1.5", lambda: DATA.subset(fraction=1.5), "expected a fraction in (0, 1]", "got 1.5"),
    ("report of an unknown profile", lambda: course.run_course("fast", progress=False),
     "choose one of smoke, cpu, gpu", "unknown 'fast'"),
    ("report of no notebook", lambda: course.run_course("smoke", only=["NOSUCH"], progress=False),
     "matches none of", "--only ['NOSUCH']"),
    ("labs built over the instructor notebooks", lambda: labs.build(course.REPO / "notebooks"),
     "choose another folder", "is the folder of the instructor notebooks"),
]


@pytest.mark.parametrize("call, expected, came", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_is_refused_with_what_was_expected_and_what_came(call, expected, came):
    with pytest.raises(ValueError) as refused:
        call()
    assert expected in str(refused.value) and came in str(refused.value), str(refused.value)


@pytest.mark.parametrize("argv, says", [
    (["pretrain", "--steps", "0"], "argument --steps: expected a whole number >= 1, got '0'"),
    (["pretrain", "--steps", "-3"], "argument --steps: expected a whole number >= 1, got '-3'"),
    (["pretrain", "--steps", "2.5"], "argument --steps: expected a whole number >= 1, got '2.5'"),
    (["pretrain", "--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got '0'"),
    (["report", "--timeout", "0"], "argument --timeout: expected a whole number >= 1, got '0'"),
])
def test_the_command_line_refuses_zero_steps_and_batches(capsys, argv, says):
    """0 used to become the profile's default (``steps or ...``)."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and says in capsys.readouterr().err


@pytest.fixture
def keep_sigterm():
    """`fmlab pretrain` installs its own SIGTERM handler; put the test process's back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("argv, says", [
    (["report", "--only", "NOSUCH"], "fmlab report: report: --only ['NOSUCH'] matches none of"),
    (["pretrain", "--objective", "nosuch", "--profile", "smoke"],
     "fmlab pretrain: objective: unknown 'nosuch'; choose one of"),
    (["labs", "build", "--out", str(course.REPO / "notebooks")], "fmlab labs: labs build: --out"),
])
def test_a_command_error_is_one_clear_line_and_debug_shows_the_traceback(tmp_path, capsys, keep_sigterm, argv, says):
    out = ["--out", str(tmp_path / "report")] if argv[0] == "report" else []
    assert main(argv + out) == 1
    err = capsys.readouterr().err
    assert err.startswith(says) and "Traceback" not in err and "--debug for the traceback" in err
    assert not (tmp_path / "report").exists()  # --only NOSUCH leaves no empty report behind
    with pytest.raises(ValueError):
        main(argv + out + ["--debug"])
