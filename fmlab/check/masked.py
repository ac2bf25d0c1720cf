"""Checks for the masked-modelling exercises: the random token mask and the masked MSE (notebook 01), the
spectrum target (notebook 02). References: fmlab.masking, fmlab.pretrain.mae.masked_mse, patch_spectrum."""
from __future__ import annotations

import torch

from ..pretrain.mae import masked_mse as reference_masked_mse
from ..pretrain.spectrum import patch_spectrum
from .harness import CheckFailed, diagnose, run, same, tensor_like


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mask(fn, batch: int, tokens: int, ratio: float, seed: int = 0) -> torch.Tensor:
    """Call the student's mask and insist on a [batch, tokens] bool tensor."""
    got = fn(batch, tokens, ratio, _gen(seed))
    if isinstance(got, tuple):
        raise CheckFailed(f"your function returned a tuple of {len(got)}; return only masked, a [batch, tokens] "
                          f"bool tensor (fmlab's version also returns keep; this exercise does not)")
    got = tensor_like(got, torch.empty(batch, tokens), "masked [batch, tokens]")
    if got.dtype != torch.bool:
        raise CheckFailed(f"your mask has dtype {got.dtype}; return a bool tensor, True where a token is hidden "
                          f"(e.g. torch.zeros(batch, tokens, dtype=torch.bool), then scatter_ True into it)")
    return got


def _count_hint(masked: torch.Tensor, ratio: float, want: int) -> str:
    """What the counts of a wrong mask [batch, tokens] give away: an inverted mask, a truncation, an off-by-one."""
    tokens, counts = masked.shape[1], set(masked.sum(1).tolist())
    if len(counts) > 1:
        return (" (it varies from sample to sample: a mask drawn token by token, as rand < ratio, does that; hide "
                "exactly that many, the first ones of a random order)")
    (k,) = counts
    if k == tokens - want:
        return (f": your mask looks inverted, it hides as many tokens as should stay visible. True must mean HIDDEN: "
                f"mark the first {want} of the random order True (did you return ~masked, or mark the kept ones?)")
    if k == int(ratio * tokens):
        return f": you truncate, int({ratio} * {tokens}) = {k}; round instead, round(ratio * tokens)"
    if abs(k - want) == 1:
        return (f": one {'too many' if k > want else 'too few'} in every sample, an off-by-one; the slice [:, :n] "
                f"takes exactly n, with n = round(ratio * tokens) (no + 1 or - 1)")
    return ""


def _hides(batch: int, tokens: int, ratio: float):
    def case(fn):
        want = round(ratio * tokens)
        masked = _mask(fn, batch, tokens, ratio)
        wrong = [(i, k) for i, k in enumerate(masked.sum(1).tolist()) if k != want]
        if wrong:
            i, k = wrong[0]
            raise CheckFailed(f"with ratio {ratio} your mask hides {k} of {tokens} tokens in sample {i}; expected "
                              f"round({ratio} * {tokens}) = {want} in every sample"
                              f"{_count_hint(masked, ratio, want)}")
    case.__doc__ = f"batch {batch}, {tokens} tokens, ratio {ratio}"
    return case


def _differs_per_sample(fn):
    """batch 8, 16 tokens, ratio 0.5: each sample its own mask"""
    masked = _mask(fn, 8, 16, 0.5)
    if (masked == masked[0]).all():
        hidden = masked[0].nonzero().flatten().tolist()
        raise CheckFailed(f"your mask hides 8 of 16 tokens, as expected — but every sample in the batch hides the "
                          f"same tokens ({hidden}): the token order is not random across the batch; draw the random "
                          f"order per sample (noise of shape [batch, tokens], then argsort along dim 1)")


def _follows_generator(fn):
    """ratio 0.5, generators seeded 0, 0 and 1: the seed decides the mask"""
    a, b, c = _mask(fn, 4, 16, 0.5, seed=0), _mask(fn, 4, 16, 0.5, seed=0), _mask(fn, 4, 16, 0.5, seed=1)
    if not torch.equal(a, b):
        raise CheckFailed("two calls with generators seeded the same gave different masks: draw the noise with "
                          "torch.rand(batch, tokens, generator=generator) so a seed gives the same mask")
    if torch.equal(a, c):
        raise CheckFailed("generators seeded 0 and 1 gave the same mask: draw fresh noise from the generator "
                          "on every call (torch.rand(batch, tokens, generator=generator))")


