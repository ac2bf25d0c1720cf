"""Checks for the feature exercises: the effective rank of features (notebook 05) and the mean+max pooling of
tokens (notebook 09). References: fmlab.evaluate.effective_rank, fmlab.models.pool_patches."""
from __future__ import annotations

import math

import torch

from ..evaluate_geometry import effective_rank as reference_rank
from ..models import pool_patches
from .harness import CheckFailed, diagnose, run, same, tensor_like


def _rank(z, centre: str = "features", power: int = 1, normalise: bool = True, log=torch.log, exp: bool = True):
    """The effective rank with one thing changed: the plausible wrong versions a student might write."""
    z = {"features": z - z.mean(0), "samples": z - z.mean(1, keepdim=True), "none": z}[centre]
    s = torch.linalg.svdvals(z) ** power
    q = s / s.sum() if normalise else s
    entropy = -(q * log(q)).sum()
    return float(entropy.exp() if exp else entropy)


RANK_MISTAKES = [
    (lambda z: _rank(z, centre="none"),
     "you do not centre Z: subtract the mean feature first, Z - Z.mean(0), or the offset of the whole cloud counts "
     "as a direction of its own"),
    (lambda z: _rank(z, centre="samples"),
     "you centre each row (the mean over a sample's D features); centre each feature over the N samples: "
     "Z - Z.mean(0)"),
    (lambda z: _rank(z, power=2),
     "you use the squared singular values (the covariance's eigenvalues); RankMe's distribution is of the singular "
     "values themselves, q = s / s.sum()"),
    (lambda z: _rank(z, exp=False), "you return the entropy of q; the effective rank is its exp, torch.exp(entropy)"),
    (lambda z: _rank(z, log=torch.log2),
     "your entropy is in bits (log2) but you take exp of it; use the natural log with exp (or 2 ** the entropy in "
     "bits)"),
    (lambda z: _rank(z, normalise=False),
     "you take the entropy of the singular values themselves; turn them into a distribution first, q = s / s.sum()"),
    (lambda z: float(torch.linalg.matrix_rank(z - z.mean(0))),
     "you count the directions (the matrix rank); the effective rank weighs each by its share of the spread: "
     "exp of the entropy of q = s / s.sum()"),
]


