"""fmlab's LoRA and Hugging Face PEFT's LoRA are the same update, so a task moves between them.

    peft_model = fmlab.adapt.to_peft(clf)                # a peft.PeftModel with clf's outputs
    peft_model.print_trainable_parameters()
    peft_model.save_pretrained("task-peft")              # adapter_config.json + adapter_model.safetensors
    clf = fmlab.adapt.from_peft("task-peft", enc, num_classes=4)   # fmlab's LoRA again, the same outputs
    clf = fmlab.adapt.from_peft(peft_model)              # or straight from a PeftModel around a Classifier

Why they agree: the encoder's attention and MLP layers are plain nn.Linear, which PEFT's LoRA wraps as
``W x + b + (lora_alpha / r) B A x`` with A [r, in] and B [out, r]: fmlab's LoRALinear term for term (its
lora_A, lora_B and alpha / rank). PEFT wraps the whole Classifier, LoRA on the same layers, and keeps the head
as a module to save (``modules_to_save=["head"]``), so the saved adapter holds the head, as fmlab's delta does.

What PEFT can express and fmlab's LoRA cannot (ranks per layer, rsLoRA, DoRA, trained biases, LoRA on layers
other than whole q / k / v / out / mlp sets) makes from_peft stop with a ValueError. PEFT does not check that
an adapter is loaded on the encoder it was trained on (fmlab's load_delta does): load it on the same one.

peft is optional (``pip install "fmlab[peft]"``) and imported only when these functions run.
"""
from __future__ import annotations

import copy
import os

import torch

from ..models import Encoder
from .base import Classifier
from .lora import TARGETS, LoRA, LoRALinear, lora_paths

ADAPTER = "default"  # PEFT's name for a model's first adapter


def _peft():
    try:
        import peft
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError('fmlab.adapt.to_peft / from_peft need PEFT: pip install "fmlab[peft]" '
                                  '(or pip install peft)') from e
    return peft


def to_peft(clf: LoRA):
    """A ``peft.PeftModel`` around a copy of ``clf``'s base encoder and head, with PEFT's LoRA on the same
    layers holding ``clf``'s A and B; it gives clf's outputs. ``clf`` itself is not changed."""
    peft = _peft()
    if not isinstance(clf, LoRA):
        raise ValueError(f"to_peft: expected an fmlab LoRA classifier (fmlab.adapt.lora(...)), got "
                         f"{type(clf).__name__}; only LoRA has a PEFT LoRA form")
    layers = {name: m for name, m in clf.named_modules() if isinstance(m, LoRALinear)}
    if any(m.merged for m in layers.values()):
        raise ValueError("to_peft: the LoRA updates are merged into the base weights, and PEFT keeps them apart; "
                         "call clf.unmerge() first")
    encoder = Encoder(clf.config).to(clf.head.linear.weight.device)
    state = clf.encoder.state_dict()
    encoder.load_state_dict({k: state[k] for k in clf.base_keys})  # LoRALinear keeps its base tensors' names
    base = Classifier(encoder, clf.num_classes, clf.classes)
    base.head.load_state_dict(clf.head.state_dict())
    config = peft.LoraConfig(r=clf.arguments["rank"], lora_alpha=clf.arguments["alpha"], lora_dropout=0.0,
                             target_modules=sorted(layers), bias="none", modules_to_save=["head"])
    model = peft.get_peft_model(base, config)
    with torch.no_grad():
        for name, ours in layers.items():
            theirs = model.get_base_model().get_submodule(name)
            theirs.lora_A[ADAPTER].weight.copy_(ours.lora_A)
            theirs.lora_B[ADAPTER].weight.copy_(ours.lora_B)
    return model.train(clf.training)


def from_peft(source, encoder: Encoder | None = None, num_classes: int | None = None,
              classes: list[str] | None = None) -> LoRA:
    """fmlab's LoRA classifier from PEFT's: ``source`` is a ``peft.PeftModel`` around an fmlab Classifier, or a
    folder written by its ``save_pretrained``, then loaded on a copy of ``encoder`` with ``num_classes``."""
    peft = _peft()
    if isinstance(source, (str, os.PathLike)):
        if encoder is None or num_classes is None:
            raise ValueError(f"from_peft: a saved adapter ({source}) needs the encoder it was trained on and the "
                             f"number of classes: from_peft(path, encoder, num_classes=...)")
        source = peft.PeftModel.from_pretrained(Classifier(copy.deepcopy(encoder), num_classes, classes), source)
    inner = source.get_base_model() if isinstance(source, peft.PeftModel) else None
    if not isinstance(inner, Classifier):
        raise ValueError(f"from_peft: expected a peft.PeftModel around an fmlab.adapt.Classifier, got "
                         f"{type(source).__name__}{f' around {type(inner).__name__}' if inner is not None else ''}; "
                         f"wrap the classifier: get_peft_model(Classifier(encoder, num_classes), LoraConfig(...))")
    config = source.peft_config[source.active_adapter]
    if not isinstance(config, peft.LoraConfig):
        raise ValueError(f"from_peft: the adapter is {type(config).__name__}, not PEFT's LoRA (LoraConfig); only "
                         f"LoRA has an fmlab form")
    _check_config(config)
    theirs = {name: m for name, m in inner.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer)}
    plain = copy.deepcopy(source).unload()  # the Classifier with plain nn.Linear layers and the adapted head
    clf = LoRA(plain.encoder, plain.num_classes, plain.classes, rank=config.r, alpha=config.lora_alpha,
               targets=_targets(plain.encoder, theirs))
    clf.head.load_state_dict(plain.head.state_dict())
    with torch.no_grad():
        for name, layer in theirs.items():
            ours = clf.get_submodule(name)
            ours.lora_A.copy_(layer.lora_A[source.active_adapter].weight)
            ours.lora_B.copy_(layer.lora_B[source.active_adapter].weight)
    return clf.train(source.training)


def _check_config(config) -> None:
    """Refuse the PEFT options that fmlab's LoRA (one rank and alpha, plain B A, frozen biases) cannot hold."""
    unsupported = {f"ranks per layer (rank_pattern={config.rank_pattern})": bool(config.rank_pattern),
                   f"alphas per layer (alpha_pattern={config.alpha_pattern})": bool(config.alpha_pattern),
                   "rsLoRA (use_rslora=True)": config.use_rslora,
                   "DoRA (use_dora=True)": getattr(config, "use_dora", False),
                   f"trained biases (bias={config.bias!r})": config.bias != "none"}
    if found := [what for what, used in unsupported.items() if used]:
        raise ValueError(f"from_peft: the PEFT adapter uses {', '.join(found)}, which fmlab's LoRA does not have; "
                         f"train it with one r and lora_alpha, bias='none', no rsLoRA or DoRA")


def _targets(encoder: Encoder, layers: dict) -> tuple[str, ...]:
    """fmlab's targets (("q", "v"), ...) that put LoRA on exactly ``layers`` (names like "encoder.blocks.0.attn.q")."""
    names = set(layers)
    targets = tuple(t for t in TARGETS if {f"encoder.{p}" for p in lora_paths(encoder, t)} <= names)
    covered = {f"encoder.{p}" for p in lora_paths(encoder, targets)} if targets else set()
    if covered != names:
        raise ValueError(f"from_peft: PEFT's LoRA sits on {sorted(names - covered) or sorted(names)}, but fmlab's "
                         f"LoRA takes whole sets of layers in every block: any of {TARGETS} ('mlp' is fc1 and fc2); "
                         f"use target_modules such as ['q', 'v'] or ['q', 'k', 'v', 'out']")
    return targets
