"""Faults injected into training, checkpoints and the cache (issue 17): interrupts at every point of a step,
SIGTERMs of `fmlab pretrain` at random moments, writers killed mid-write, planted and corrupted files, a full
disk, a read-only cache, two processes asking for one cache entry, a kernel that dies. After each, the run
resumes to the weights of an uninterrupted one, or stops with an error that names the file and the fix."""
import copy
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_post_hook

from fmlab import checkpoint, cli, course
from fmlab.hub import atomic_path
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import run as pretrain_command
from fmlab.train import fit
from toy import NoisyReconstruction, sine_classes

HERE = Path(__file__).resolve().parent        # the scripts below import this file (test_faults)
TESTS = HERE.parent                          # tests/, where toy.py is
STEPS = 20


class Tracked(nn.Module):
    """A tiny objective whose after_step moves an EMA copy of its head (the work a resumed run must not repeat)
    and which, at its ``at``-th step, sends itself ``signum`` at ``point``: "forward" (before the update),
    "optimizer" (the update done, after_step not yet), "after_step" (halfway through it), "twice" (two signals
    in one forward: the second acts at once) or "raise" (a KeyboardInterrupt raised inside after_step)."""

    def __init__(self, point: str | None = None, at: int = 9, signum: int = signal.SIGINT):
        super().__init__()
        torch.manual_seed(0)
        self.inner = NoisyReconstruction(Encoder(EncoderConfig.preset("tiny", channels=2, length=64)))
        self.register_buffer("ema", torch.zeros_like(self.inner.head.weight))
        self._point, self._at, self._signum, self._step = point, at, signum, -1

    def here(self, point: str) -> bool:
        return self._point == point and self._step == self._at

    def forward(self, x):
        self._step += 1
        if self.here("forward") or self.here("twice"):
            os.kill(os.getpid(), self._signum)
        if self.here("twice"):
            os.kill(os.getpid(), self._signum)
        return self.inner(x)

    def after_step(self, step: int, total: int) -> None:
        self.ema.mul_(0.5).add_(self.inner.head.weight.detach(), alpha=0.25)
        if self.here("after_step"):
            os.kill(os.getpid(), self._signum)
        if self.here("raise"):
            raise KeyboardInterrupt
        self.ema.add_(self.inner.head.weight.detach(), alpha=0.25)


def train(model, ckpt=None, evaluate=None):
    return fit(model, sine_classes(), steps=STEPS, batch_size=16, lr=3e-3, progress=False, device="cpu",
               checkpoint=ckpt, checkpoint_every=4, evaluate=evaluate, eval_every=5)


