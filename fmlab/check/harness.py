"""What every exercise check shares: the one error a failed check raises, and the loop that runs the cases.

A check is a list of cases, each a function ``case(student_fn)`` that raises CheckFailed with a sentence a
student can act on. ``run`` calls them in order and prints "✓ name: n cases passed" when all pass, or returns
the first failure for the check to raise itself.

A failure shows its message, not fmlab's internals: IPython (JupyterLab, papermill) renders it through
``_render_traceback_`` as the student's own frames of a crash, if any, and the message; plain Python shows one
frame of fmlab, the check's own ``raise``.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable

import torch

HERE = Path(__file__).resolve().parent


class CheckFailed(AssertionError):
    """A student's function gave a wrong answer; the message says what differs and how to fix it.
    An AssertionError, so papermill (and nbgrader's autograder) stop at the check cell."""

    __module__ = "fmlab.check"  # how tracebacks name it: fmlab.check.CheckFailed, where students import it from


def _in_checks(tb) -> bool:
    return Path(tb.tb_frame.f_code.co_filename).resolve().parent == HERE


def _without_check_frames(error: BaseException) -> BaseException:
    """``error`` (raised in the student's function, called from a case) with the case's frames cut off the front of
    its traceback, so what remains starts at the student's own code."""
    tb = error.__traceback__
    while tb is not None and _in_checks(tb):
        tb = tb.tb_next
    return error.with_traceback(tb)


def _shown(failure: BaseException) -> list[str]:
    """What a notebook shows for ``failure``: where the student's function raised, if it did, then the message."""
    where = ""
    if failure.__cause__ is not None and failure.__cause__.__traceback__ is not None:
        where = "Your function raised here (most recent call last):\n" + \
            "".join(traceback.format_tb(failure.__cause__.__traceback__))
    return [f"{where}{type(failure).__name__}: {failure}"]


def _plain(failure: BaseException) -> BaseException:
    """``failure`` rendered by IPython as its message alone (IPython asks an exception for ``_render_traceback_``
    before it formats the stack), and with the traceback of wherever it was built dropped."""
    failure._render_traceback_ = lambda: _shown(failure)
    return failure.with_traceback(None)


def run(name: str, student_fn: Callable, cases: list[Callable]) -> BaseException | None:
    """Run ``cases`` against ``student_fn``: print a ✓ if none fails, else return the first failure (CheckFailed,
    or NotImplementedError for a function not written yet) for the check to raise, so that its ``raise`` is the
    only line of fmlab a traceback shows."""
    if not callable(student_fn):
        return _plain(CheckFailed(f"{name}: expected your function itself, got {type(student_fn).__name__}; "
                                  f"pass it without calling it, as fmlab.check.{name}({name})"))
    with torch.random.fork_rng(devices=[]):  # a check must not change the notebook's random numbers
        failure = _first_failure(name, student_fn, cases)
    if failure is None:
        print(f"✓ {name}: {len(cases)} cases passed")
    return failure


def _first_failure(name: str, student_fn: Callable, cases: list[Callable]) -> BaseException | None:
    for case in cases:
        try:
            case(student_fn)
        except NotImplementedError:
            # A NotImplementedError, so a student notebook stops here, at its first unwritten exercise.
            return _plain(NotImplementedError(
                f"{name}: write the function first: replace the line raise NotImplementedError(...) in the "
                f"exercise cell above with your code, run that cell, then run this check again"))
        except CheckFailed as e:
            return _plain(CheckFailed(f"{name}: {e}"))
        except Exception as e:  # noqa: BLE001 - a crash in the student's code is a failed check, said plainly
            label = (getattr(case, "__doc__", None) or case.__name__).strip()
            failure = CheckFailed(f"{name}: your function raised {type(e).__name__}: {e} (case: {label})"
                                  f"{crash_hint(e)}")
            failure.__cause__ = _without_check_frames(e)
            return _plain(failure)
    return None


def crash_hint(error: Exception) -> str:
    """A sentence for the crashes students meet most, where the error itself does not say what to do."""
    text = str(error)
    if "return_types" in text:
        return ("; torch.max(x, dim) (like min, sort and topk) returns a pair (values, indices): take its .values, "
                "or use x.amax(dim), which returns the values alone")
    if isinstance(error, TypeError) and "positional argument" in text:
        return "; keep the def line of the exercise cell as it is: the check calls your function with those arguments"
    return ""


def _shape_hint(got: torch.Size, expected: torch.Size) -> str:
    """Why a shape may be wrong, read from the two shapes alone."""
    if not expected:
        return "; reduce it to a single number (e.g. .mean() over what is left)"
    if sorted(got) == sorted(expected):
        return " (the right sizes in another order: a transpose, or a dim= that names the wrong dimension?)"
    if got.numel() == expected.numel():
        return " (the right number of values in another shape: a dimension of size 1 too many or too few?)"
    return ""


def tensor_like(got, expected: torch.Tensor, what: str) -> torch.Tensor:
    """``got`` as a tensor of ``expected``'s shape, or CheckFailed saying what came instead."""
    if got is None:
        raise CheckFailed(f"your function returned None; it should return {what} (did you forget `return`?)")
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"your function returned a {type(got).__name__}; it should return {what}, a torch.Tensor")
    if got.shape != expected.shape:
        raise CheckFailed(f"your function returned shape {tuple(got.shape)}; expected {tuple(expected.shape)}, "
                          f"{what}{_shape_hint(got.shape, expected.shape)}")
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
