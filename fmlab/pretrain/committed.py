"""Comparison runs committed with the kit, so that a notebook trains in front of the student only the model it is
about and loads the rows it compares it with (notebook 03 trains SimCLR with the default views; its weak-views and
subject-negatives runs come from here; notebook 10 fits its law on the cpu grid of fmlab.scaling from here, and
trains the run that tests the law).

    fmlab/references/course/<cache entry name>/encoder.safetensors   the encoder, half precision, with its settings
                                              /head.safetensors      the rest of the objective (projection head)
                                              /history.json          the run's History
    fmlab/references/course/index.json                               {name: settings} of every committed run

    fmlab/references/scaling/<cache entry name>/encoder.safetensors, result.json   one scaling-grid run

``pretrained()`` (and ``scaling.run``) looks here when its cache has no entry of the same settings and copies the run
in (weights back in float32); other settings (another seed, profile or budget) train as before.
``benchmarks/course_runs.py`` makes the runs of COURSE_RUNS and the grid again after a change of the cpu profile,
which tests/pretrain/test_committed.py catches.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import hub

COURSE = hub.REFERENCES / "course"
SCALING = hub.REFERENCES / "scaling"
GRID_OBJECTIVES = ("mae", "next-patch")   # the scaling grids of notebook 10 (cpu profile, seed 0)
# {name: (objective, arguments: the data, or the objective's)}: cpu profile, seed 0, the profile's budget
# (recipes.run_settings)
COURSE_RUNS = {
    "contrastive, weak views": ("contrastive", {"augment": "weak"}),
    "contrastive, subject negatives": ("contrastive", {"negatives": "subject"}),
    "contrastive, electrode offsets": ("contrastive", {"data": "eeg-offsets"}),
    "contrastive, electrode offsets, offset views": ("contrastive", {"data": "eeg-offsets", "augment": "offsets"}),
}


def index() -> dict[str, dict]:
    """{name: {"entry": folder name, "settings": run settings}} of the committed runs."""
    path = COURSE / "index.json"
    return json.loads(path.read_text()) if path.exists() else {}


def install(folder: Path) -> bool:
    """Copy the committed run whose cache entry name is ``folder.name`` into the cache entry ``folder`` (weights
    in float32, history.json last: it marks the entry complete). False, and nothing written, where none is."""
    source = COURSE / folder.name
    if not (source / "history.json").exists():
        return False
    encoder = _copy_weights(source / "encoder.safetensors", folder / "encoder.safetensors", torch.float32)
    head = {k: v.float() for k, v in load_file(str(source / "head.safetensors")).items()}
    with hub.atomic_path(folder / "objective.safetensors") as tmp:
        save_file({**{f"encoder.{k}": v for k, v in encoder.items()}, **head}, tmp)
    with hub.atomic_path(folder / "history.json") as tmp:
        shutil.copyfile(source / "history.json", tmp)
    return True


def commit(name: str, objective: torch.nn.Module, folder: Path) -> Path:
    """Write the complete cache entry ``folder`` (its objective already loaded as ``objective``) under
    COURSE/<folder.name>, half precision, and list it in the index as ``name``."""
    target = COURSE / folder.name
    target.mkdir(parents=True, exist_ok=True)
    info = hub.read_config(folder / "encoder.safetensors")[1]
    _copy_weights(folder / "encoder.safetensors", target / "encoder.safetensors", torch.float16)
    head = {k: v.detach().half().contiguous().cpu() for k, v in objective.state_dict().items()
            if not k.startswith("encoder.")}
    with hub.atomic_path(target / "head.safetensors") as tmp:
        save_file(head, tmp)
    with hub.atomic_path(target / "history.json") as tmp:
        shutil.copyfile(folder / "history.json", tmp)
    _write_index({**index(), name: {"entry": folder.name,
                                    "settings": {k: v for k, v in info.items() if k != "probe_acc"}}})
    return target


def prune(keep: set[str]) -> list[Path]:
    """Remove the committed runs whose folder is not in ``keep`` (runs of earlier settings), and the index entries of
    names no longer in COURSE_RUNS; returns the folders removed."""
    removed = _remove_all_but(COURSE, keep)
    _write_index({name: run for name, run in index().items() if name in COURSE_RUNS})
    return removed


def install_grid_run(folder: Path) -> bool:
    """Copy the committed scaling-grid run (fmlab.scaling.run) of the cache entry ``folder`` in: the encoder in float32,
    result.json last. False, and nothing written, where none is committed."""
    source = SCALING / folder.name
    if not (source / "result.json").exists():
        return False
    _copy_weights(source / "encoder.safetensors", folder / "encoder.safetensors", torch.float32)
    with hub.atomic_path(folder / "result.json") as tmp:
        shutil.copyfile(source / "result.json", tmp)
    return True


def commit_grid_run(folder: Path) -> Path:
    """Write the complete scaling-grid cache entry ``folder`` under SCALING/<folder.name>, the encoder in half
    precision."""
    target = SCALING / folder.name
    target.mkdir(parents=True, exist_ok=True)
    _copy_weights(folder / "encoder.safetensors", target / "encoder.safetensors", torch.float16)
    with hub.atomic_path(target / "result.json") as tmp:
        shutil.copyfile(folder / "result.json", tmp)
    return target


def prune_grid(keep: set[str]) -> list[Path]:
    """Remove the committed scaling-grid runs whose folder is not in ``keep``; returns the folders removed."""
    return _remove_all_but(SCALING, keep)


def _remove_all_but(folder: Path, keep: set[str]) -> list[Path]:
    removed = [old for old in folder.iterdir() if old.is_dir() and old.name not in keep] if folder.exists() else []
    for old in removed:
        shutil.rmtree(old)
    return removed


def _copy_weights(source: Path, target: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """An encoder file copied with its metadata (config and settings) as it is, the weights cast to ``dtype``."""
    weights = {k: v.to(dtype).contiguous() for k, v in load_file(str(source)).items()}
    with hub.atomic_path(target) as tmp:
        save_file(weights, tmp, metadata=hub.read_metadata(source))
    return weights


def _write_index(listed: dict) -> None:
    with hub.atomic_path(COURSE / "index.json") as tmp:
        Path(tmp).write_text(json.dumps(listed, indent=1, sort_keys=True) + "\n")