def same(a, b) -> bool:
    """Equal nested states: tensors bit for bit, everything else by ==."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def whole():
    model = Tracked()
    hist = train(model)
    return model.state_dict(), hist


@pytest.fixture
def optimizer_signal():
    """Signals from inside the optimiser step: a global post-hook sends them when the model asks."""
    asked = {}

    def hook(optimizer, args, kwargs):
        model = asked.get("model")
        if model is not None and model.here("optimizer"):
            os.kill(os.getpid(), model._signum)
    handle = register_optimizer_step_post_hook(hook)
    yield asked
    handle.remove()


@pytest.mark.parametrize("point, signum, kept", [
    ("forward", signal.SIGINT, 10), ("optimizer", signal.SIGINT, 10), ("after_step", signal.SIGINT, 10),
    ("evaluate", signal.SIGINT, 10), ("optimizer", signal.SIGTERM, 10),
    ("twice", signal.SIGINT, 8), ("raise", None, 8),
], ids=["SIGINT in forward", "SIGINT in the optimiser step", "SIGINT in after_step", "SIGINT between steps",
        "SIGTERM in the optimiser step", "two SIGINTs in one step", "KeyboardInterrupt raised in after_step"])
def test_an_interrupt_at_any_point_of_a_step_resumes_bit_identically(tmp_path, whole, optimizer_signal, point,
                                                                     signum, kept):
    """A signal anywhere in step 10 lets the step finish and saves 10 steps; a second signal, or an interrupt
    raised inside the step, acts at once and keeps the checkpoint of step 8. Either way the resumed run ends
    with the uninterrupted run's weights, EMA and History."""
    ckpt, state, hist = tmp_path / "run.pt", *whole
    previous = signal.signal(signal.SIGTERM, pretrain_command._interrupt)  # as `fmlab pretrain` installs it
    try:
        model = Tracked(point, at=9, signum=signum or signal.SIGINT)
        optimizer_signal["model"] = model
        evaluations = []

        def evaluate(m):
            evaluations.append(1)
            if point == "evaluate" and len(evaluations) == 2:  # after step 10, between two steps
                os.kill(os.getpid(), signum)
            return {}
        with pytest.raises(KeyboardInterrupt):
            train(model, ckpt, evaluate)
    finally:
        signal.signal(signal.SIGTERM, previous)
        optimizer_signal["model"] = None
    assert torch.load(ckpt, weights_only=True)["step"] == kept
    resumed = Tracked()
    again = train(resumed, ckpt)
    assert again.step == list(range(STEPS)) and again.loss == hist.loss
    assert same(resumed.state_dict(), state)


def sigterm_after(delay: float, argv: list[str]) -> int:
    """``fmlab <argv>`` in this process with a SIGTERM sent to it after ``delay`` seconds; its exit status
    (130 when the signal stopped it, also when it came after fit, while the files were written)."""
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM))
    code = None
    try:
        timer.start()
        code = cli.main(argv)
        timer.cancel()
        timer.join()
    except KeyboardInterrupt:  # it landed outside fit's and the command's own handling
        code = 130 if code is None else code
    return code


@pytest.mark.slow
def test_twenty_random_sigterms_of_fmlab_pretrain_resume_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    """Issue 17's must-show: `fmlab pretrain` (JEPA: its EMA runs in after_step) stopped by SIGTERM at 20 random
    moments in a row, each time run again to resume. After every interrupt the checkpoint equals the
    uninterrupted run's state at the same step (weights, optimiser, History), and every run that completes ends
    with its weights. The online probe is swapped for a cheap metric, so a run takes seconds."""
    from fmlab.pretrain import recipes
    monkeypatch.setattr(recipes, "online_probe", lambda encoder, train, test, **_: lambda model: {
        "probe_acc": float(sum(p.double().sum() for p in encoder.parameters()))})
    argv = ["pretrain", "--objective", "jepa", "--profile", "smoke", "--steps", "16"]  # a checkpoint every step
    reference, written, real_write = {}, [], checkpoint.write

    def recording(path, state):
        reference[state["step"]] = copy.deepcopy(state)
        written.append(time.perf_counter())
        return real_write(path, state)
    previous = signal.signal(signal.SIGTERM, pretrain_command._interrupt)  # before any timer can fire
    try:
        assert cli.main(argv[:-1] + ["1", "--out", str(tmp_path / "warm-up")]) == 0  # so the timing below is warm
        monkeypatch.setattr(checkpoint, "write", recording)
        t0 = time.perf_counter()
        assert cli.main(argv + ["--out", str(tmp_path / "whole")]) == 0
        monkeypatch.setattr(checkpoint, "write", real_write)
        first_step, step = written[0] - t0, (written[-1] - written[0]) / (len(written) - 1)
        out, rng, interrupts, completed, steps_seen = tmp_path / "interrupted", random.Random(17), 0, 0, []
        while interrupts < 20 or not (out / "history.json").exists():
            if interrupts < 20:  # in the set-up, a step, a checkpoint write or the final files
                interrupts += sigterm_after(rng.uniform(0, first_step + 2 * step), argv + ["--out", str(out)]) == 130
            else:
                assert cli.main(argv + ["--out", str(out)]) == 0
            if (out / "run.pt").exists():
                saved = torch.load(out / "run.pt", weights_only=True)
                expected = reference[saved["step"]]
                steps_seen.append(saved["step"])
                assert same(saved["model"], expected["model"]) and same(saved["optimizer"], expected["optimizer"])
                assert all(saved["history"][k] == expected["history"][k] for k in ("step", "loss", "lr", "metrics"))
            elif (out / "history.json").exists():
                completed += 1
                for name in ("encoder.safetensors", "objective.safetensors"):
                    assert same(load_file(out / name), load_file(tmp_path / "whole" / name))
                if interrupts < 20:
                    shutil.rmtree(out)  # and again from the start
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert interrupts == 20 and completed >= 1
    assert len(set(steps_seen)) >= 5, f"the interrupts did not land at varied steps: {steps_seen}"


