"""Several processes on CPU (gloo), as torchrun runs them: DDP keeps every process's weights identical, the loss
falls, an interrupted run resumes to the weights of an uninterrupted one, and `fmlab pretrain` works under
torchrun with rank 0 alone writing files. Each process is a real one (spawned), with one torch thread."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from fmlab import distributed
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain.recipes import make_objective
from fmlab.train import batch_indices, fit
from toy import NoisyReconstruction, sine_classes

WORLD = 2
OBJECTIVES = ("mae", "spectrum", "contrastive", "jepa")


class Interrupting(NoisyReconstruction):
    """Raises KeyboardInterrupt (as Ctrl-C would) when forward is called for step ``at`` on every process."""

    def __init__(self, encoder, at: int | None):
        super().__init__(encoder)
        self.at, self.calls = at, 0

    def forward(self, x):
        if self.calls == self.at:
            raise KeyboardInterrupt
        self.calls += 1
        return super().forward(x)


def encoder(rank: int) -> Encoder:
    torch.manual_seed(100 + rank)  # every process starts from other weights: DDP must copy rank 0's
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64, patch_size=8))


def worker(rank: int, port: int, out: str, job: str) -> None:
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
        else:  # "whole", "interrupted" (at step 10), "resumed": one run of 20 steps with a checkpoint
            model = Interrupting(encoder(rank), at=10 if job == "interrupted" else None)
            try:
                hist = fit(model, data, steps=20, batch_size=16, lr=3e-3, progress=False, device="cpu",
                           checkpoint=os.path.join(out, "run.pt"))
                results["run"] = dict(loss=hist.loss, state=model.state_dict())
            except KeyboardInterrupt:
                results["run"] = "interrupted"
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
    return [torch.load(out / f"{job}-rank{r}.pt", weights_only=False) for r in range(WORLD)]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_processes_split_each_batch_and_together_see_the_single_process_batch():
    parts = [batch_indices(7, 100, 8, seed=3, rank=r, world=4) for r in range(4)]
    assert all(len(p) == 8 for p in parts)
    assert len(set(torch.cat(parts).tolist())) == 32  # disjoint
    assert torch.equal(torch.cat(parts), batch_indices(7, 100, 32, seed=3))


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


def test_interrupted_two_process_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    whole_dir, part_dir = tmp_path / "whole", tmp_path / "part"
    whole_dir.mkdir(), part_dir.mkdir()
    whole = launch("whole", whole_dir)
    interrupted = launch("interrupted", part_dir)
    assert [r["run"] for r in interrupted] == ["interrupted"] * WORLD
    assert torch.load(part_dir / "run.pt", weights_only=False)["step"] == 10  # written once, by rank 0
    resumed = launch("resumed", part_dir)
    assert len(resumed[0]["run"]["loss"]) == 20
    assert same(resumed[0]["run"]["state"], whole[0]["run"]["state"])
    assert same(resumed[1]["run"]["state"], whole[1]["run"]["state"])
    assert resumed[0]["run"]["loss"] == whole[0]["run"]["loss"]


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
    saved = torch.load(tmp_path / "run.pt", weights_only=False)["model"]
    assert saved.keys() == NoisyReconstruction(encoder(0)).state_dict().keys()
