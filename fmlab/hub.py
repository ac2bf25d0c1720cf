"""Encoders on disk: one safetensors file holding the weights and, in its metadata, the config.

    hub.save(encoder, "enc.safetensors");  encoder = hub.load("enc.safetensors")
    encoder = hub.reference("mae-small")   # a reference encoder committed with the kit

Runs are cached elsewhere (fmlab.pretrain.recipes.pretrained, fmlab.scaling), in folders named by ``cache_key``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_path  # the one atomic writer; hub.atomic_path is the name the package uses
from .models import Encoder, EncoderConfig

FORMAT = "fmlab.encoder/2"
# Format 1 predates the shape-agnostic encoder: its encoders divided inputs by input_scale and embedded
# channels by index, which format 2 spells norm="scale", channel_embed=True (the weights are the same).
OLD_FORMATS = {"fmlab.encoder/1": dict(norm="scale", channel_embed=True, channel_independent=False)}


def save(encoder: Encoder, path: str | os.PathLike, **info) -> Path:
    """Write ``encoder``'s weights and config (plus any JSON-able ``info``) to ``path``."""
    path = Path(path)
    weights = {k: v.detach().contiguous().cpu() for k, v in encoder.state_dict().items()}
    meta = {"format": FORMAT, "config": encoder.config.to_json(), "info": json.dumps(info, default=str)}
    with atomic_path(path) as tmp:
        save_file(weights, tmp, metadata=meta)
    return path


def read_metadata(path: str | os.PathLike, expected_format: str = FORMAT, who: str = "hub",
                  kind: str = "encoder") -> dict[str, str]:
    """The metadata of an fmlab ``kind`` file whose "format" is ``expected_format``, without its tensors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{who}: no file at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{who}: {path} is not a readable safetensors file ({e}); it may be truncated: delete it") from None
    if expected_format == FORMAT and meta.get("format") in OLD_FORMATS:
        return meta
    if meta.get("format") != expected_format:
        raise ValueError(f"{who}: {path} is not an fmlab {kind} (format {meta.get('format')!r}, expected "
                         f"{expected_format!r}); an encoder loads with fmlab.hub.load, a task delta with "
                         f"fmlab.adapt.load_delta")
    return meta


def config_diff(ours: EncoderConfig, theirs: EncoderConfig) -> dict[str, tuple]:
    """{field: (ours, theirs)} for every field where two configs differ."""
    return {k: (v, getattr(theirs, k)) for k, v in vars(ours).items() if getattr(theirs, k) != v}


def read_config(path: str | os.PathLike) -> tuple[EncoderConfig, dict]:
    """The config and info stored in an encoder file, without loading its weights."""
    meta = read_metadata(path)
    config = {**json.loads(meta["config"]), **OLD_FORMATS.get(meta["format"], {})}
    return EncoderConfig.from_dict(config), json.loads(meta.get("info", "{}"))


def load(path: str | os.PathLike, into: Encoder | None = None, device=None) -> Encoder:
    """Rebuild the encoder stored at ``path`` (or load its weights ``into`` an existing encoder,
    whose config must match the stored one)."""
    config, _ = read_config(path)
    if into is not None and into.config != config:
        raise ValueError(f"hub: {path} holds an encoder of another config; differences (yours, file's): "
                         f"{config_diff(into.config, config)}; build the encoder with hub.load(path) or fmlab.hub.read_config(path)")
    encoder = into if into is not None else Encoder(config)
    encoder.load_state_dict(load_file(str(path)))
    return encoder.to(device) if device is not None else encoder


def cache_key(name: str, **settings) -> str:
    """``name`` plus a hash of ``settings``: another config or other training settings, another entry."""
    import hashlib
    blob = json.dumps(settings, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


# -- the reference encoders committed with the kit ---------------------------------------------------
REFERENCES = Path(__file__).parent / "references"


def references() -> dict[str, dict]:
    """{name: info} of every committed reference encoder: objective, size, steps, wall time, corpus, the
    command that made it. Reading it loads no weights."""
    return {p.stem: read_config(p)[1] for p in sorted(REFERENCES.glob("*.safetensors"))}


def reference(name: str, device=None) -> Encoder:
    """The committed reference encoder ``name`` (see ``references()``), in float32, in eval mode: no
    training, no network. It takes any [B, C, T] up to its config's length (512 samples)."""
    path = REFERENCES / f"{name}.safetensors"
    if not path.exists():
        known = ", ".join(references()) or "none (run benchmarks/references.py to make them)"
        raise ValueError(f"hub.reference: no reference called {name!r}; the kit ships: {known}")
    return load(path, device=device).float().eval()


def save_reference(encoder: Encoder, name: str, folder: str | os.PathLike | None = None, **info) -> Path:
    """Write ``encoder`` as a reference: half-precision weights (the kit ships them in git), config and
    ``info`` (how it was made) in the metadata."""
    path = Path(folder or REFERENCES) / f"{name}.safetensors"
    weights = {k: v.detach().half().contiguous().cpu() for k, v in encoder.state_dict().items()}
    meta = {"format": FORMAT, "config": encoder.config.to_json(), "info": json.dumps(info, default=str)}
    with atomic_path(path) as tmp:
        save_file(weights, tmp, metadata=meta)
    return path
