"""The exercises of the instructor notebooks: code cells whose function body, the reference solution, sits
between nbgrader's ``### BEGIN SOLUTION`` and ``### END SOLUTION`` markers (fmlab.course.labs shows the format).
Finding them, naming them, reading their solutions and stripping those out.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_DEF = re.compile(r"^\s*def (\w+)\(")


def _function_before(lines: list[str], index: int) -> str:
    """The name of the nearest ``def`` above line ``index`` (what the student is to write)."""
    for line in reversed(lines[:index]):
        if m := _DEF.match(line):
            return m.group(1)
    return "this part"


def strip_solutions(source: str, where: str = "a cell") -> str:
    """``source`` with each BEGIN … END SOLUTION region, markers included, replaced by a raise of
    NotImplementedError at the marker's indentation; ValueError if the markers do not pair up."""
    lines, kept, opened = source.splitlines(), [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if opened is not None:
                raise ValueError(f"labs: {where}: a second {BEGIN!r} on line {i + 1} before the {END!r} of the one on "
                                 f"line {opened + 1}; close each solution before opening the next")
            opened = i
            indent = line[: len(line) - len(line.lstrip())]
            name = _function_before(lines, i)
            kept.append(f'{indent}raise NotImplementedError("write this: the body of {name}, '
                        f'then run the check below")')
        elif marker == END:
            if opened is None:
                raise ValueError(f"labs: {where}: {END!r} on line {i + 1} without a {BEGIN!r} above it; "
                                 f"put {BEGIN!r} on the first line of the solution")
            opened = None
        elif opened is None:
            kept.append(line)
    if opened is not None:
        raise ValueError(f"labs: {where}: {BEGIN!r} on line {opened + 1} is never closed; put {END!r} after the "
                         f"solution's last line")
    return "\n".join(kept)


def has_marker(source: str, marker: str) -> bool:
    return any(line.strip() == marker for line in source.splitlines())


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and has_marker(cell.source, BEGIN)


def exercise_name(source: str) -> str:
    """The function an exercise cell asks for: the nearest ``def`` above its first BEGIN marker."""
    lines = source.splitlines()
    return _function_before(lines, next(i for i, line in enumerate(lines) if line.strip() == BEGIN))


def exercises_in(directory: str | Path | None = None) -> dict[str, list[tuple[str, str, int]]]:
    """{notebook stem: [(function name, exercise cell source, cell index), ...]} for the notebooks with exercises."""
    import nbformat
    from .runner import notebooks
    found = {}
    for path in notebooks(directory):
        cells = nbformat.read(path, as_version=4).cells
        if exercises := [(exercise_name(c.source), c.source, i) for i, c in enumerate(cells) if is_exercise(c)]:
            found[path.stem] = exercises
    return found


def solution_of(source: str) -> str:
    """The lines between the markers of an exercise cell, dedented: its reference solution."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    return "\n".join(textwrap.dedent("\n".join(lines[a + 1:b])) for a, b in zip(starts, ends))
