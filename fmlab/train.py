"""fit(): the one training loop, for pretraining objectives and adapted classifiers alike.

A model's forward(x) returns either a dict with "loss" (a pretraining objective) or logits
[B, num_classes] (a classifier, trained with cross-entropy on the dataset's labels).
Optional hooks on the model: ``param_groups(lr)`` for per-group learning rates,
``after_step(step, total_steps)`` for work after each update (e.g. an EMA target encoder) and
``check_data(data)`` to refuse data it cannot learn from (e.g. labels beyond a classifier's head), and
``needs_meta``, names of data.meta entries its forward takes as ``meta={name: [B] tensor}`` (e.g. the
subject of each sample, for contrastive negatives drawn within a subject), and ``takes_meta``, entries passed the same
way when the data has them (a classifier takes "length", for series of several lengths padded at the end).

The step reads whole in ``train_step`` (schedule, batch, forward, backward, clip, update, after_step) and the
loop in ``_train``. A step and its record in the History are one unit: Ctrl-C or SIGTERM waits for the unit to
end (fmlab.interrupts), so the checkpoint saved then resumes bit-identically, and an error inside a unit leaves
the previous checkpoint as it was. Beside the loop: fmlab.checkpoint (run.pt and the key of its run),
fmlab.progress (the progress bar and live plot), ``_evaluate``, and fmlab.fit_checks (what fit refuses).

Under torchrun (fmlab.distributed) the same loop trains with DistributedDataParallel: each process takes its
own slice of every batch and its own random stream, and only rank 0 prints, evaluates and checkpoints.
"""
from __future__ import annotations

import inspect
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import distributed
from .checkpoint import Checkpoints, run_key
from .data.dataset import SignalDataset
from .fit_checks import check_data, check_options
from .history import History
from .interrupts import Held
from .profiles import device as pick_device
from .progress import Display, announce


