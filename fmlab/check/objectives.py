"""Checks for the NT-Xent exercise (notebook 03) and the EMA update (notebook 04).
References: fmlab.pretrain.contrastive.nt_xent, fmlab.pretrain.ema.ema_update."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..pretrain.contrastive import nt_xent as reference_nt_xent
from ..pretrain.ema import ema_update as reference_ema_update
from ..train import seeded
from .harness import CheckFailed, diagnose, run, same, tensor_like


def _xent(z1, z2, t, normalise=True, diagonal=True, partner="swap", anchors="all", reduction="mean"):
    """NT-Xent with one thing changed: the plausible wrong versions a student might write."""
    b = len(z1)
    z = torch.cat([z1, z2])
    z = F.normalize(z, dim=-1) if normalise else z
    logits = z @ z.T / t
    if diagonal:
        logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
    targets = {"swap": torch.cat([torch.arange(b, 2 * b), torch.arange(b)]), "self": torch.arange(2 * b),
               "same_half": torch.cat([torch.arange(b), torch.arange(b)])}[partner]
    if anchors == "first":
        logits, targets = logits[:b], targets[:b]
    return F.cross_entropy(logits, targets, reduction=reduction)


def _cross_only(z1, z2, t):
    u1, u2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    return F.cross_entropy(u1 @ u2.T / t, torch.arange(len(z1)))


def _cross_only_symmetric(z1, z2, t):
    return (_cross_only(z1, z2, t) + _cross_only(z2, z1, t)) / 2


MISINDEXED = ("your positives are mis-indexed: some views are sent to themselves (target i for view i), which the -inf "
              "diagonal rules out, so the loss is inf; view i's partner is view i + B, and view i + B's is view i: "
              "targets torch.cat([torch.arange(B, 2 * B), torch.arange(B)])")

XENT_MISTAKES = [
    (lambda z1, z2, t: _xent(z1, z2, 1.0),
     "your loss matches NT-Xent without the temperature: divide the cosine similarities by temperature before "
     "the softmax (a small temperature sharpens it)"),
    (lambda z1, z2, t: _xent(z1, z2, 1 / t),
     "you multiply the similarities by temperature; divide them by it"),
    (lambda z1, z2, t: _xent(z1, z2, t, normalise=False),
     "you use dot products, not cosine similarities: put every embedding on the unit sphere first "
     "(F.normalize(z, dim=-1))"),
    (lambda z1, z2, t: _xent(z1, z2, t, diagonal=False),
     "each view still competes with itself, and its similarity to itself is the largest: set the diagonal of the "
     "logits to -inf (logits.fill_diagonal_(float('-inf'))) before the cross-entropy"),
    (lambda z1, z2, t: _xent(z1, z2, t, partner="self"), MISINDEXED),
    (lambda z1, z2, t: _xent(z1, z2, t, partner="same_half"), MISINDEXED),
    (lambda z1, z2, t: _xent(z1, z2, t, diagonal=False, partner="self"),
     "your positives point at each view itself, and the diagonal is not removed, so every view finds 'itself'; "
     "view i's partner is view i + B (targets torch.cat([torch.arange(B, 2 * B), torch.arange(B)])) and the "
     "diagonal must be -inf"),
    (lambda z1, z2, t: _xent(z1, z2, t, anchors="first"),
     "your loss uses only the first B views as anchors; NT-Xent averages over all 2B (each view of z2 must also "
     "find its partner in z1)"),
    (_cross_only, "you compare the views of z1 only with those of z2 (B - 1 negatives each); in NT-Xent every "
                  "view competes with all 2B - 1 others, the other views of its own side too: concatenate z1 and "
                  "z2 into [2B, d] first"),
    (_cross_only_symmetric, "you compare the views of z1 only with those of z2 (in both directions); in NT-Xent "
                            "every view competes with all 2B - 1 others: concatenate z1 and z2 into [2B, d] first"),
    (lambda z1, z2, t: _xent(z1, z2, t, reduction="sum"), "your loss is a sum over the 2B views; take the mean"),
]


def _xent_case(batch: int, dim: int, temperature: float, seed: int, scale: float = 1.0):
    def case(fn):
        g = torch.Generator().manual_seed(seed)
        z1 = (scale * torch.randn(batch, dim, generator=g)).requires_grad_()
        z2 = (scale * torch.randn(batch, dim, generator=g)).requires_grad_()
        expected = reference_nt_xent(z1, z2, temperature)
        got = tensor_like(fn(z1, z2, temperature), expected, "a single number (a 0-dim tensor): the mean loss")
        if not same(got, expected, atol=1e-4):
            raise diagnose(got, (z1, z2, temperature), XENT_MISTAKES,
                           f"your loss is {float(got.detach()):.4f}; expected {float(expected.detach()):.4f} "
                           f"({case.__doc__})")
        if got.grad_fn is None:
            raise CheckFailed("no gradient flows from your loss to z1 and z2 (.item(), .detach() or torch.no_grad()?); "
                              "the encoder learns through this loss")
        grads = torch.autograd.grad(got, (z1, z2), allow_unused=True)
        wants = torch.autograd.grad(expected, (z1, z2))
        for name, grad, want in zip(("z1", "z2"), grads, wants):
            if grad is None or not same(grad, want, atol=1e-4):
                raise CheckFailed(f"your loss has the right value but the wrong gradient with respect to {name} "
                                  f"({case.__doc__}); build it from z1 and z2 without detaching either")
    case.__doc__ = f"z1, z2 [{batch}, {dim}], temperature {temperature}" + (f", times {scale}" if scale != 1 else "")
    return case


def nt_xent_loss(student_fn) -> None:
    """Check ``nt_xent_loss(z1 [B, d], z2 [B, d], temperature) -> scalar`` against fmlab's: value and gradients, for
    a few temperatures, unnormalised inputs and a batch of one (where the loss is exactly 0)."""
    cases = [_xent_case(8, 16, 0.1, 0), _xent_case(5, 4, 0.5, 1), _xent_case(6, 8, 0.2, 2, scale=10.0),
             _xent_case(1, 8, 0.1, 3)]
    if failure := run("nt_xent_loss", student_fn, cases):
        raise failure


def _pair(seed: int) -> tuple[nn.Module, nn.Module]:
    """An online model that trains (requires grad) and its frozen target, a different set of weights."""
    with seeded(seed), torch.no_grad():
        online = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 3))
        target = copy.deepcopy(online).requires_grad_(False)
        for q in target.parameters():
            q.add_(torch.randn_like(q))
    return target, online


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [q.detach().clone() for q in module.parameters()]


def _ema_case(momentum: float, steps: int = 1, seed: int = 0):
    def case(fn):
        target, online = _pair(seed)
        want_target = copy.deepcopy(target)
        for step in range(steps):
            before_t, before_o = _weights(target), _weights(online)
            fn(target, online, momentum)
            reference_ema_update(want_target, online, momentum)
            if any(not torch.equal(q, q0) for q, q0 in zip(_weights(online), before_o)):
                raise CheckFailed("your update changed the online model's weights; only the target moves (the online "
                                  "model learns by gradients)")
            if any(q.requires_grad or q.grad_fn is not None for q in target.parameters()):
                raise CheckFailed("after your update the target's parameters carry gradient history (requires_grad="
                                  "True): do the update under torch.no_grad() (or decorate the function with "
                                  "@torch.no_grad()); the target moves only by the average, never by gradients")
            got, want = _weights(target), _weights(want_target)
            if all(same(a, b) for a, b in zip(got, want)):
                with torch.no_grad():  # the online model trains between steps
                    for q in online.parameters():
                        q.add_(0.1 * torch.randn_like(q))
                continue
            m = momentum
            if all(torch.equal(a, b) for a, b in zip(got, before_t)):
                raise CheckFailed(f"your function left the target's weights unchanged (momentum {m}); update them in "
                                  f"place, t.mul_(m).add_(o, alpha=1 - m): assigning a new tensor to a loop variable "
                                  f"changes nothing")
            swapped = [m * o + (1 - m) * t for t, o in zip(before_t, before_o)]
            if all(same(a, b) for a, b in zip(got, swapped)):
                raise CheckFailed(f"the weights are swapped: with m = {m} the target keeps {m:.0%} of its own weights "
                                  f"and takes {1 - m:.0%} of the online ones, t <- m * t + (1 - m) * o; yours computes "
                                  f"m * o + (1 - m) * t")
            if all(same(a, b) for a, b in zip(got, before_o)):
                raise CheckFailed(f"your target became a copy of the online model; with m = {m} it should keep "
                                  f"{m:.0%} of its own weights: t <- m * t + (1 - m) * o")
            worst = max(float((a - b).abs().max()) for a, b in zip(got, want))
            raise CheckFailed(f"after step {step + 1} the target's weights differ from m * t + (1 - m) * o by up to "
                              f"{worst:.3g} ({case.__doc__})")
    case.__doc__ = f"momentum {momentum}, {steps} step{'s' if steps > 1 else ''}"
    return case


def ema_step(student_fn) -> None:
    """Check ``ema_step(target, online, momentum) -> None``: every target parameter becomes
    m * target + (1 - m) * online in place, without gradient history; the online model is untouched;
    momentum 1 keeps the target, 0 copies the online model."""
    cases = [_ema_case(0.9), _ema_case(0.996, steps=3, seed=1), _ema_case(1.0, seed=2), _ema_case(0.0, seed=3)]
    if failure := run("ema_step", student_fn, cases):
        raise failure