def _uniform(fn):
    """1600 samples of 16 tokens, ratio 0.25: every token is hidden about as often"""
    counts = sum(_mask(fn, 8, 16, 0.25, seed=100 + i).sum(0) for i in range(200))
    lo, hi = int(counts.argmin()), int(counts.argmax())
    if not 250 <= int(counts.min()) <= int(counts.max()) <= 550:  # 400 expected, std ~17
        raise CheckFailed(f"your mask hides 4 of 16 tokens, as expected — but not at random: over 1600 samples "
                          f"token {hi} was hidden {int(counts[hi])} times and token {lo} {int(counts[lo])} times, "
                          f"where each should be hidden about 400 times; hide the first round(ratio * tokens) of a "
                          f"random order (argsort of torch.rand), not a fixed set")


def random_token_mask(student_fn) -> None:
    """Check ``random_token_mask(batch, tokens, ratio, generator=None) -> masked [batch, tokens] bool``:
    exactly round(ratio * tokens) hidden per sample (ratio 0 and 1 included), chosen per sample, uniformly,
    by the generator. (fmlab.masking.random_token_mask is the package's version for [C, P] tokens per sample; it
    also returns the kept indices.)"""
    cases = [_hides(4, 16, 0.75), _hides(1, 10, 0.66), _hides(3, 7, 0.5), _hides(2, 12, 0.0), _hides(2, 12, 1.0),
             _differs_per_sample, _follows_generator, _uniform]
    if failure := run("random_token_mask", student_fn, cases):
        raise failure


MSE_MISTAKES = [
    (lambda p, t, m: ((p - t) ** 2).mean(-1)[~m].mean(),
     "your loss scores the visible tokens; masked is True where a token is HIDDEN, and MAE scores only those "
     "(copying the visible patches back would be trivial)"),
    (lambda p, t, m: ((p - t) ** 2).mean(),
     "your loss averages over every token, the visible ones included; average over the hidden tokens only "
     "(where masked is True)"),
    (lambda p, t, m: (((p - t) ** 2).mean(-1) * m).mean(),
     "you zero the visible tokens' errors but then divide by the number of all tokens; divide by the number of "
     "hidden ones (masked.sum())"),
    (lambda p, t, m: ((p - t) ** 2).mean(-1)[m].sum(), "your loss is a sum over the hidden tokens; take their mean"),
    (lambda p, t, m: ((p - t) ** 2)[m].sum(),
     "your loss sums every squared error of the hidden tokens; take the mean (over each patch's L values, "
     "then over the hidden tokens)"),
    (lambda p, t, m: ((p - t) ** 2).sum(-1)[m].mean(),
     "you sum the squared errors over each patch's L values; take their mean (.mean(-1)), then average over "
     "the hidden tokens"),
    (lambda p, t, m: (p - t).abs().mean(-1)[m].mean(),
     "your loss uses absolute errors; MAE's is the squared error (pred - target) ** 2"),
]


def _mse_case(batch: int, tokens: int, length: int, hidden: int, seed: int):
    def case(fn):
        g = _gen(seed)
        pred = torch.randn(batch, tokens, length, generator=g, requires_grad=True)
        target = torch.randn(batch, tokens, length, generator=g)
        order = torch.rand(batch, tokens, generator=g).argsort(1)
        masked = torch.zeros(batch, tokens, dtype=torch.bool).scatter_(1, order[:, :hidden], True)
        expected = reference_masked_mse(pred, target, masked)
        got = tensor_like(fn(pred, target, masked), expected, "a single number (a 0-dim tensor): the mean loss")
        if not same(got, expected):
            raise diagnose(got, (pred, target, masked), MSE_MISTAKES,
                           f"your loss is {float(got.detach()):.4f}; expected {float(expected.detach()):.4f} "
                           f"({case.__doc__}): the mean over hidden tokens of each token's mean squared error "
                           f"over its L values")
        if got.grad_fn is None:
            raise CheckFailed("no gradient flows from your loss back to pred (did you use .item(), .detach() or "
                              "torch.no_grad()?); the decoder learns through this loss")
        (grad,) = torch.autograd.grad(got, pred)
        (want,) = torch.autograd.grad(expected, pred)
        if not same(grad, want):
            raise CheckFailed("your loss has the right value but the wrong gradient with respect to pred; the "
                              "visible tokens must get zero gradient, each hidden value "
                              "2 (pred - target) / (hidden * L)")
    case.__doc__ = f"pred, target [{batch}, {tokens}, {length}], {hidden} of {tokens} tokens hidden per sample"
    return case