@contextmanager
def seeded(seed: int | None):
    """torch's global random generator seeded with ``seed`` inside the block and put back as it was after it.
    Module initialisation (nn.Linear, ...) and the objectives' masks draw from the global generator and take no
    generator argument; seeding it here and restoring it leaves a caller's own random stream untouched.
    ``seed=None`` only restores. The GPU's generator is kept too once CUDA is in use."""
    gpus = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=gpus):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The seed of one step's masks and augmentations on one process: a function of (seed, step, rank) alone,
    so a resumed run draws what the uninterrupted one would have, and processes draw different masks."""
    return (seed * 1_000_003 + step * 7_919 + rank * 104_729) % 2**63


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def batch_indices(step: int, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """Indices of process ``rank``'s batch for ``step``: a fresh permutation each epoch, from (seed, epoch)
    alone, so a resumed run draws exactly the batches the uninterrupted run would have drawn. The ``world``
    processes split one global batch of world * batch_size: together they see each sample once an epoch."""
    total = batch_size * world
    per_epoch = max(1, n // total)
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[i * total + rank * batch_size: i * total + (rank + 1) * batch_size]


def compute_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 meta: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict]:
    """(loss, logs): an objective's dict gives its "loss" and optional "logs" {name: float} to track
    every step (e.g. JEPA's collapse monitors); logits get cross-entropy against y."""
    out = model(x, meta=meta) if meta else model(x)
    if isinstance(out, dict):
        return out["loss"], out.get("logs", {})
    return F.cross_entropy(out.float(), y), {}


@dataclass
class Run:
    """What a step reads: the model, ``net`` (the model as DDP / torch.compile wrap it, else the model itself),
    its optimiser, the data on the device (x [N, C, T], y [N], meta {name: [N]}) and the settings."""
    model: nn.Module
    net: nn.Module
    opt: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor
    meta: dict[str, torch.Tensor]
    steps: int
    batch_size: int
    lr: float
    warmup: int
    clip: float
    seed: int
    dev: torch.device
    rank: int = 0
    world: int = 1

    @property
    def bf16(self) -> bool:
        return self.dev.type == "cuda"


def train_step(r: Run, step: int) -> tuple[float, float, dict]:
    """One AdamW update at ``step``; returns (loss averaged over the processes, learning rate, the objective's logs)."""
    factor = lr_factor(step, r.steps, r.warmup)
    for g in r.opt.param_groups:
        g["lr"] = g["base_lr"] * factor
    torch.manual_seed(step_seed(r.seed, step, r.rank))  # masks and augmentations: a function of the step alone
    idx = batch_indices(step, len(r.x), r.batch_size, r.seed, r.rank, r.world).to(r.dev)
    with torch.autocast(r.dev.type, dtype=torch.bfloat16, enabled=r.bf16):
        loss, logs = compute_loss(r.net, r.x[idx], r.y[idx], {k: v[idx] for k, v in r.meta.items()})
    shown = distributed.mean(loss.detach()).item()  # every process sees the same value, so all stop together
    if not math.isfinite(shown):
        raise FloatingPointError(f"fit: loss became {shown} at step {step}; lower lr (now {r.lr}) or check the "
                                 f"data for extreme values")
    r.opt.zero_grad(set_to_none=True)
    loss.backward()
    if r.clip:
        nn.utils.clip_grad_norm_([p for g in r.opt.param_groups for p in g["params"]], r.clip)
    r.opt.step()
    if hasattr(r.model, "after_step"):
        r.model.after_step(step, r.steps)
    return shown, r.lr * factor, logs


def _train(r: Run, hist: History, start: int, ckpt: Checkpoints | None, show: Display,
           evaluate: Callable | None, eval_every: int) -> None:
    """Steps ``start`` to ``r.steps``, each with its bookkeeping: record, evaluation, display, checkpoint."""
    t0, done, clean = time.perf_counter() - hist.seconds, start, True
    with Held() as held:  # Ctrl-C and SIGTERM wait for held.check(), the end of a step, and for the save after it
        try:
            for step in range(start, r.steps):
                clean = False  # from the forward pass (it moves BatchNorm statistics) until the step is recorded
                loss, lr, logs = train_step(r, step)
                hist.record(step, loss, lr, logs)
                done, clean, hist.seconds = step + 1, True, time.perf_counter() - t0
                if evaluate is not None and distributed.is_main() and (done % eval_every == 0 or done == r.steps):
                    _evaluate(r.model, evaluate, hist, done, final=done == r.steps)
                show.update(hist)
                if ckpt is not None and ckpt.due(done):
                    ckpt.save(r.model, r.opt, hist.to_dict(), done)
                held.check()
        except KeyboardInterrupt:
            if ckpt is not None:
                ckpt.interrupted(r.model, r.opt, hist.to_dict(), done, clean)
            raise
        finally:
            show.close()
        distributed.share_buffers(r.model)
        hist.seconds = time.perf_counter() - t0
        if ckpt is not None and ckpt.step != r.steps:
            ckpt.save(r.model, r.opt, hist.to_dict(), r.steps)


def _evaluate(model: nn.Module, evaluate: Callable, hist: History, step: int, final: bool) -> None:
    told = "final" in inspect.signature(evaluate).parameters  # a hook that asks is told which call is the last
    model.eval()
    with torch.no_grad():
        for name, value in (evaluate(model, final=final) if told else evaluate(model)).items():
            hist.add(name, step, value)
    model.train()


def fit(model: nn.Module, data: SignalDataset, steps: int = 500, batch_size: int = 128, lr: float = 1e-3,
        weight_decay: float = 0.05, warmup: int | float = 0.1, clip: float | None = 1.0, seed: int = 0,
        device: str | torch.device | None = None, progress: bool = True, live: bool | None = None,
        evaluate: Callable[[nn.Module], dict[str, float]] | None = None, eval_every: int | None = None,
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
        resume: bool = True, compile: bool | str = False) -> History:
    """Train ``model`` on ``data`` for ``steps`` AdamW updates; returns a History.

    warmup:     steps (int) or a fraction of ``steps`` (float in [0, 1]) of linear warm-up before cosine decay.
    clip:       the largest gradient norm (0 or None: no clipping).
    evaluate:   called with the model in eval mode under no_grad every ``eval_every`` steps and at the
                end; its dict of floats goes into History.metrics (e.g. an online probe accuracy). A hook
                with a ``final`` keyword is told whether the call is the last (a probe cheap on the way, whole at the end).
    checkpoint: a file; written atomically every ``checkpoint_every`` steps, at the end and on Ctrl-C / SIGTERM
                (at the end of the step it interrupts). With ``resume`` an existing one of the same run (same
                options, model settings, initial weights and data) is continued to ``steps``.
    live:       redraw the loss curve in a notebook (default: when ``progress`` and inside IPython).
    compile:    torch.compile the training step (True, or a backend name such as "aot_eager"); the model's
                own state_dict, and so every checkpoint, keeps its plain keys.
    On a GPU the step runs under bf16 autocast with fused AdamW. Under torchrun, ``batch_size`` is per process.
    """
    warmup_steps = check_options(steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                 warmup=warmup, clip=clip, seed=seed, eval_every=eval_every,
                                 checkpoint_every=checkpoint_every)
    check_data(model, data)
    dev = torch.device(device) if device is not None else pick_device()
    rank, world, main = distributed.rank(), distributed.world_size(), distributed.is_main()
    batch_size = max(1, min(batch_size, len(data) // world))
    model.to(dev).train()
    opt = torch.optim.AdamW(_param_groups(model, lr, weight_decay), lr=lr, betas=(0.9, 0.95),
                            fused=dev.type == "cuda")
    hist, start, ckpt = History(), 0, None
    if checkpoint is not None:
        key = run_key(model, data.x, data.y, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      warmup=warmup_steps, clip=clip or 0, seed=seed, processes=world)
        ckpt = Checkpoints(Path(checkpoint), key, every=checkpoint_every or max(1, steps // 10), steps=steps)
        if resume and ckpt.path.exists():
            start, saved = ckpt.resume(model, opt)
            hist = History.from_dict(saved)
    net = distributed.wrap(model, dev)  # after loading: DDP copies rank 0's weights to every process
    if compile:
        net = torch.compile(net, **({"backend": compile} if isinstance(compile, str) else {}))
    r = Run(model, net, opt, data.x.to(dev), data.y.to(dev),
            {k: data.meta[k].to(dev) for k in (*getattr(model, "needs_meta", ()), *getattr(model, "takes_meta", ()))
             if k in data.meta}, steps, batch_size, lr,
            warmup_steps, clip or 0, seed, dev, rank, world)
    if main:
        announce(model, dev, r.bf16, world, start, steps, batch_size)
    if r.bf16:
        torch.cuda.reset_peak_memory_stats(dev)
    with seeded(None):  # every step reseeds the global generator (train_step); the caller gets theirs back after
        _train(r, hist, start, ckpt, Display(progress and main, live and main, steps, start),
               evaluate, eval_every or max(1, steps // 10))
    if r.bf16:
        hist.peak_memory_mb = torch.cuda.max_memory_allocated(dev) / 2**20
    model.eval()
    return hist


def _param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    if hasattr(model, "param_groups"):
        groups = model.param_groups(lr)
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]
    out = []
    for g in groups:  # decay matrices only; biases, norms and single tokens stay undecayed
        params = [p for p in g["params"] if p.requires_grad]
        for decay, chosen in ((weight_decay, [p for p in params if p.dim() >= 2]),
                              (0.0, [p for p in params if p.dim() < 2])):
            if chosen:
                out.append({**g, "params": chosen, "weight_decay": decay, "base_lr": g["lr"]})
    if not out:
        raise ValueError("fit: the model has no trainable parameters (every requires_grad is False)")
    return out
