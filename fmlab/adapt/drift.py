"""How far adaptation moved the weights, and how low-rank full fine-tuning's own change is (LoRA's bet).

    change = weight_change(encoder, {"full_finetune": ft, "lora": lo}, rank=4)
    change["relative"]       # {"full_finetune": 0.22, "lora": 0.97}: |dW| / |W| over the q and v projections
    change["rank_share"]     # how much of full fine-tuning's dW its best rank-4 approximation holds, e.g. 0.31
    change["random_share"]   # the same for a random matrix of that shape: what "not low-rank" looks like
    weight_change_sentences(change)   # what those numbers say, for a notebook to print
"""
from __future__ import annotations

import math

import torch

from ..models import Encoder
from .base import Classifier


def effective_weight(module: torch.nn.Module) -> torch.Tensor:
    """The weight a linear layer applies: its own, plus LoRA's (alpha / r) B A while unmerged."""
    w = module.weight.detach()
    if hasattr(module, "lora_A") and not module.merged:
        w = w + module.scale * (module.lora_B @ module.lora_A).detach()
    return w.cpu()


def rank_share(w: torch.Tensor, rank: int) -> float:
    """Share of ``w``'s squared norm that its best rank-``rank`` approximation holds (the top singular values)."""
    s = torch.linalg.svdvals(w.float()).pow(2)
    return float(s[:rank].sum() / s.sum()) if s.sum() > 0 else float("nan")


def weight_change(base: Encoder, adapted: dict[str, Classifier], targets=("q", "v"), rank: int = 4,
                  seed: int = 0) -> dict:
    """|dW| / |W| per strategy over the attention projections ``targets`` of every block (dW: the adapted
    model's effective weight minus the base's), and, for full fine-tuning when present, the share of its dW that
    rank ``rank`` holds, beside that share for a random matrix of the same shape."""
    layers = [f"blocks.{i}.attn.{t}" for i in range(len(base.blocks)) for t in targets]
    w0 = {k: base.get_submodule(k).weight.detach().cpu() for k in layers}
    norm = lambda ws: math.sqrt(sum(float(w.pow(2).sum()) for w in ws))
    out = {"layers": len(layers), "rank": rank, "relative": {}}
    for name, clf in adapted.items():
        dw = [effective_weight(clf.encoder.get_submodule(k)) - w0[k] for k in layers]
        out["relative"][name] = norm(dw) / norm(w0.values())
        if name == "full_finetune":
            out["rank_share"] = sum(rank_share(w, rank) for w in dw) / len(dw)
    g = torch.Generator().manual_seed(seed)
    out["random_share"] = rank_share(torch.randn(w0[layers[0]].shape, generator=g), rank)
    return out


def weight_change_sentences(change: dict, moved: float = 0.05) -> list[str]:
    """What weight_change() says: whether LoRA's update left zero (|dW| / |W| above ``moved``), and whether full
    fine-tuning's change is low-rank (its rank-r share against a random matrix's)."""
    rel, out = change["relative"], []
    if "lora" in rel:
        others = ", ".join(f"{k} {v:.0%}" for k, v in rel.items() if k != "lora")
        far = rel["lora"] >= moved
        out.append(f"LoRA changed q and v by {rel['lora']:.0%} of their size ({others}): "
                   + ("B is far from zero, so the run was long enough to move it" if far else
                      f"under {moved:.0%}, B is still near zero: the run was too short to move it"))
    if "rank_share" in change:
        share, rand, r = change["rank_share"], change["random_share"], change["rank"]
        kind = ("mostly low-rank, as LoRA bets" if share >= 0.5 else
                "more low-rank than a random change, but most of it lies beyond rank " + str(r) if share >= 2 * rand
                else "no more low-rank than a random change")
        out.append(f"full fine-tuning's own change holds {share:.0%} of its size in its best rank-{r} part (a random "
                   f"change of that shape: {rand:.0%}): {kind}")
    return out
