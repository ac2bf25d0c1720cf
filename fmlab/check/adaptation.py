"""Checks for the adaptation exercises of notebook 06: the LoRA forward and the prompt prepend.
References: fmlab.adapt.lora.LoRALinear, and the [CLS | prompts | signal] order of fmlab.models.Encoder."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..adapt.lora import LoRALinear
from .harness import CheckFailed, diagnose, run, same, tensor_like


def _lora_reference(x, weight, bias, A, B, alpha):
    """fmlab's LoRALinear around these very tensors, so gradients reach A and B as in training."""
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    linear.weight, linear.bias = nn.Parameter(weight, requires_grad=False), nn.Parameter(bias, requires_grad=False)
    layer = LoRALinear(linear, A.shape[0], alpha)
    layer.lora_A, layer.lora_B = A, B
    return layer(x)


LORA_MISTAKES = [
    (lambda x, w, b, A, B, alpha: F.linear(x, w, b) + x @ A.T @ B.T,
     "your update is not scaled: multiply B A x by alpha / r (r = A.shape[0], the rank), as LoRA does"),
    (lambda x, w, b, A, B, alpha: F.linear(x, w, b) + alpha * (x @ A.T @ B.T),
     "you scale the update by alpha; LoRA scales it by alpha / r (r = A.shape[0], the rank)"),
    (lambda x, w, b, A, B, alpha: F.linear(x, w, b) + A.shape[0] / alpha * (x @ A.T @ B.T),
     "you scale the update by r / alpha; LoRA scales it by alpha / r"),
    (lambda x, w, b, A, B, alpha: F.linear(x, w, b) + alpha / A.shape[1] * (x @ A.T @ B.T),
     "you divide alpha by A.shape[1], the input size; r is the rank, A.shape[0] (A is [r, in])"),
    (lambda x, w, b, A, B, alpha: F.linear(x, w) + alpha / A.shape[0] * (x @ A.T @ B.T),
     "your output misses the frozen layer's bias b: W x + b + (alpha / r) B A x"),
    (lambda x, w, b, A, B, alpha: alpha / A.shape[0] * (x @ A.T @ B.T),
     "your output is only the low-rank update; add the frozen layer's own output W x + b"),
]


def _lora_case(shape: tuple, out_f: int, rank: int, alpha: float, seed: int, zero_b: bool = False):
    def case(fn):
        g = torch.Generator().manual_seed(seed)
        in_f = shape[-1]
        x = torch.randn(*shape, generator=g, requires_grad=True)
        weight, bias = torch.randn(out_f, in_f, generator=g), torch.randn(out_f, generator=g)
        A = nn.Parameter(torch.randn(rank, in_f, generator=g))
        B = nn.Parameter(torch.zeros(out_f, rank) if zero_b else torch.randn(out_f, rank, generator=g))
        expected = _lora_reference(x, weight, bias, A, B, alpha)
        got = tensor_like(fn(x, weight.clone(), bias.clone(), A, B, alpha), expected,
                          f"[..., out] = {tuple(expected.shape)}, the same leading dimensions as x")
        if not same(got, expected, atol=1e-4):
            more = " (with B = 0 the layer must give exactly W x + b)" if zero_b else ""
            raise diagnose(got, (x, weight, bias, A, B, alpha), LORA_MISTAKES,
                           f"your output differs from W x + b + (alpha / r) B A x by up to "
                           f"{float((got - expected).detach().abs().max()):.3g} ({case.__doc__}){more}")
        grads = torch.autograd.grad(got.sum(), (A, B, x), allow_unused=True)
        wants = torch.autograd.grad(expected.sum(), (A, B, x))
        for name, grad, want in zip(("A", "B", "x"), grads, wants):
            if grad is None or not same(grad, want, atol=1e-3):
                raise CheckFailed(f"no correct gradient reaches {name} ({case.__doc__}); compute the update from A, "
                                  f"B and x directly (no .detach(), no torch.no_grad()): A and B are what LoRA trains")
    case.__doc__ = (f"x {list(shape)}, a layer {shape[-1]} -> {out_f}, rank {rank}, alpha {alpha}"
                    + (", B = 0 (as at the start of training)" if zero_b else ""))
    return case