def write_forever(path: str, started) -> None:
    """Child process: write checkpoints of 4 MB, each filled with its own number, as fast as it can."""
    torch.set_num_threads(1)  # a forked child cannot use the parent's OpenMP pool: its first parallel op would hang
    for k in range(10**6):
        checkpoint.write(Path(path), {"model": {"w": torch.full((1_000_000,), float(k))}, "step": k})
        started.set()


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_a_writer_killed_at_any_moment_leaves_a_whole_checkpoint_and_its_debris_is_cleaned(tmp_path):
    path, rng, debris = tmp_path / "run.pt", random.Random(3), 0
    checkpoint.write(path, {"model": {"w": torch.full((1_000_000,), -1.0)}, "step": -1})
    fork = multiprocessing.get_context("fork")
    kills = 0
    while (kills < 20 or debris < 5) and kills < 60:  # 20 kills, more until 5 landed inside a write
        kills += 1
        started = fork.Event()
        child = fork.Process(target=write_forever, args=(str(path), started))
        child.start()
        assert started.wait(60), "the writer never finished a first checkpoint"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        state = torch.load(path, weights_only=True)  # never half a file
        assert torch.equal(state["model"]["w"], torch.full((1_000_000,), float(state["step"])))
        debris += len(list(tmp_path.glob(".run.pt.*.tmp")))
    assert debris >= 5, f"only {debris} of {kills} kills landed inside a write: too few to test anything"
    checkpoint.write(path, {"step": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # the killed writers' files are gone


def test_a_planted_pickle_in_run_pt_does_not_run(tmp_path):
    marker, ckpt = tmp_path / "pwned", tmp_path / "run.pt"

    class Plant:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').write('ran')",)
    torch.save({"model": Plant()}, ckpt)
    with pytest.raises(ValueError, match=f"{ckpt} is not a readable fmlab checkpoint.*delete it"):
        train(Tracked(), ckpt)
    assert not marker.exists()
    torch.load(ckpt, weights_only=False)  # the plant is real: an unsafe load runs it
    assert marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other dict"])
def test_a_damaged_run_pt_names_the_file_and_the_fix(tmp_path, damage):
    ckpt = tmp_path / "run.pt"
    train(Tracked(), ckpt)
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:5000])
    elif damage == "garbage":
        ckpt.write_text("not a checkpoint")
    else:
        torch.save({"weights": torch.zeros(3)}, ckpt)
    with pytest.raises(ValueError, match=f"{ckpt} is not a.* fmlab checkpoint.*delete it, or pass resume=False"):
        train(Tracked(), ckpt)


def test_no_unsafe_load_is_left_in_the_package():
    sources = (TESTS.parent / "fmlab").rglob("*.py")
    assert not [str(p) for p in sources if "weights_only=False" in p.read_text()]


