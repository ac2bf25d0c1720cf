"""A task on disk: only what adaptation changed (the task delta), checked against its base encoder.

    n_bytes = save_delta(clf, "task.safetensors")       # head + LoRA / adapters / prompts (all weights
    clf = load_delta("task.safetensors", encoder)       #   for full fine-tuning), rebuilt on ``encoder``

One safetensors file: the delta's tensors, and in its metadata the strategy and its arguments, the
classes, the encoder config and a fingerprint of the base encoder's weights. A delta that needs its
base (all but full fine-tuning) refuses any other encoder: a wrong base would run, and be silently wrong.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from ..hub import atomic_path, config_diff, read_metadata
from ..models import Encoder, EncoderConfig
from .base import Classifier, fingerprint
from .strategies import STRATEGIES, build

FORMAT = "fmlab.delta/1"


def needs_base(clf: Classifier) -> bool:
    """Whether the delta leaves out some of the encoder's weights, so only its own base completes it."""
    saved = clf.delta_state()
    return any(f"encoder.{k}" not in saved for k in clf.encoder.state_dict())


def save_delta(clf: Classifier, path: str | os.PathLike) -> int:
    """Write ``clf``'s task delta to ``path`` (atomically); returns the file's size in bytes."""
    if clf.strategy not in STRATEGIES:
        raise ValueError(f"save_delta: {type(clf).__name__} (strategy {clf.strategy!r}) is not one of "
                         f"{', '.join(STRATEGIES)}, so it could not be rebuilt on load")
    tensors = {k: v.detach().contiguous().cpu() for k, v in clf.delta_state().items()}
    meta = {"format": FORMAT, "strategy": clf.strategy, "arguments": json.dumps(clf.arguments),
            "num_classes": str(clf.num_classes), "classes": json.dumps(clf.classes),
            "config": clf.encoder.config.to_json(), "base_fingerprint": clf.base_fingerprint,
            "needs_base": json.dumps(needs_base(clf))}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return Path(path).stat().st_size


def read_delta_info(path: str | os.PathLike) -> dict:
    """The metadata of a delta file (strategy, arguments, num_classes, classes, config, base_fingerprint)."""
    meta = read_metadata(path, FORMAT, "load_delta", "task delta")
    return dict(strategy=meta["strategy"], arguments=json.loads(meta["arguments"]),
                num_classes=int(meta["num_classes"]), classes=json.loads(meta["classes"]),
                config=EncoderConfig.from_dict(json.loads(meta["config"])),
                base_fingerprint=meta["base_fingerprint"], needs_base=json.loads(meta["needs_base"]))


def load_delta(path: str | os.PathLike, encoder: Encoder, num_classes: int | None = None) -> Classifier:
    """Rebuild the adapted classifier saved at ``path`` on a copy of ``encoder``, its base (in eval mode).

    Refuses (ValueError) an encoder of another config, an encoder other than the delta's base (by the
    fingerprint of its weights) when the delta needs it, and a delta for other than ``num_classes``."""
    info = read_delta_info(path)
    if encoder.config != info["config"]:
        raise ValueError(f"load_delta: {path} was adapted from an encoder of another config; differences "
                         f"(yours, the delta's): {config_diff(encoder.config, info['config'])}; load the base encoder it was adapted from")
    if info["needs_base"] and fingerprint(encoder.state_dict()) != info["base_fingerprint"]:
        raise ValueError(f"load_delta: {path} ({info['strategy']}) was adapted from another base encoder: its "
                         f"weights' fingerprint is {info['base_fingerprint'][:12]}..., this encoder's "
                         f"{fingerprint(encoder.state_dict())[:12]}...; a delta only completes its own base, so "
                         f"pass the encoder it was adapted from (e.g. fmlab.hub.load of that file)")
    if num_classes is not None and num_classes != info["num_classes"]:
        raise ValueError(f"load_delta: {path} holds a head for {info['num_classes']} classes {info['classes']}, "
                         f"expected {num_classes}; load the delta of this task or drop num_classes")
    clf = build(info["strategy"], encoder, info["num_classes"], info["classes"], **info["arguments"])
    tensors = load_file(str(path))
    expected = set(clf.delta_state())
    if set(tensors) != expected:
        raise ValueError(f"load_delta: {path} does not hold the {info['strategy']} delta it names: missing "
                         f"{sorted(expected - set(tensors))[:5]}, unexpected {sorted(set(tensors) - expected)[:5]}")
    clf.load_state_dict(tensors, strict=False)
    clf.base_fingerprint = info["base_fingerprint"]
    return clf.eval()
