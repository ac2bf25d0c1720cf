"""Ready-made pretraining runs: the data, the objective, fit() with an online probe, and the cache.

    mae, hist = pretrain("mae", data="eeg", profile="cpu")       # train now (mae.encoder is the encoder)
    mae, hist = pretrained("mae", data="eeg", profile="cpu")     # or reuse what an earlier notebook trained
Both build the run from the same arguments, so notebook 05 gets exactly the encoder that 01 trained.
A cache entry is a folder: encoder.safetensors (fmlab.hub format), objective.safetensors, history.json.
Under torchrun (``fmlab pretrain`` on several processes) every process runs pretrain() and rank 0 writes.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import distributed, hub
from ..data import SignalDataset, load
from ..evaluate import online_probe
from ..lock import folder_lock
from ..models import Encoder, EncoderConfig
from ..profiles import cache_dir, get_profile, say
from ..profiles import device as pick_device
from ..train import History, fit, seeded
from . import committed
from .contrastive import Contrastive
from .jepa import JEPA
from .lengths import RandomLength
from .mae import MAE
from .next_patch import NextPatch
from .spectrum import MaskedSpectrum
from .stream import FreshSeries

# The four encoder objectives the course compares (notebooks 01-05, the benchmarks' default rows), and every
# objective a run can name: next-patch prediction too, the causal (GPT) side.
OBJECTIVES = {"mae": MAE, "spectrum": MaskedSpectrum, "contrastive": Contrastive, "jepa": JEPA}
BY_NAME = {**OBJECTIVES, "next-patch": NextPatch}
# Compute per step relative to MAE (which encodes a quarter of the tokens): contrastive encodes two
# full views, JEPA one context plus a full target pass. A profile's step budget is divided by this,
# and contrastive halves the batch, so each objective gets about the same wall-clock time (measured on
# 2 cores, small encoder: MAE 0.47 s a step, contrastive 1.54 s at half the batch, JEPA 1.39 s).
STEP_COST = {"mae": 1, "spectrum": 1, "contrastive": 3, "jepa": 1, "next-patch": 2}
# JEPA gets more than its share: with a 0.75 mask its context encoder sees a quarter of the tokens, yet it needs
# MAE's 300 steps, at 3x the profile's learning rate, to rise above random init on 2 seeds of 2 (at 200 steps on
# 1 of 2; BENCHMARKS.md, "JEPA at cpu size").
LR_SCALE = {"jepa": 3.0}
# The costs benchmarks/ divide Profile.benchmark_steps by (benchmark_steps): their committed results were made
# with them, contrastive's 4 included, and their commands make the same runs again.
BENCHMARK_STEP_COST = {"mae": 1, "spectrum": 1, "contrastive": 4, "jepa": 3, "next-patch": 2}
# signals per probe split in the online probe's evaluations before the last (which uses the whole splits): a cpu
# run's 1,000 + 1,000 cost as much to encode as ~25 MAE steps, five times a run
PROBE_ON_THE_WAY = 250


@dataclass
class Corpus:
    """Unlabelled data to pretrain on, and a labelled split (other subjects, for eeg) to probe with."""
    unlabelled: SignalDataset
    probe_train: SignalDataset
    probe_test: SignalDataset


def corpus(data: str = "eeg", n: int = 2000, seed: int = 0, probe_size: int = 1000, device=None,
           pile: str = "cpu") -> Corpus:
    """eeg / eeg-offsets / mnist1d: ``n`` generated samples split 75 / 25 (by subject for eeg); pretraining sees the
    75 % without labels, the probe fits on up to ``probe_size`` of them and is tested on the other 25 %.
    ucr:NAME: pretraining and probe fit on the train split, the probe is tested on the test split.
    pile: the broad corpus of that build_pile size (a profile's ``pile``), probed on eeg.
    ``device``: where eeg is generated (on a GPU no host loader bounds the step; the numbers differ from a
    CPU corpus in the last bits, the subjects and their split do not)."""
    if data == "pile":  # probed on eeg subjects the pile never saw (a check of learning, not a benchmark)
        from ..data.pile import build_pile
        probe = load("eeg", n=max(64, n // 20), seed=seed + 2)
        ptrain, ptest = probe.split(test_size=0.25, by="subject", seed=seed)
        return Corpus(build_pile(pile, seed=seed), ptrain, ptest)
    if data.lower().startswith(("ucr:", "uea:")):
        train, test = load(data, split="train"), load(data, split="test")
    else:
        ds = load(data, n=n, seed=seed, **({"device": device} if data.startswith("eeg") and device is not None else {}))
        train, test = ds.split(test_size=0.25, by="subject" if "subject" in ds.meta else None, seed=seed)
    probe_train = train if len(train) <= probe_size else train.subset(fraction=probe_size / len(train), seed=seed)
    return Corpus(train, probe_train, test)


def encoder_config(size: str, data: SignalDataset, **overrides) -> EncoderConfig:
    """A preset sized to ``data``, inputs scaled by the data's std (the scale is saved with the weights):
    the per-corpus encoders keep the amplitudes their corpus has (eeg states differ in band power)."""
    return EncoderConfig.preset(size, channels=data.x.shape[1], length=data.x.shape[2], norm="scale",
                                input_scale=round(float(data.x.std()), 4), **overrides)


def foundation_config(size: str, **overrides) -> EncoderConfig:
    """The shape-agnostic encoder of the references: channel-independent, any channel count, series of up
    to 512 samples in patches of 8, each series normalising itself."""
    return EncoderConfig.preset(size, **{**dict(channels=1, length=512, patch_size=8, channel_embed=False,
                                                channel_independent=True), **overrides})


def make_objective(name: str, encoder: Encoder, fs: float = 1.0, data: str = "eeg", **kwargs):
    """The objective ``name`` on ``encoder``; on the pile wrapped in RandomLength (every length, every zoom),
    and contrastive with views made for any series. ``lengths``: the lengths RandomLength draws (pile only).
    ``stream``: the pile's generated families drawn anew every step (FreshSeries; pile only)."""
    lengths, stream = kwargs.pop("lengths", None), kwargs.pop("stream", False)
    if lengths is not None and data != "pile":
        raise ValueError(f"objective: lengths={lengths} choose the window lengths of pile pretraining; data={data!r} "
                         f"trains at its own length (use data='pile', or leave lengths out)")
    if stream and data != "pile":
        raise ValueError(f"objective: stream=True draws the pile's generated families anew; data={data!r} has none "
                         f"(use data='pile', or leave stream out)")
    if name not in BY_NAME:
        raise ValueError(f"objective: unknown {name!r}; choose one of {', '.join(BY_NAME)}")
    if name == "contrastive":
        kwargs.setdefault("fs", fs)
        if data == "pile":
            kwargs.setdefault("augment", "shape")
    obj = BY_NAME[name](encoder, **kwargs)
    if data != "pile":
        return obj
    obj = RandomLength(obj) if lengths is None else RandomLength(obj, lengths=tuple(lengths))
    return FreshSeries(obj) if stream else obj


def run_settings(objective: str, data: str = "eeg", profile: str | None = None, seed: int = 0,
                 steps: int | None = None, size: str | None = None, batch_size: int | None = None,
                 patch_size: int | None = None, pile: str | None = None, **objective_args) -> dict:
    """Everything that determines a run (and so its cache entry). Under torchrun ``batch_size`` is per
    process, and the number of processes is part of the run. ``patch_size``: samples per token of the pile's
    shape-agnostic encoder (default 8); a per-corpus encoder takes its corpus's. ``pile``: the build_pile size
    that data="pile" trains on (default: the profile's)."""
    p = get_profile(profile)
    if objective not in BY_NAME:
        raise ValueError(f"objective: unknown {objective!r}; choose one of {', '.join(BY_NAME)}")
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"pretrain({name}=...): expected a positive int, or None for the profile's default, "
                             f"got {v!r}")
    if patch_size is not None and (data != "pile" or isinstance(patch_size, bool) or not isinstance(patch_size, int)
                                   or not 1 <= patch_size <= 64):
        raise ValueError(f"pretrain(patch_size={patch_size!r}, data={data!r}): a patch size from 1 to 64 samples sets "
                         f"the pile's shape-agnostic encoder; a per-corpus encoder takes its corpus's (leave it out)")
    if pile is not None:
        from ..data.pile import PILE_SIZES
        if data != "pile" or pile not in PILE_SIZES:
            raise ValueError(f"pretrain(pile={pile!r}, data={data!r}): pile chooses the build_pile size of data='pile', "
                             f"one of {', '.join(PILE_SIZES)}; other data leave it out")
    steps = max(10, p.steps // STEP_COST[objective]) if steps is None else steps
    batch_size = (p.batch_size // 2 if objective == "contrastive" else p.batch_size) if batch_size is None else batch_size
    settings = dict(objective=objective, data=data, profile=p.name, seed=seed, n=p.n, size=size or p.size,
                    steps=steps, batch_size=batch_size, lr=p.lr * LR_SCALE.get(objective, 1.0),
                    eval_every=max(1, steps // 5),
                    objective_args=objective_args, format=hub.FORMAT)
    if patch_size is not None:  # only when given: the cache keys of earlier runs stay as they were
        settings["patch_size"] = patch_size
    if pile is not None:
        settings["pile"] = pile
    if distributed.world_size() > 1:  # a different global batch: a different run (single-process keys unchanged)
        settings["processes"] = distributed.world_size()
    return settings


def benchmark_steps(objective: str, profile: str | None = None) -> int:
    """The pretraining steps of a benchmarks/ run of ``objective``: the profile's benchmark_steps divided by the
    objective's BENCHMARK_STEP_COST. The cpu notebooks pretrain for half as long (Profile.steps), to stay within
    minutes; the benchmarks' committed results were made with this budget, and their commands make it again."""
    if objective not in BENCHMARK_STEP_COST:
        raise ValueError(f"benchmark_steps: unknown objective {objective!r}; choose one of "
                         f"{', '.join(BENCHMARK_STEP_COST)}")
    return max(10, get_profile(profile).benchmark_steps // BENCHMARK_STEP_COST[objective])


def describe(settings: dict) -> str:
    """One line of what a run (``run_settings``) really does, for a notebook to print instead of the profile."""
    extra = "".join(f", {k}={v}" for k, v in settings["objective_args"].items())
    return (f"{settings['objective']} on {settings['data']} ({settings['profile']} profile): {settings['size']} encoder, "
            f"{settings['steps']} steps of batch {settings['batch_size']}, lr {settings['lr']:g}, seed "
            f"{settings['seed']}{extra}")


def entry(settings: dict) -> Path:
    name = f"{settings['objective']}-{settings['data'].replace(':', '_')}-{settings['profile']}"
    return cache_dir("pretrained") / hub.cache_key(name, **settings)


def pretrain(objective: str = "mae", data: str = "eeg", profile: str | None = None, seed: int = 0,
             steps: int | None = None, size: str | None = None, progress: bool = True,
             batch_size: int | None = None, out: str | Path | None = None, compile: bool | str = False,
             device=None, **objective_args):
    """Pretrain now; returns (objective module, History with "probe_acc", the online linear-probe accuracy
    on held-out labels). The run checkpoints as it goes (an interrupted one resumes) and its result is
    cached where ``pretrained`` finds it, or written to the folder ``out``. ``compile``: see fit()."""
    s = run_settings(objective, data, profile, seed, steps, size, batch_size, **objective_args)
    return pretrain_from(s, progress=progress, out=out, compile=compile, device=device)


def pretrain_from(s: dict, progress: bool = True, out: str | Path | None = None, compile: bool | str = False,
                  device=None):
    """``pretrain`` of the run that the settings ``s`` (from run_settings) describe; the same return."""
    data, seed, objective_args = s["data"], s["seed"], s["objective_args"]
    dev = torch.device(device) if device is not None else pick_device()
    c = corpus(data, n=s["n"], seed=seed, device=dev if dev.type == "cuda" else None,
               pile=s.get("pile", get_profile(s["profile"]).pile))
    causal = {"causal": True} if s["objective"] == "next-patch" else {}  # it predicts what it must not see
    patch = {"patch_size": s["patch_size"]} if "patch_size" in s else {}
    with seeded(seed):  # the initial weights
        encoder = Encoder(foundation_config(s["size"], **causal, **patch) if data == "pile"
                          else encoder_config(s["size"], c.unlabelled, **causal))
        obj = make_objective(s["objective"], encoder, fs=c.unlabelled.fs, data=data, **objective_args)
    folder = Path(out) if out is not None else entry(s)
    with folder_lock(folder):  # another process training in the same folder finishes first
        hist = fit(obj, c.unlabelled, steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"], seed=seed,
                   progress=progress, eval_every=s["eval_every"], checkpoint=folder / "run.pt", compile=compile,
                   evaluate=online_probe(encoder, c.probe_train, c.probe_test, on_the_way=PROBE_ON_THE_WAY),
                   device=dev)
        if not distributed.is_main():  # the weights are rank 0's too; it alone writes them
            return obj, hist
        # fs beside the settings: pretrained() rebuilds the objective (contrastive's views) at the corpus's rate
        hub.save(encoder, folder / "encoder.safetensors", **s, fs=c.unlabelled.fs, probe_acc=hist.last("probe_acc"))
        with hub.atomic_path(folder / "objective.safetensors") as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in obj.state_dict().items()}, tmp)
        with hub.atomic_path(folder / "history.json") as tmp:  # written last: it marks the entry complete
            Path(tmp).write_text(json.dumps(hist.to_dict()))
        (folder / "run.pt").unlink(missing_ok=True)
    return obj, hist


def pretrained(objective: str = "mae", data: str = "eeg", profile: str | None = None, seed: int = 0,
               steps: int | None = None, size: str | None = None, progress: bool = True, retrain: bool = False,
               **objective_args):
    """The cached result of ``pretrain`` with the same arguments, training it first if needed."""
    s = run_settings(objective, data, profile, seed, steps, size, **objective_args)
    folder = entry(s)
    if retrain or not (folder / "history.json").exists():
        with folder_lock(folder):  # one process trains an entry; another waits here, then loads what it wrote
            if retrain:  # empty the folder, not remove it: the lock is on the folder itself
                for old in folder.iterdir():
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
            if not (folder / "history.json").exists() and (retrain or not committed.install(folder)):
                return pretrain_from(s, progress=progress)
    encoder = _read_entry(folder / "encoder.safetensors", hub.load)
    info = _read_entry(folder / "encoder.safetensors", lambda path: hub.read_config(path)[1])
    if "fs" not in info:  # an entry written before the rate was kept with it: the corpus it trained on has it
        info["fs"] = corpus(data, n=s["n"], seed=seed, pile=s.get("pile", get_profile(s["profile"]).pile)).unlabelled.fs
    obj = make_objective(objective, encoder, fs=info["fs"], data=data, **objective_args)
    _read_entry(folder / "objective.safetensors", lambda path: obj.load_state_dict(load_file(str(path))))
    hist = _read_entry(folder / "history.json", lambda path: History.from_dict(json.loads(path.read_text())))
    say(f"fmlab: loaded the pretrained {objective} ({s['profile']} profile) from {folder}")
    return obj.eval(), hist


def _read_entry(path: Path, read):
    """``read(path)`` for one file of a cache entry; a damaged file (truncated, edited, from another version)
    becomes a ValueError that names it and says how to train the entry again."""
    try:
        return read(path)
    except Exception as e:  # noqa: BLE001 - safetensors, JSON and state_dict errors alike
        raise ValueError(f"pretrained: {path} is damaged ({str(e).splitlines()[0][:200]}); pass retrain=True to "
                         f"train this cache entry again, or delete {path.parent}") from None


def reference_objective(name: str):
    """A committed MAE or masked-spectrum reference with its decoder (fmlab/references/decoders/), in eval mode:
    ``reference_objective("mae-small").reconstruct(x)`` fills in masked patches of any [B, C, T]."""
    encoder = hub.reference(name)
    info = hub.references()[name]
    path = hub.REFERENCES / "decoders" / f"{name}.safetensors"
    if not path.exists():
        raise ValueError(f"reference_objective: {name!r} ships without a decoder (only the MAE and masked-spectrum "
                         f"references have one: {sorted(p.stem for p in path.parent.glob('*.safetensors'))}); use "
                         f"fmlab.hub.reference({name!r}) for its encoder")
    obj = make_objective(info["objective"], encoder)
    obj.decoder.load_state_dict(load_file(str(path)))
    return obj.float().eval()