def test_a_full_disk_warns_keeps_the_last_checkpoint_and_training_goes_on(tmp_path, monkeypatch):
    """torch's own error for a full disk, from a write to /dev/full: every checkpoint after the first fails."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    ckpt, real_save, writes = tmp_path / "run.pt", torch.save, []

    def full_after_the_first(state, f):
        writes.append(f)
        return real_save(state, f if len(writes) == 1 else "/dev/full")
    monkeypatch.setattr(torch, "save", full_after_the_first)
    with pytest.warns(RuntimeWarning, match=r"could not write the checkpoint .*run\.pt \(.*enforce fail.*\); "
                                            r"[\d.]+ MiB free in .*the previous checkpoint is kept"):
        hist = train(Tracked(), ckpt)
    assert hist.step == list(range(STEPS)) and len(writes) == STEPS // 4
    assert torch.load(ckpt, weights_only=True)["step"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def in_namespace(script: str, tmp_path: Path) -> dict:
    """Run ``script`` (Python, with MOUNT the mount point, a tmpfs it may fill or remount read-only) in a private
    mount namespace, so no mount outlives it; returns the JSON it prints last."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare with user and mount namespaces (for a tmpfs of our own)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    code = f"import os, json, sys\nMOUNT = {str(mount)!r}\n" + textwrap.dedent(script)
    shell = f'mount -t tmpfs -o size=2m tmpfs "{mount}" && exec "{sys.executable}" -c "$0"'
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(TESTS), str(HERE)])}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", shell, code], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_really_full_disk_keeps_the_last_checkpoint_and_the_run(tmp_path):
    """On a 2 MB tmpfs the first 1.3 MB checkpoint fits, no later one does (old file and new side by side)."""
    result = in_namespace("""
        import warnings, torch
        from pathlib import Path
        from test_faults import Tracked, train
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hist = train(Tracked(), Path(MOUNT) / "run.pt")
        print(json.dumps(dict(steps=len(hist.step), saved=torch.load(Path(MOUNT) / "run.pt", weights_only=True)["step"],
                              warnings=[str(w.message) for w in caught], files=sorted(os.listdir(MOUNT)))))
    """, tmp_path)
    assert result["steps"] == STEPS and result["saved"] == 4 and result["files"] == ["run.pt"]
    warned = result["warnings"]
    assert warned and all("MiB free" in w and "previous checkpoint is kept" in w for w in warned)


@pytest.mark.slow
def test_a_read_only_cache_loads_what_it_holds_and_refuses_to_train_into_it(tmp_path, cached_entry):
    cache, folder = cached_entry
    result = in_namespace(f"""
        import shutil, subprocess
        shutil.copytree({str(cache)!r}, MOUNT, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", MOUNT], check=True)
        os.environ["FMLAB_CACHE"] = MOUNT
        from pathlib import Path
        from fmlab.pretrain import pretrained
        from test_faults import Tracked, train
        obj, hist = pretrained("mae", profile="smoke", steps=4, progress=False)
        errors = []
        for attempt in (lambda: train(Tracked(), Path(MOUNT) / "run.pt"),
                        lambda: pretrained("mae", profile="smoke", steps=5, progress=False)):
            try:
                attempt()
            except (ValueError, OSError) as e:
                errors.append(str(e))
        print(json.dumps(dict(loaded=len(hist.step), errors=errors)))
    """, tmp_path)
    assert result["loaded"] == 4
    assert "is not writable (read-only cache?)" in result["errors"][0]
    new_entry = result["errors"][1]
    assert "Read-only file system" in new_entry and "set FMLAB_CACHE to a writable folder" in new_entry


@pytest.fixture(scope="module")
def cached_entry(tmp_path_factory):
    """(cache root, entry folder) of a complete smoke MAE entry in a cache of its own."""
    from fmlab.pretrain import pretrained
    from fmlab.pretrain.recipes import entry, run_settings
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FMLAB_CACHE", str(cache))
        pretrained("mae", profile="smoke", steps=4, progress=False)
        return cache, entry(run_settings("mae", profile="smoke", steps=4))


