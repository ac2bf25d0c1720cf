"""run.pt: the checkpoint of one fit() run, and the key that says which run it belongs to.

A checkpoint holds tensors and plain types only (model and optimiser state, the step reached, the run key, the
History as a dict), so it loads with ``torch.load(weights_only=True)``: a planted pickle cannot run code.

The run key is what makes a run: fit's options, the model's settings (every public plain attribute of the
model's own modules, e.g. ``MAE.mask_ratio`` or ``MAE.encoder.config.dim``), a fingerprint of its weights when
fit starts, and the data's shape and fingerprint. Resuming a checkpoint whose key differs is refused with what
differs, so another model, objective or dataset never silently inherits a run's weights.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from . import distributed
from .profiles import say

SAMPLE = 4096  # values of each tensor a fingerprint reads: cheap for any size, still unlike for unlike tensors
PARTS = ("model", "optimizer", "step", "run", "history")


def fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A short hash of each tensor's name, shape, dtype and an evenly strided sample of at most SAMPLE values."""
    h = hashlib.sha1()
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):  # e.g. a module's _extra_state
            continue
        flat = t.detach().reshape(-1)
        h.update(f"{name} {tuple(t.shape)} {t.dtype}".encode())
        h.update(flat[:: max(1, flat.numel() // SAMPLE)][:SAMPLE].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _plain(value, name: str, out: dict) -> None:
    """Flatten ``value`` into ``out`` as {dotted name: number, string, flag or list}; skip what has no stable text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _plain(v, f"{name}.{k}", out)
    elif value is None or isinstance(value, (bool, int, float, str)):
        out[name] = value
    elif isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        out[name] = list(value)
    elif isinstance(value, (set, frozenset)):  # sorted: a set's order changes from one process to the next
        out[name] = sorted(map(repr, value))
    elif type(value).__repr__ is not object.__repr__ and not callable(value):  # e.g. an augmentation pipeline
        out[name] = repr(value)


def settings(model: nn.Module) -> dict[str, object]:
    """{"MAE.mask_ratio": 0.75, "MAE.encoder.config.dim": 64, ...}: the public plain attributes of the model's own
    modules (torch.nn's layers are left out: their sizes are in the weights' shapes)."""
    out: dict[str, object] = {}
    root = type(model).__name__
    for path, module in model.named_modules():
        if type(module).__module__.startswith("torch."):
            continue
        for attr, value in vars(module).items():
            if not attr.startswith("_") and attr != "training":
                _plain(value, ".".join(filter(None, (root, path, attr))), out)
    return out


def run_key(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **options) -> dict[str, object]:
    """What makes a run: ``options`` (steps, batch size, lr, ...), the model's settings, its weights now (call
    before any step) and the data [N, C, T] with its labels. Rank 0's key under torchrun (DDP starts every
    process from rank 0's weights)."""
    key = {**options, "model": type(model).__name__, **settings(model),
           "initial weights fingerprint": fingerprint(model.state_dict()), "data shape": list(x.shape),
           "data fingerprint": fingerprint({"x": x, "y": y})}
    return distributed.from_main(key)


def differences(saved: dict, current: dict) -> list[str]:
    """One line per entry where two run keys differ, the outermost first (a config's field before the layers
    it shapes)."""
    text = lambda d, k: json.dumps(d.get(k, "(absent)"))  # noqa: E731 - JSON text, so NaN equals NaN
    names = sorted(set(saved) | set(current), key=lambda k: (k.count("."), k))
    return [f"{k}: {text(saved, k)} in the checkpoint, {text(current, k)} now" for k in names
            if text(saved, k) != text(current, k)]


def check_writable(path: Path) -> None:
    """Refuse a checkpoint path whose folder cannot be written, before any training is spent."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"fit: cannot create the checkpoint folder {path.parent} ({e.strerror}); pass a checkpoint "
                         f"path in a writable folder, or checkpoint=None") from None
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"fit: the checkpoint folder {path.parent} is not writable (read-only cache?); pass a "
                         f"checkpoint path in a writable folder (or set FMLAB_CACHE to one), or checkpoint=None")


def write(path: Path, state: dict) -> bool:
    """Write ``state`` to ``path`` atomically. A failed write (disk full, quota, I/O error) warns with the path and
    the free space and returns False: the previous checkpoint stays whole and the run goes on in memory."""
    from .hub import atomic_path
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (OSError, RuntimeError) as e:  # torch's zip writer reports a full disk as a RuntimeError
        free = shutil.disk_usage(path.parent).free / 2**20 if path.parent.exists() else 0.0
        previous = "the previous checkpoint is kept" if path.exists() else "there is no earlier checkpoint"
        warnings.warn(f"fit: could not write the checkpoint {path} ({str(e).splitlines()[0]}); {free:.1f} MiB free "
                      f"in {path.parent}; {previous} and training goes on. Free some space, or pass a checkpoint "
                      f"path on another disk", RuntimeWarning, stacklevel=3)
        return False
    return True


def read(path: Path, key: dict) -> dict:
    """The state at ``path``, if it is a readable fmlab checkpoint of the run ``key``; else a ValueError that says
    what is wrong and how to start fresh."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated, not a torch file, or a pickle of other objects
        raise ValueError(f"fit: {path} is not a readable fmlab checkpoint ({str(e).splitlines()[0][:200]}); "
                         f"delete it, or pass resume=False, to start fresh") from None
    if not isinstance(state, dict) or not set(PARTS) <= set(state):
        raise ValueError(f"fit: {path} is not an fmlab checkpoint (expected a dict with {list(PARTS)}); delete it, "
                         f"or pass resume=False, to start fresh")
    diff = differences(state["run"], key)
    if diff:
        shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")
        raise ValueError(f"fit: checkpoint {path} belongs to another run; what differs: {shown}. Delete it, pass "
                         f"another checkpoint path, or resume=False to start fresh")
    return state


class Checkpoints:
    """run.pt of one run: its ``key``, how often it is written (every ``every`` steps before ``steps``), and the
    step the file holds. Rank 0 alone writes; every process reads when resuming."""

    def __init__(self, path: Path, key: dict, every: int, steps: int):
        self.path, self.key, self.every, self.steps = Path(path), key, every, steps
        self.step: int | None = None  # the step the file holds, once this run has read or written it
        self.writes = distributed.is_main()
        if self.writes:
            check_writable(self.path)

    def resume(self, model: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, dict]:
        """Load the file into ``model`` and ``opt``; returns (its step, its History as a dict)."""
        state = read(self.path, self.key)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise ValueError(f"fit: checkpoint {self.path} does not fit this model ({str(e).splitlines()[0]}); "
                             f"delete it or pass another checkpoint path") from None
        opt.load_state_dict(state["optimizer"])
        self.step = state["step"]
        if self.writes:
            say(f"fmlab.fit: resuming {self.path} at step {self.step}")
        return self.step, state["history"]

    def due(self, done: int) -> bool:
        return done % self.every == 0 and done < self.steps

    def save(self, model: nn.Module, opt: torch.optim.Optimizer, history: dict, step: int) -> bool:
        """Write the state after ``step`` steps (rank 0); False if the write failed (see ``write``)."""
        if not self.writes:
            return False
        state = dict(model=model.state_dict(), optimizer=opt.state_dict(), step=step, run=self.key, history=history)
        if write(self.path, state):
            self.step = step
            return True
        return False

    def interrupted(self, model: nn.Module, opt: torch.optim.Optimizer, history: dict, done: int, clean: bool) -> None:
        """After Ctrl-C / SIGTERM: save the ``done`` steps if they end cleanly on a step boundary, else keep the file
        as it is (half a step cannot be resumed exactly), and say which step a new fit() resumes from."""
        if not self.writes:
            return
        if clean and (self.step == done or self.save(model, opt, history, done)):
            print(f"fmlab.fit: interrupted after step {done}; saved to {self.path}, run fit again to resume")
        elif self.step is not None:
            why = "the interrupted step was half done" if not clean else "saving the last steps failed"
            print(f"fmlab.fit: interrupted; {self.path} keeps step {self.step} ({why}); run fit again to resume there")
        else:
            print("fmlab.fit: interrupted before any checkpoint was written; fit starts afresh next time")
