"""Course-lab mode: the student versions of the notebooks (``fmlab labs build --out DIR``).

An exercise is a code cell holding a small function whose body, the reference solution, sits between
nbgrader's markers, followed by a check cell:

    def masked_mse(pred, target, masked):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    fmlab.check.masked_mse(masked_mse)

``build`` writes every numbered notebook with each solution (markers included) replaced by
``raise NotImplementedError("write this: ...")`` at the same indentation, and every output cleared. The
check cells and the ``parameters`` cell stay; notebooks without exercises are copied unchanged, so the
student folder is the whole course. The rest of a notebook calls fmlab, not the student's function, so a
student notebook runs past an exercise once it is written.

A notebook already in the student folder that differs from what ``build`` would write (a student's work, or a
build from an older course) is kept as it is and reported, never overwritten, unless ``force=True``.
"""
from __future__ import annotations

import re
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


def _has_marker(source: str, marker: str) -> bool:
    return any(line.strip() == marker for line in source.splitlines())


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and _has_marker(cell.source, BEGIN)


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


def student_notebook(nb, where: str = "notebook"):
    """A copy of ``nb`` (an nbformat notebook) with solutions stripped and every output cleared."""
    import copy
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source, f"{where}, cell {i}")
        cell.outputs, cell.execution_count = [], None
    return nb


def student_bytes(path: Path) -> bytes:
    """What ``build`` writes for the instructor notebook at ``path``: the student version if it holds solution
    markers, else the file unchanged."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    if not any(_has_marker(c.source, m) for c in nb.cells if c.cell_type == "code" for m in (BEGIN, END)):
        return path.read_bytes()
    text = nbformat.writes(student_notebook(nb, path.name))
    return (text if text.endswith("\n") else text + "\n").encode()  # as nbformat.write ends its files


def build(out: str | Path, notebooks: str | Path | None = None, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the student version of every numbered notebook in ``notebooks`` (default: the course's) into
    ``out``; returns (the paths written or already up to date, the paths kept because they differ from the
    build), each in order. ``force`` overwrites those instead."""
    from ..hub import atomic_path
    from .runner import REPO
    from .runner import notebooks as numbered
    source = Path(notebooks or REPO / "notebooks").resolve()
    out = Path(out).resolve()
    if out == source:
        raise ValueError(f"labs build: --out {out} is the folder of the instructor notebooks, and writing there "
                         f"would delete their solutions; choose another folder, e.g. --out ~/fmlab-labs")
    out.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for path in numbered(source):
        content, target = student_bytes(path), out / path.name
        existing = target.read_bytes() if target.exists() else None
        if existing not in (None, content) and not force:  # a student's work, or a build of an older course
            kept.append(target)
            continue
        if existing != content:
            with atomic_path(target) as tmp:
                Path(tmp).write_bytes(content)
        written.append(target)
    return written, kept


def main(args) -> int:
    """``fmlab labs build --out DIR [--notebooks DIR] [--force]``: build, then list what was written and kept."""
    written, kept = build(args.out, args.notebooks, force=args.force)
    exercises = exercises_in(args.notebooks)
    for path in written:
        names = [name for name, _, _ in exercises.get(path.stem, [])]
        print(f"{path.name:<26} " + (f"exercises: {', '.join(names)}" if names else "no exercises (copied)"))
    for path in kept:
        print(f"{path.name:<26} kept: it differs from this build (a student's work?); --force overwrites it")
    print(f"student notebooks in {Path(args.out).resolve()}: open them in JupyterLab; each check cell says whether "
          f"the function above it is right")
    return 0