def masked_mse(student_fn) -> None:
    """Check ``masked_mse(pred [B, N, L], target [B, N, L], masked [B, N] bool) -> scalar``: the squared error
    averaged over each patch's L values, then over the hidden tokens only; gradients reach pred."""
    cases = [_mse_case(4, 16, 8, 12, 0), _mse_case(1, 6, 5, 2, 1), _mse_case(3, 8, 4, 8, 2), _mse_case(2, 9, 1, 1, 3)]
    if failure := run("masked_mse", student_fn, cases):
        raise failure


SPECTRUM_MISTAKES = [
    (lambda p: torch.fft.rfft(p, dim=-1).abs(),
     "your target is the magnitude |rfft| itself; take its log, torch.log(|rfft| + eps), so a weak rhythm counts "
     "as much as a strong one"),
    (lambda p: torch.log(torch.fft.rfft(p, dim=-1).abs()),
     "a patch of zeros gives -inf (log of 0): add eps = 1e-3 inside the log, torch.log(|rfft| + eps)"),
    (lambda p: torch.log(torch.fft.rfft(p, dim=-1).abs()) + 1e-3,
     "a patch of zeros gives -inf: eps goes inside the log, torch.log(|rfft| + eps), not after it"),
    (lambda p: torch.log(torch.fft.rfft(p, dim=-1).abs() ** 2 + 1e-3),
     "you take the log of the power |rfft|²; the target is the log of the magnitude, torch.log(|rfft| + eps)"),
    (lambda p: torch.log10(torch.fft.rfft(p, dim=-1).abs() + 1e-3),
     "you use log10; the target uses the natural log, torch.log"),
    (lambda p: torch.log1p(torch.fft.rfft(p, dim=-1).abs()),
     "you use log1p(|rfft|) = log(1 + |rfft|); the target is torch.log(|rfft| + eps) with eps = 1e-3"),
    (lambda p: torch.log(torch.fft.rfft(p, dim=-1, norm="ortho").abs() + 1e-3),
     "you normalise the FFT (norm='ortho'); use torch.fft.rfft's default, as fmlab does"),
]


def _spectrum_case(batch: int, tokens: int, length: int, seed: int, zero_patch: bool = False):
    def case(fn):
        patches = torch.randn(batch, tokens, length, generator=_gen(seed))
        if zero_patch:
            patches[0, 0] = 0  # a flat patch: |rfft| is 0 in every bin
        expected = patch_spectrum(patches)
        got = fn(patches.clone())
        bins = length // 2 + 1
        if isinstance(got, torch.Tensor) and got.shape[:-1] == expected.shape[:-1] and got.shape[-1] == length != bins:
            raise CheckFailed(f"your target has {length} values per patch, as the full FFT; use torch.fft.rfft: a real "
                              f"signal's spectrum is symmetric, so L // 2 + 1 = {bins} bins hold all of it")
        got = tensor_like(got, expected, "[B, N, L // 2 + 1]: one spectrum per patch, over its last dimension")
        if torch.is_complex(got):
            raise CheckFailed("your target is complex; take the magnitude (.abs()) of the rFFT, then its log")
        if not same(got, expected, atol=1e-4):
            raise diagnose(got, (patches,), SPECTRUM_MISTAKES,
                           f"your target differs from log(|rfft(patch)| + 1e-3) ({case.__doc__}); largest difference "
                           f"{float((got - expected).abs().max()):.3g}")
    case.__doc__ = f"patches [{batch}, {tokens}, {length}]" + (", the first one all zeros" if zero_patch else "")
    return case


def spectrum_target(student_fn) -> None:
    """Check ``spectrum_target(patches [B, N, L]) -> [B, N, L // 2 + 1]``: log(|rfft| + 1e-3) of each patch,
    for even and odd L, a batch of one, and a patch of zeros (which must stay finite)."""
    cases = [_spectrum_case(2, 5, 16, 0), _spectrum_case(3, 4, 15, 1), _spectrum_case(1, 3, 8, 2),
             _spectrum_case(2, 4, 16, 3, zero_patch=True)]
    if failure := run("spectrum_target", student_fn, cases):
        raise failure