@pytest.mark.parametrize("name, damage", [
    ("objective.safetensors", b"\x00" * 10), ("history.json", b"{\"loss\": [1.0,"), ("encoder.safetensors", b"PK"),
], ids=["objective.safetensors", "history.json", "encoder.safetensors"])
def test_a_damaged_cache_entry_names_the_file_and_retrain(cached_entry, monkeypatch, name, damage):
    from fmlab.pretrain import pretrained
    cache, folder = cached_entry
    monkeypatch.setenv("FMLAB_CACHE", str(cache))
    good = (folder / name).read_bytes()
    (folder / name).write_bytes(damage)
    try:
        with pytest.raises(ValueError, match=f"{re.escape(str(folder / name))} is damaged .*pass retrain=True"):
            pretrained("mae", profile="smoke", steps=4, progress=False)
    finally:
        (folder / name).write_bytes(good)


def test_retrain_mends_a_damaged_entry_with_the_same_weights(cached_entry, monkeypatch):
    from fmlab.pretrain import pretrained
    cache, folder = cached_entry
    monkeypatch.setenv("FMLAB_CACHE", str(cache))
    good = {name: load_file(folder / name) for name in ("encoder.safetensors", "objective.safetensors")}
    (folder / "history.json").write_text("{")
    pretrained("mae", profile="smoke", steps=4, progress=False, retrain=True)
    assert same({name: load_file(folder / name) for name in good}, good)
    assert len(json.loads((folder / "history.json").read_text())["loss"]) == 4


@pytest.mark.slow
def test_two_processes_asking_for_one_entry_train_it_once(tmp_path, monkeypatch):
    """The second waits while the first trains, then loads what it wrote: one training, identical weights."""
    from fmlab.pretrain.recipes import entry, run_settings
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    folder = entry(run_settings("mae", profile="smoke", steps=30))
    script = ("from fmlab.pretrain import pretrained, recipes; from fmlab.checkpoint import fingerprint\n"
              "recipes.online_probe = lambda encoder, train, test, **_: lambda model: {'probe_acc': 0.5}  # fast\n"
              "obj, hist = pretrained('mae', profile='smoke', steps=30, progress=False)\n"
              "print('WEIGHTS', fingerprint(obj.state_dict()), len(hist.step))")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FMLAB_CACHE": str(tmp_path)}
    first = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (folder / "run.pt").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first is training once its first checkpoint is there
    assert (folder / "run.pt").exists(), "the first process never started training"
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    trained = first.communicate(timeout=300)[0]
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    assert "fmlab.fit:" in trained and "fmlab.fit:" not in second.stdout  # one training
    assert "another process is training" in second.stdout and "loaded the pretrained mae" in second.stdout
    weights = lambda out: next(line for line in out.splitlines() if line.startswith("WEIGHTS"))  # noqa: E731
    assert weights(trained) == weights(second.stdout) and weights(trained).endswith(" 30")
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.safetensors", "history.json", "objective.safetensors"]


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)],
                         ids=["umask 022", "umask 077", "umask 002"])
def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "f") as tmp:
            Path(tmp).write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == expected
    (tmp_path / "f").chmod(0o640)
    with atomic_path(tmp_path / "f") as tmp:
        Path(tmp).write_text("y")
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640  # a rewrite keeps the file's own mode


@pytest.mark.notebook
def test_a_dead_kernel_is_reported_with_its_cell(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    sources = ["x = 1", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "y = 2"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebooks / "00_dies.ipynb")
    out = course.run_course("smoke", out=tmp_path / "report", progress=False, timeout=120, directory=notebooks)
    result = json.loads((out / "summary.json").read_text())["notebooks"][0]
    assert result["status"] == "failed" and result["cell"] == 2
    assert result["error"].startswith("the kernel died while code cell 2 ran")
    assert "code cell 2</h3>" in (out / "index.html").read_text()
