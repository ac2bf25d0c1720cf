"""Several processes on CPU (gloo), as torchrun runs them: DDP keeps every process's weights identical, the loss
falls, an interrupted run resumes to the weights of an uninterrupted one (whichever process is interrupted, at
whichever point of a step), and `fmlab pretrain` works under torchrun with rank 0 alone writing files. Each
process is a real one (spawned), with one torch thread."""
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.optim.optimizer import register_optimizer_step_post_hook

from fmlab import distributed
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain.recipes import make_objective
from fmlab.train import batch_indices, fit
from toy import NoisyReconstruction, sine_classes

WORLD = 2
OBJECTIVES = ("mae", "spectrum", "contrastive", "jepa")


# (where in step 10 the interrupt comes, which processes get it, the step their checkpoint then holds): a signal
# lets the step finish on every process; a KeyboardInterrupt raised inside the step keeps the checkpoint of step 8
INTERRUPTS = (("forward", (0,), 10), ("optimizer", (0, 1), 10), ("after_step", (1,), 10), ("raise", (0, 1), 8))


class Interrupted(NoisyReconstruction):
    """An EMA of its head in after_step, and at its ``at``-th step an interrupt at ``point``: SIGINT to itself in
    "forward", "optimizer" (sent by the post-hook of the optimiser's step) or "after_step", or a KeyboardInterrupt
    raised in after_step ("raise")."""

    def __init__(self, encoder, point: str | None = None, at: int = 9):
        super().__init__(encoder)
        self.register_buffer("ema", torch.zeros_like(self.head.weight))
        self._point, self._at, self._step = point, at, -1

    def here(self, point: str) -> bool:
        return self._point == point and self._step == self._at

    def forward(self, x):
        self._step += 1
        if self.here("forward"):
            os.kill(os.getpid(), signal.SIGINT)
        return super().forward(x)

    def after_step(self, step: int, total: int) -> None:
        self.ema.mul_(0.5).add_(self.head.weight.detach(), alpha=0.25)
        if self.here("after_step"):
            os.kill(os.getpid(), signal.SIGINT)
        if self.here("raise"):
            raise KeyboardInterrupt
        self.ema.add_(self.head.weight.detach(), alpha=0.25)


def encoder(rank: int) -> Encoder:
    torch.manual_seed(100 + rank)  # every process starts from other weights: DDP must copy rank 0's
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64, patch_size=8))


def worker(rank: int, port: int, out: str, job: str) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises, even if pytest ran with SIGINT ignored
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    distributed.init()
    data, results = sine_classes(n=128), {}
    try:
        if job == "objectives":
            for name in OBJECTIVES:
                model = make_objective(name, encoder(rank), fs=data.fs)
                start = [p.detach().clone() for p in model.encoder.parameters()]
                hist = fit(model, data, steps=30, batch_size=16, lr=3e-3, progress=False, device="cpu")
                results[name] = dict(loss=hist.loss, state=model.state_dict(), start=start)
        else:  # "interrupts": one uninterrupted run of 20 steps, then each of INTERRUPTS and its resumed run
            def run(model, ckpt=None):
                return fit(model, data, steps=20, batch_size=16, lr=3e-3, progress=False, device="cpu",
                           checkpoint=ckpt, checkpoint_every=4)
            whole = Interrupted(encoder(rank))
            results["whole"] = dict(loss=run(whole).loss, state=whole.state_dict())
            current = {}
            hook = register_optimizer_step_post_hook(
                lambda opt, args, kwargs: current["model"].here("optimizer") and os.kill(os.getpid(), signal.SIGINT))
            for point, ranks, _ in INTERRUPTS:
                ckpt = os.path.join(out, f"{point}.pt")
                current["model"] = Interrupted(encoder(rank), point if rank in ranks else None)
                try:
                    run(current["model"], ckpt)
                    results[point] = "not interrupted"
                    continue
                except KeyboardInterrupt:
                    dist.barrier()  # rank 0 has written the checkpoint
                current["model"] = Interrupted(encoder(rank))
                saved = torch.load(ckpt, weights_only=True)["step"]
                resumed = run(current["model"], ckpt)
                results[point] = dict(saved=saved, loss=resumed.loss, state=current["model"].state_dict())
            hook.remove()
        torch.save(results, os.path.join(out, f"{job}-rank{rank}.pt"))
    finally:
        distributed.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(job: str, out) -> list[dict]:
    """Run ``job`` on WORLD spawned processes; every process's results."""
    mp.start_processes(worker, args=(free_port(), str(out), job), nprocs=WORLD, start_method="spawn")
    return [torch.load(out / f"{job}-rank{r}.pt", weights_only=True) for r in range(WORLD)]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_processes_split_each_batch_and_together_see_the_single_process_batch():
    parts = [batch_indices(7, 100, 8, seed=3, rank=r, world=4) for r in range(4)]
    assert all(len(p) == 8 for p in parts)
    assert len(set(torch.cat(parts).tolist())) == 32  # disjoint
    assert torch.equal(torch.cat(parts), batch_indices(7, 100, 32, seed=3))