def lora_forward(student_fn) -> None:
    """Check ``lora_forward(x [..., in], weight [out, in], bias [out], A [r, in], B [out, r], alpha) -> [..., out]``:
    W x + b + (alpha / r) B A x, as fmlab's LoRALinear; tokens or a batch of one; gradients reach A, B and x."""
    cases = [_lora_case((2, 5, 12), 10, 4, 8.0, 0), _lora_case((3, 6), 6, 2, 1.0, 1),
             _lora_case((1, 12), 10, 4, 8.0, 2, zero_b=True), _lora_case((2, 3, 8), 4, 1, 4.0, 3)]
    if failure := run("lora_forward", student_fn, cases):
        raise failure


PROMPT_MISTAKES = [
    (lambda cls, p, t: torch.cat([cls.expand(len(t), -1, -1), t, p.expand(len(t), -1, -1)], 1),
     "your prompts come after the signal tokens; they go right after CLS: [CLS | prompts | signal tokens] "
     "(so that every signal token attends to them from the first block)"),
    (lambda cls, p, t: torch.cat([p.expand(len(t), -1, -1), cls.expand(len(t), -1, -1), t], 1),
     "your prompts come before CLS; CLS stays at position 0, where pooling reads it, and the prompts follow it: "
     "[CLS | prompts | signal tokens]"),
    (lambda cls, p, t: torch.cat([cls.expand(len(t), -1, -1), p.flip(0).expand(len(t), -1, -1), t], 1),
     "your prompts are in reverse order; keep them as given: prompts[0] right after CLS"),
]


def _prompt_case(batch: int, prompts: int, tokens: int, dim: int, seed: int):
    def case(fn):
        g = torch.Generator().manual_seed(seed)
        cls = torch.randn(1, 1, dim, generator=g, requires_grad=True)
        p = torch.randn(prompts, dim, generator=g, requires_grad=True)
        signal = torch.randn(batch, tokens, dim, generator=g, requires_grad=True)
        expected = torch.cat([cls.expand(batch, -1, -1), p.expand(batch, -1, -1), signal], dim=1)
        got = fn(cls, p, signal)
        n = got.shape[1] if isinstance(got, torch.Tensor) and got.dim() == 3 and got.shape[0] == batch else None
        if n is not None and n != 1 + prompts + tokens:
            missing = ("CLS is missing" if n == prompts + tokens else "the prompts are missing" if n == 1 + tokens
                       else f"expected 1 + {prompts} + {tokens}")
            raise CheckFailed(f"your output has {n} tokens per sample: {missing}; build [CLS | prompts | signal "
                              f"tokens], 1 + M + N = {1 + prompts + tokens} tokens")
        got = tensor_like(got, expected, "[B, 1 + M + N, D]: CLS, then the M prompts, then the N signal tokens")
        if not same(got, expected):
            raise diagnose(got, (cls, p, signal), PROMPT_MISTAKES,
                           f"your output is not [CLS | prompts | signal tokens] ({case.__doc__}); every sample gets "
                           f"the same CLS and the same prompts, then its own signal tokens")
        grads = torch.autograd.grad((got * expected.detach()).sum(), (p, cls, signal), allow_unused=True)
        wants = torch.autograd.grad((expected * expected.detach()).sum(), (p, cls, signal))
        for name, grad, want in zip(("the prompts", "the CLS token", "the signal tokens"), grads, wants):
            if grad is None or not same(grad, want):
                raise CheckFailed(f"no correct gradient reaches {name} ({case.__doc__}); join the tensors with "
                                  f"torch.cat (expand is fine), without .detach() or copying values in by hand")
    case.__doc__ = f"batch {batch}, {prompts} prompts, {tokens} signal tokens of dim {dim}"
    return case


def prepend_prompts(student_fn) -> None:
    """Check ``prepend_prompts(cls_token [1, 1, D], prompts [M, D], tokens [B, N, D]) -> [B, 1 + M + N, D]``:
    [CLS | prompts | signal tokens] for every sample, gradients reaching the prompts; a batch of one, one prompt."""
    cases = [_prompt_case(3, 4, 6, 5, 0), _prompt_case(1, 1, 4, 8, 1), _prompt_case(2, 3, 3, 4, 2)]
    if failure := run("prepend_prompts", student_fn, cases):
        raise failure