def _number(got, what: str) -> float:
    """``got`` as a float: a Python number, or a tensor (or NumPy value) holding one."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        return float(got.detach())
    try:
        return float(got)
    except (TypeError, ValueError, RuntimeError):
        shape = f" of shape {tuple(got.shape)}" if hasattr(got, "shape") else ""
        raise CheckFailed(f"your function returned a {type(got).__name__}{shape}; it should return {what}, a single "
                          f"number (a float, or a tensor holding one)") from None


def _mistake_value(wrong, z) -> float:
    try:
        return wrong(z)
    except (RuntimeError, ValueError):  # a mistake that cannot run on these features is not this one
        return math.nan


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)


def _rank_case(z_of, label: str, seed: int, collapsed: bool = False):
    def case(fn):
        z = z_of(torch.Generator().manual_seed(seed))
        given = z.clone()
        want = reference_rank(z)
        got = _number(fn(given), "the effective rank")
        if not torch.equal(given, z):
            raise CheckFailed("your function changed Z in place (Z -= ... or a sub_); compute Z - Z.mean(0) into a new "
                              "tensor: the caller's features must stay as they were")
        if _close(got, want):
            return
        if math.isnan(got):
            raise CheckFailed(f"your effective rank is nan ({label}). A zero singular value gives 0 * log 0 = nan "
                              + ("and here every one is zero, so s / s.sum() is 0 / 0: " if collapsed else ": ")
                              + "guard the sum (s / s.sum().clamp_min(1e-12)) and count 0 log 0 as 0 "
                                "(torch.special.entr(q) is -q log q with exactly that rule)")
        for wrong, message in RANK_MISTAKES:
            if _close(got, _mistake_value(wrong, z)):
                raise CheckFailed(f"{message} ({label}: yours is {got:.4g}, expected {want:.4g})")
        raise CheckFailed(f"your effective rank is {got:.4g}; expected {want:.4g} ({label}): exp of the entropy of "
                          f"q = s / s.sum(), s the singular values of Z - Z.mean(0)")
    case.__doc__ = label
    return case


def rankme(student_fn) -> None:
    """Check ``rankme(Z [N, D]) -> float``: exp of the entropy of the normalised singular values of the centred
    features, as fmlab.evaluate.effective_rank; fewer samples than features, a low-rank cloud, a collapsed one (1)."""
    spread = torch.linspace(0.2, 3.0, 8)
    cases = [_rank_case(lambda g: 5 + torch.randn(64, 8, generator=g) * spread, "Z [64, 8], offset by 5", 0),
             _rank_case(lambda g: torch.randn(6, 16, generator=g), "Z [6, 16], fewer samples than features", 1),
             _rank_case(lambda g: 2 + torch.randn(40, 3, generator=g) @ torch.randn(3, 12, generator=g),
                        "Z [40, 12] of rank 3", 2),
             _rank_case(lambda g: torch.randn(1, 5, generator=g).expand(10, 5).clone(),
                        "Z [10, 5], every row the same: collapsed, rank 1", 3, collapsed=True)]
    if failure := run("rankme", student_fn, cases):
        raise failure


def _with_cls(valid):
    return None if valid is None else torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)


def _weights(tokens, valid):
    h = tokens[:, 1:]
    return h, torch.ones_like(h[..., :1]) if valid is None else valid[..., None].to(h.dtype)


def _masked_max(h, w):
    return h.masked_fill(w == 0, float("-inf")).amax(1)


def _masked_mean(h, w):
    return (h * w).sum(1) / w.sum(1)


POOL_MISTAKES = [
    (lambda t, v: pool_patches(t, _with_cls(v), "mean+max"),
     "your pooling includes the CLS token, tokens[:, 0]; pool the patch tokens only, tokens[:, 1:]"),
    (lambda t, v: torch.cat(pool_patches(t[:, 1:], v, "mean+max").chunk(2, -1)[::-1], -1),
     "your halves are swapped: the mean comes first, then the max, torch.cat([mean, max], dim=-1)"),
    (lambda t, v: pool_patches(t[:, 1:], None, "mean+max"),
     "your pooling counts the padding: leave the tokens where valid is False out of both the mean and the max"),
    (lambda t, v: torch.cat([t[:, 1:].mean(1), _masked_max(*_weights(t, v))], -1),
     "your mean counts the padding (your max leaves it out, as it should): average only where valid is True, "
     "(h * w).sum(1) / w.sum(1) with w = valid[..., None]"),
    (lambda t, v: torch.cat([_masked_mean(*_weights(t, v)), t[:, 1:].amax(1)], -1),
     "your max counts the padding (your mean leaves it out, as it should): fill the padding with -inf before "
     "the max, h.masked_fill(~valid[..., None], float('-inf'))"),
    (lambda t, v: torch.cat([_masked_mean(*_weights(t, v)), (lambda h, w: (h * w).amax(1))(*_weights(t, v))], -1),
     "you zero the padding before the max, and a zero beats every negative value; fill it with -inf instead, "
     "h.masked_fill(~valid[..., None], float('-inf'))"),
    (lambda t, v: torch.cat([(lambda h, w: (h * w).sum(1) / h.shape[1])(*_weights(t, v)),
                             _masked_max(*_weights(t, v))], -1),
     "your mean divides by all K tokens; divide by the number of valid ones, w.sum(1)"),
]


def _pool_shape_hint(got, tokens, valid) -> None:
    """CheckFailed for the wrong shapes a pooling takes most often: one half only, stacked, or over D."""
    if not isinstance(got, torch.Tensor):
        return
    b, n, d = tokens.shape
    h, w = _weights(tokens, valid)
    mean, top = _masked_mean(h, w), _masked_max(h, w)
    if got.shape == (b, d):
        for half, message in ((mean, "only the mean"), (top, "only the max"), (mean + top, "the mean plus the max")):
            if same(got, half):
                raise CheckFailed(f"your function returns {message}, [B, D]; return both side by side, [B, 2D]: "
                                  f"torch.cat([mean, max], dim=-1)")
    if got.shape == (b, 2, d):
        raise CheckFailed("your function stacks the mean and the max into [B, 2, D]; put them side by side, [B, 2D]: "
                          "torch.cat([mean, max], dim=-1)")
    if got.shape == (2 * b, d):
        raise CheckFailed("your function joins the mean and the max along the batch, [2B, D]; put them side by side "
                          "along the features, torch.cat([mean, max], dim=-1)")
    if got.dim() == 2 and len(got) == b and got.shape[1] in (2 * n, 2 * (n - 1)):
        raise CheckFailed(f"your function pools over the D features (dim=-1), giving {tuple(got.shape)}; pool over "
                          f"the tokens, dim=1, giving [B, 2D] = {(b, 2 * d)}")


def _pool_case(batch: int, patches: int, dim: int, lengths: list[int] | None, seed: int, negative: bool = False):
    def case(fn):
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randn(batch, 1 + patches, dim, generator=g)
        if negative:  # valid tokens below zero, so a zero in place of the padding would win the max
            tokens = -tokens.abs() - 1
        tokens[:, 0] = 10.0  # a CLS far from the rest, so pooling it shows in both halves
        valid = None if lengths is None else torch.arange(patches)[None] < torch.tensor(lengths)[:, None]
        if valid is not None:
            tokens[:, 1:][~valid] = 5.0  # padding that would move the mean and win the max
        given = tokens.clone()
        expected = pool_patches(tokens[:, 1:], valid, "mean+max")
        got = fn(given, None if valid is None else valid.clone())
        if not torch.equal(given, tokens):
            raise CheckFailed("your function changed tokens in place (a masked_fill_ or a slice assignment?); use "
                              "the out-of-place versions, tokens.masked_fill(...): the caller's tokens must stay as "
                              "they were")
        _pool_shape_hint(got, tokens, valid)
        got = tensor_like(got, expected, "[B, 2D]: the mean and the max of each sample's valid patch tokens")
        if not same(got, expected):
            raise diagnose(got, (tokens, valid), POOL_MISTAKES,
                           f"your pooling differs from [mean | max] of the valid patch tokens by up to "
                           f"{float((got - expected).abs().max()):.3g} ({case.__doc__})")
    padding = "every token valid (valid=None)" if lengths is None else f"valid patch tokens {lengths}, then padding"
    case.__doc__ = f"tokens [{batch}, 1 + {patches}, {dim}], {padding}" + (", every value negative" if negative else "")
    return case


def mean_max_pool(student_fn) -> None:
    """Check ``mean_max_pool(tokens [B, 1 + K, D], valid [B, K] bool or None) -> [B, 2D]``: the mean and the max of
    each sample's valid patch tokens side by side, CLS left out, as fmlab.models.pool_patches(..., "mean+max")."""
    cases = [_pool_case(3, 5, 4, None, 0), _pool_case(2, 6, 3, [4, 6], 1), _pool_case(1, 1, 8, None, 2),
             _pool_case(2, 4, 3, [2, 3], 3, negative=True)]
    if failure := run("mean_max_pool", student_fn, cases):
        raise failure