@pytest.mark.distributed
def test_two_processes_end_with_identical_weights_and_the_loss_falls(tmp_path):
    ranks = launch("objectives", tmp_path)
    for name in OBJECTIVES:
        first, second = ranks[0][name], ranks[1][name]
        assert same(first["state"], second["state"]), f"{name}: the processes' weights differ after DDP training"
        moved = [not torch.equal(a, b) for a, b in zip(first["start"], first["state"].values())]
        assert any(moved), f"{name}: training did not change the weights"
        assert first["loss"] == second["loss"]  # the logged loss is the mean over the processes
    loss = ranks[0]["mae"]["loss"]
    assert sum(loss[-5:]) / 5 < sum(loss[:5]) / 5, f"mae: the loss did not fall over 30 DDP steps: {loss}"


@pytest.mark.distributed
def test_interrupted_two_process_runs_resume_to_the_weights_of_an_uninterrupted_one(tmp_path):
    """A SIGINT to rank 0, to both or to rank 1 alone, in the forward pass, the optimiser step or after_step of
    step 10: every process finishes that step and stops with the others, rank 0 saves 10 steps, and the resumed
    run ends with the uninterrupted weights on both processes. A KeyboardInterrupt raised inside the step keeps
    the checkpoint of step 8, which resumes as exactly."""
    ranks = launch("interrupts", tmp_path)
    for point, _, kept in INTERRUPTS:
        for rank in range(WORLD):
            result, whole = ranks[rank][point], ranks[rank]["whole"]
            assert result != "not interrupted", f"{point}: rank {rank} trained through the interrupt"
            assert result["saved"] == kept, f"{point}: rank {rank} read a checkpoint of step {result['saved']}"
            assert same(result["state"], whole["state"]), f"{point}: rank {rank} resumed to other weights"
            assert result["loss"] == whole["loss"]


@pytest.mark.distributed
def test_fmlab_pretrain_under_torchrun(tmp_path):
    """The command line a researcher runs, on two CPU processes: one set of files, written by rank 0."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}", "-m", "fmlab",
           "pretrain", "--objective", "mae", "--data", "eeg", "--profile", "smoke", "--steps", "12", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("fmlab pretrain:") == 1, done.stdout  # rank 0 alone reports
    assert "2 processes" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["encoder.safetensors", "history.json", "objective.safetensors"]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 12


@pytest.mark.parametrize("backend", ["eager"])
def test_compiled_training_saves_plain_keys(tmp_path, backend):
    """torch.compile wraps the model (keys gain "_orig_mod."); checkpoints must keep the model's own keys."""
    torch.manual_seed(0)
    model = NoisyReconstruction(encoder(0))
    fit(model, sine_classes(), steps=3, batch_size=16, progress=False, device="cpu", compile=backend,
        checkpoint=tmp_path / "run.pt")
    saved = torch.load(tmp_path / "run.pt", weights_only=True)["model"]
    assert saved.keys() == NoisyReconstruction(encoder(0)).state_dict().keys()
