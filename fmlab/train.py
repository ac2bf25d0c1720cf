"""fit(): the one training loop, for pretraining objectives and adapted classifiers alike.

A model's forward(x) returns either a dict with "loss" (a pretraining objective) or logits
[B, num_classes] (a classifier, trained with cross-entropy on the dataset's labels).
Optional hooks on the model: ``param_groups(lr)`` for per-group learning rates,
``after_step(step, total_steps)`` for work after each update (e.g. an EMA target encoder) and
``check_data(data)`` to refuse data it cannot learn from (e.g. labels beyond a classifier's head), and
``needs_meta``, names of data.meta entries its forward takes as ``meta={name: [B] tensor}`` (e.g. the
subject of each sample, for contrastive negatives drawn within a subject).

Under torchrun (fmlab.distributed) the same loop trains with DistributedDataParallel: each process takes its
own slice of every batch and its own random stream, and only rank 0 prints, evaluates and checkpoints.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import distributed
from .data.core import SignalDataset
from .profiles import device as pick_device


@dataclass
class History:
    """Loss per step, evaluation metrics at their steps, wall time and peak accelerator memory."""
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    peak_memory_mb: float | None = None

    def add(self, name: str, step: int, value: float) -> None:
        self.metrics.setdefault(name, []).append((step, float(value)))

    def last(self, name: str = "loss") -> float:
        """The latest value of ``name`` ("loss", or a metric)."""
        if name == "loss":
            return self.loss[-1]
        if name not in self.metrics:
            raise KeyError(f"History has no metric {name!r}; it has {sorted(self.metrics)}")
        return self.metrics[name][-1][1]

    def final_loss(self, window: int = 10) -> float:
        """Mean loss over the last ``window`` steps (less noisy than the last step alone)."""
        tail = self.loss[-window:]
        return sum(tail) / len(tail)

    def plot(self, ax=None):
        from .viz.plots import plot_history
        return plot_history(self, ax=ax)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        h = cls(**d)
        h.metrics = {k: [tuple(v) for v in vals] for k, vals in h.metrics.items()}
        return h


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


def fit(model: nn.Module, data: SignalDataset, steps: int = 500, batch_size: int = 128, lr: float = 1e-3,
        weight_decay: float = 0.05, warmup: int | float = 0.1, clip: float = 1.0, seed: int = 0,
        device: str | torch.device | None = None, progress: bool = True, live: bool | None = None,
        evaluate: Callable[[nn.Module], dict[str, float]] | None = None, eval_every: int | None = None,
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
        resume: bool = True, compile: bool | str = False) -> History:
    """Train ``model`` on ``data`` for ``steps`` AdamW updates; returns a History.

    warmup:     steps (int) or a fraction of ``steps`` (float) of linear warm-up before cosine decay.
    evaluate:   called with the model in eval mode under no_grad every ``eval_every`` steps and at the
                end; its dict of floats goes into History.metrics (e.g. an online probe accuracy).
    checkpoint: a file; written atomically every ``checkpoint_every`` steps, at the end and on
                KeyboardInterrupt. With ``resume`` an existing one is continued to ``steps``.
    live:       redraw the loss curve in a notebook (default: when ``progress`` and inside IPython).
    compile:    torch.compile the training step (True, or a backend name such as "aot_eager"); the model's
                own state_dict, and so every checkpoint, keeps its plain keys.
    On a GPU the step runs under bf16 autocast with fused AdamW. Under torchrun, ``batch_size`` is per process.
    """
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"fit: expected steps >= 1, batch_size >= 1 and lr > 0, got {steps}, {batch_size}, {lr}")
    if len(data) == 0:
        raise ValueError("fit: the dataset is empty; check the split or label budget that produced it")
    if hasattr(model, "check_data"):
        model.check_data(data)
    missing = [k for k in getattr(model, "needs_meta", ()) if k not in data.meta]
    if missing:
        raise ValueError(f"fit: {type(model).__name__} needs data.meta{missing} for every sample, but {data.name!r} "
                         f"has meta {sorted(data.meta)}; use data that carries it (e.g. eeg's 'subject') or "
                         f"build the objective without the option that asks for it")
    dev = torch.device(device) if device is not None else pick_device()
    rank, world, main = distributed.rank(), distributed.world_size(), distributed.is_main()
    warmup_steps = int(warmup * steps) if isinstance(warmup, float) else int(warmup)
    batch_size = max(1, min(batch_size, len(data) // world))
    model.to(dev).train()
    opt = torch.optim.AdamW(_param_groups(model, lr, weight_decay), lr=lr, betas=(0.9, 0.95),
                            fused=dev.type == "cuda")
    hist, start = History(), 0
    run = dict(steps=steps, batch_size=batch_size, lr=lr, seed=seed, processes=world)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and resume and ckpt.exists():
        start, hist = _resume(ckpt, model, opt, run)
    net = distributed.wrap(model, dev)  # after loading: DDP copies rank 0's weights to every process
    if compile:
        net = torch.compile(net, **({"backend": compile} if isinstance(compile, str) else {}))
    checkpoint_every = checkpoint_every or max(1, steps // 10)
    eval_every = eval_every or max(1, steps // 10)
    x_all, y_all = data.x.to(dev), data.y.to(dev)
    meta_all = {k: data.meta[k].to(dev) for k in getattr(model, "needs_meta", ())}
    use_bf16 = dev.type == "cuda"
    if main:
        print(f"fmlab.fit: {type(model).__name__} on {dev}{' (bf16 autocast)' if use_bf16 else ''}"
              f"{f' x {world} processes (DDP)' if world > 1 else ''}, steps {start}->{steps}, batch {batch_size}"
              f"{' per process' if world > 1 else ''}, "
              f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable parameters")
    if use_bf16:
        torch.cuda.reset_peak_memory_stats(dev)
    bar = _progress(range(start, steps), progress and main, steps, start)
    plot = _LivePlot() if main and (live if live is not None else progress and _in_notebook()) else None
    t0, step = time.perf_counter() - hist.seconds, start
    try:
        for step in bar:
            factor = lr_factor(step, steps, warmup_steps)
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * factor
            torch.manual_seed(step_seed(seed, step, rank))
            idx = batch_indices(step, len(data), batch_size, seed, rank, world).to(dev)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, logs = compute_loss(net, x_all[idx], y_all[idx], {k: v[idx] for k, v in meta_all.items()})
            shown = distributed.mean(loss.detach()).item()  # every process sees the same value, so all stop together
            if not math.isfinite(shown):
                raise FloatingPointError(f"fit: loss became {shown} at step {step}; lower lr "
                                         f"(now {lr}) or check the data for extreme values")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], clip)
            opt.step()
            if hasattr(model, "after_step"):
                model.after_step(step, steps)
            hist.step.append(step)
            hist.loss.append(shown)
            hist.lr.append(lr * factor)
            for name, value in logs.items():
                hist.add(name, step, value)
            done = step + 1
            if main and evaluate is not None and (done % eval_every == 0 or done == steps):
                _evaluate(model, evaluate, hist, done)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{hist.loss[-1]:.4f}", **{k: f"{v[-1][1]:.3f}" for k, v in hist.metrics.items()})
            if plot is not None:
                plot.update(hist)
            if main and ckpt is not None and done % checkpoint_every == 0 and done < steps:
                hist.seconds = time.perf_counter() - t0
                _save(ckpt, model, opt, hist, done, run)
    except KeyboardInterrupt:
        if main and ckpt is not None:
            hist.seconds = time.perf_counter() - t0
            _save(ckpt, model, opt, hist, hist.step[-1] + 1 if hist.step else start, run)
            print(f"fmlab.fit: interrupted; state saved to {ckpt}, run fit again to resume")
        raise
    finally:
        if hasattr(bar, "close"):
            bar.close()
        if plot is not None:
            plot.clear()
    distributed.share_buffers(model)
    hist.seconds = time.perf_counter() - t0
    if use_bf16:
        hist.peak_memory_mb = torch.cuda.max_memory_allocated(dev) / 2**20
    if main and ckpt is not None:
        _save(ckpt, model, opt, hist, steps, run)
    model.eval()
    return hist


def _evaluate(model, evaluate, hist: History, step: int) -> None:
    model.eval()
    with torch.no_grad():
        for name, value in evaluate(model).items():
            hist.add(name, step, value)
    model.train()


def _save(path: Path, model, opt, hist: History, step: int, run: dict) -> None:
    from .hub import atomic_path
    state = dict(model=model.state_dict(), optimizer=opt.state_dict(), step=step, run=run, history=hist.to_dict())
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path: Path, model, opt, run: dict):
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("run") != run:
        raise ValueError(f"fit: checkpoint {path} belongs to another run {state.get('run')}, not {run}; "
                         f"delete it, pass another checkpoint path, or resume=False")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ValueError(f"fit: checkpoint {path} does not fit this model ({str(e).splitlines()[0]}); "
                         f"delete it or pass another checkpoint path") from None
    opt.load_state_dict(state["optimizer"])
    if distributed.is_main():
        print(f"fmlab.fit: resuming {path} at step {state['step']}")
    return state["step"], History.from_dict(state["history"])


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


def _progress(it, enabled: bool, total: int, initial: int):
    if not enabled:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, total=total, initial=initial, desc="fit", leave=True)


class _LivePlot:
    """Redraws the loss curve in place in a notebook output while fit() runs."""

    def __init__(self, every_seconds: float = 3.0):
        from IPython.display import display
        self.handle, self.every, self.last = display(display_id=True), every_seconds, time.perf_counter()

    def update(self, hist: History) -> None:
        """Redraw at most every few seconds (a redraw costs as much as several small training steps)."""
        if time.perf_counter() - self.last < self.every:
            return
        self.last = time.perf_counter()
        import matplotlib.pyplot as plt
        fig = hist.plot()
        self.handle.update(fig)
        plt.close(fig)

    def clear(self) -> None:
        """Empty the live output once training ends: the History's own plot is the record."""
        from IPython.display import HTML
        self.handle.update(HTML(""))
