"""Check for the compute-optimal exercise of notebook 10: the split of a FLOP budget C = k N D into parameters N
and tokens D that a fitted law L(N, D) = E + A / N**alpha + B / D**beta expects the lowest loss from.
Reference: fmlab.scaling.Law.optimal."""
from __future__ import annotations

import math

import numpy as np

from ..scaling import Law
from .harness import CheckFailed, run

LOSS_TOLERANCE = 1e-3  # relative: Law.optimal's own grid is 400 sizes, within 0.001 % of the best loss


def _value(v, what: str) -> float:
    """One number of the student's pair: a Python number, a NumPy scalar, or an array or tensor holding one."""
    try:
        if (v.numel() if hasattr(v, "numel") else getattr(v, "size", 1)) != 1:  # a tensor, an array, a number
            raise TypeError
        return float(v)
    except (TypeError, ValueError, RuntimeError):
        shape = getattr(v, "shape", None)
        held = f" of shape {tuple(shape)}" if shape is not None else ""
        raise CheckFailed(f"your {what} is a {type(v).__name__}{held}; return one number for it: the best of your "
                          f"candidate sizes, n[i] with i = the index of the lowest loss") from None


def _pair(got) -> tuple[float, float]:
    """The student's (N, D) as two floats, or CheckFailed saying what came instead."""
    if got is None:
        raise CheckFailed("your function returned None; it should return the pair (N, D) (did you forget `return`?)")
    if isinstance(got, dict):
        raise CheckFailed(f"your function returned a dict ({', '.join(map(str, got))}); return the pair (N, D), "
                          f"two numbers: the parameters and the tokens of the best split")
    try:
        n, d = got
    except (TypeError, ValueError):
        raise CheckFailed(f"your function returned a {type(got).__name__}; it should return two numbers, the pair "
                          f"(N, D): the parameters and the tokens of the best split") from None
    n, d = _value(n, "N"), _value(d, "D")
    if not (math.isfinite(n) and math.isfinite(d) and n > 0 and d > 0):
        raise CheckFailed(f"your split is N = {n:.3g}, D = {d:.3g}; both must be positive, finite numbers")
    return n, d


def _budget_hint(n: float, d: float, law: Law, flops: float) -> str:
    """Why a split does not spend the budget, read from N and D: no k, k taken as 6, or a misplaced bracket."""
    k = law.flops_per_nd
    if math.isclose(n * d, flops, rel_tol=1e-6):
        return (f": your N D is the budget itself, as if a token through one parameter cost one FLOP; it costs "
                f"k = law.flops_per_nd = {k:g} (about 2 forward, 4 backward; the grid measured it): D = C / (k N)")
    if math.isclose(6 * n * d, flops, rel_tol=1e-6):
        return (f": you take k = 6, the textbook constant; use the one this grid measured, law.flops_per_nd = {k:g}: "
                f"D = C / (law.flops_per_nd * N)")
    if math.isclose(d, flops / k * n, rel_tol=1e-6):
        return (": your D is C / k * N, which multiplies by N (Python reads a / b * c as (a / b) * c); divide by "
                "both: D = C / (k * N)")
    return f": spend it exactly, D = C / (k N) with k = law.flops_per_nd = {k:g}"


def _optimal_case(law: Law, flops: float, label: str):
    def case(fn):
        n, d = _pair(fn(law, flops))
        spent = law.flops_per_nd * n * d
        if not math.isclose(spent, flops, rel_tol=1e-3):
            raise CheckFailed(f"your split N = {n:.3g}, D = {d:.3g} spends k N D = {spent:.3g} FLOPs; the budget is "
                              f"C = {flops:.3g} ({label}){_budget_hint(n, d, law, flops)}")
        best = law.optimal(flops)
        loss, lowest = float(law.predict(n, d)), best["loss"]
        if loss <= lowest * (1 + LOSS_TOLERANCE):
            return
        where = (f"the law expects {loss:.4f} from your split (N = {n:.3g}) and {lowest:.4f} from the best one, "
                 f"N ≈ {best['parameters']:.3g}, D ≈ {best['tokens']:.3g} ({label})")
        if float(law.predict(d, n)) <= lowest * (1 + LOSS_TOLERANCE):
            raise CheckFailed(f"{where}: your pair is (D, N), the other way round; return (N, D), N the parameters")
        if max(n / best["parameters"], best["parameters"] / n) < 2:
            raise CheckFailed(f"{where}: close, but your candidate sizes are too far apart; try more of them, a few "
                              f"hundred across the decades")
        raise CheckFailed(f"{where}. Lower is better: choose the split with argmin, not argmax; and try sizes across "
                          f"many decades, 10^2 to 10^9, so the best one is among them")
    case.__doc__ = label
    return case


def _law(E: float, A: float, alpha: float, B: float, beta: float, k: float) -> Law:
    return Law(E, A, alpha, B, beta, k, samples=np.zeros((1, 5)))


def compute_optimal(student_fn) -> None:
    """Check ``compute_optimal(law, flops) -> (N, D)``: the split that spends the budget exactly, k N D = C with
    k = law.flops_per_nd, and has the lowest loss law.predict(N, D) expects, within 0.1 % of fmlab.scaling's
    Law.optimal; three laws (model-hungry and data-hungry, k other than 6) and budgets of 1e11 to 1e15 FLOPs."""
    cases = [_optimal_case(_law(0.2, 8.0, 0.3, 40.0, 0.25, 6.2), 1e13, "L = 0.2 + 8 / N^0.3 + 40 / D^0.25, k 6.2, "
                                                                        "C = 1e13"),
             _optimal_case(_law(0.3, 8.0, 0.25, 50.0, 0.4, 7.5), 1e11, "L = 0.3 + 8 / N^0.25 + 50 / D^0.4, k 7.5, "
                                                                        "C = 1e11"),
             _optimal_case(_law(0.5, 400.0, 0.5, 90.0, 0.2, 5.8), 1e15, "L = 0.5 + 400 / N^0.5 + 90 / D^0.2, "
                                                                          "k 5.8, C = 1e15")]
    if failure := run("compute_optimal", student_fn, cases):
        raise failure
