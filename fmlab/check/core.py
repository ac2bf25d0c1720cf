"""What every exercise check shares: the one error a failed check raises, and the loop that runs the cases.

A check is a list of cases, each a function ``case(student_fn)`` that raises CheckFailed with a sentence a
student can act on. ``run`` calls them in order and prints "✓ name: n cases passed" when all pass.
"""
from __future__ import annotations

from typing import Callable

import torch


class CheckFailed(AssertionError):
    """A student's function gave a wrong answer; the message says what differs and how to fix it.
    An AssertionError, so papermill (and nbgrader's autograder) stop at the check cell."""


def run(name: str, student_fn: Callable, cases: list[Callable]) -> None:
    """Run ``cases`` against ``student_fn``; raise at the first that fails, print a ✓ if none does."""
    if not callable(student_fn):
        raise CheckFailed(f"{name}: expected your function itself, got {type(student_fn).__name__}; "
                          f"pass it without calling it, as fmlab.check.{name}({name})")
    with torch.random.fork_rng(devices=[]):  # a check must not change the notebook's random numbers
        _run_cases(name, student_fn, cases)
    print(f"✓ {name}: {len(cases)} cases passed")


def _run_cases(name: str, student_fn: Callable, cases: list[Callable]) -> None:
    for case in cases:
        try:
            case(student_fn)
        except NotImplementedError:
            # Re-raised as NotImplementedError so a student notebook stops here, at its first unwritten exercise.
            raise NotImplementedError(
                f"{name}: write the function first: replace the line raise NotImplementedError(...) in the "
                f"exercise cell above with your code, run that cell, then run this check again") from None
        except CheckFailed as e:
            raise CheckFailed(f"{name}: {e}") from None
        except Exception as e:  # noqa: BLE001 - a crash in the student's code is a failed check, said plainly
            label = getattr(case, "__doc__", None) or case.__name__
            raise CheckFailed(f"{name}: your function raised {type(e).__name__}: {e} (case: {label.strip()})") from e


def tensor_like(got, expected: torch.Tensor, what: str) -> torch.Tensor:
    """``got`` as a tensor of ``expected``'s shape, or CheckFailed saying what came instead."""
    if got is None:
        raise CheckFailed(f"your function returned None; it should return {what} (did you forget `return`?)")
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"your function returned a {type(got).__name__}; it should return {what}, a torch.Tensor")
    if got.shape != expected.shape:
        raise CheckFailed(f"your function returned shape {tuple(got.shape)}; expected {tuple(expected.shape)}, {what}")
    return got


def same(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    """Equal up to float rounding (infinities and NaNs must match as well)."""
    return a.shape == b.shape and torch.allclose(a.detach().float(), b.detach().float(), atol=atol, rtol=1e-4,
                                                 equal_nan=True)


def diagnose(got: torch.Tensor, inputs: tuple, mistakes: list[tuple[Callable, str]], otherwise: str) -> CheckFailed:
    """The error for a wrong ``got``: the message of the first known mistake that reproduces it exactly
    (so the student reads what they did), else ``otherwise``."""
    for wrong, message in mistakes:
        try:
            if same(got, wrong(*inputs)):
                return CheckFailed(message)
        except Exception:  # noqa: BLE001 - a mistake that cannot even run on these inputs is not this one
            continue
    return CheckFailed(otherwise)
