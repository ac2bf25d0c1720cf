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

Lines elsewhere that give an answer away (the "idea in ten lines" cells redo an exercise by hand) still run,
hidden: each statement holding an expression of a solution becomes ``fmlab.check.hidden_answer("name",
"<base64 of its lines>")``, its comment kept. A solution's expressions are compared with names, numbers and
keyword names set aside, so ``((pred - target) ** 2).mean(dim=-1)`` is found in
``((pred - target) ** 2).mean(-1)[masked].mean()``. Only expressions of a few operations count (see _gives_away),
so ``len(z1)`` or ``torch.zeros(...)`` give nothing away.

A notebook already in the student folder that differs from what ``build`` would write (a student's work, or a
build from an older course) is kept as it is and reported, never overwritten, unless ``force=True``.
"""
from __future__ import annotations

import ast
import base64
import copy
import re
import textwrap
import tokenize
from pathlib import Path

from .exercises import (BEGIN, END, exercise_name, exercises_in, has_marker, is_exercise,
                        solution_of, strip_solutions)

_OPERATIONS = (ast.Call, ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Compare, ast.BoolOp)
HIDDEN = "fmlab.check.hidden_answer"  # fmlab.check loads with its functions; fmlab.course leaves labs out


class _Shape(ast.NodeTransformer):
    """An expression with its names, numbers and keyword names set aside: the shape of the computation."""

    def visit_Name(self, node):
        return ast.Name("_", ast.Load())

    def visit_Constant(self, node):  # a number where the solution has a name: round(0.75 * N), round(ratio * tokens)
        return ast.Name("_", ast.Load())

    def visit_UnaryOp(self, node):
        if isinstance(node.operand, ast.Constant):  # -1 is a number, not an operation
            return ast.Name("_", ast.Load())
        return self.generic_visit(node)

    def visit_Call(self, node):
        node = self.generic_visit(node)
        return ast.Call(node.func, [*node.args, *(k.value for k in node.keywords)], [])  # dim=-1 reads as -1


def _shape(node: ast.expr) -> ast.expr:
    shape = _Shape().visit(copy.deepcopy(node))
    for sub in ast.walk(shape):
        if hasattr(sub, "ctx"):
            sub.ctx = ast.Load()  # the same expression read or assigned to
    return shape


def _gives_away(shape: ast.expr) -> bool:
    """Two operations, one of them a call or an index, or three of any kind: ``(a - b) ** 2``, ``x @ W.T + b`` or
    ``torch.zeros(B, N)`` alone answer nothing, and would be found in every notebook."""
    ops = [n for n in ast.walk(shape) if isinstance(n, _OPERATIONS)]
    return len(ops) >= 3 or (len(ops) == 2 and any(isinstance(n, (ast.Call, ast.Subscript)) for n in ops))


def answers_of(exercises: dict[str, list[tuple[str, str, int]]]) -> dict[str, str]:
    """{the shape of an expression of a solution: the exercise's name}, for every solution in ``exercises`` (as
    ``exercises_in`` returns them) and each of its expressions that gives something away."""
    found = {}
    for cells in exercises.values():
        for name, source, _ in cells:
            for node in ast.walk(ast.parse(solution_of(source))):
                if isinstance(node, ast.expr) and _gives_away(shape := _shape(node)):
                    found.setdefault(ast.dump(shape), name)
    return found


def _parsed(source: str, where: str) -> ast.Module | None:
    """A code cell's syntax tree, its IPython magic and shell lines read as ``pass``; None for a cell magic."""
    if source.lstrip().startswith("%%"):
        return None
    python = [re.sub(r"^([ \t]*)[%!].*", r"\1pass", line) for line in source.splitlines()]
    try:
        return ast.parse("\n".join(python))
    except SyntaxError as e:
        raise ValueError(f"labs: {where} is not Python (line {e.lineno}: {e.msg}); fix it in the instructor "
                         f"notebook") from None


def _answer_in(nodes: list, answers: dict[str, str]) -> str | None:
    """The exercise that an expression somewhere in ``nodes`` answers, if any."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.expr) and (name := answers.get(ast.dump(_shape(sub)))):
                return name
    return None


def _answering(body: list, answers: dict[str, str], where: str) -> list[tuple[int, int, str]]:
    """(first line, last line, exercise) of each statement in ``body`` that holds an answer. A compound statement
    (for, with, if) is searched in its body, unless its own header holds the answer; then all of it counts."""
    found = []
    for stmt in body:
        fields = [value for _, value in ast.iter_fields(stmt)]
        blocks = [v for v in fields if isinstance(v, list) and v and isinstance(v[0], (ast.stmt, ast.excepthandler,
                                                                                        ast.match_case))]
        header = [n for v in fields if not any(v is b for b in blocks)
                  for n in (v if isinstance(v, list) else [v]) if isinstance(n, ast.AST)]
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if name := _answer_in([stmt], answers):  # exec cannot set a function's locals: it cannot run hidden
                raise ValueError(f"labs: {where}, line {stmt.lineno}: {stmt.name} holds an answer to {name} and "
                                 f"lines inside a def cannot run hidden; move them out of the function, or write "
                                 f"them another way than the solution")
        elif name := _answer_in(header, answers):
            found.append((stmt.lineno, stmt.end_lineno, name))
        else:
            found += [hit for block in blocks for hit in _answering(block, answers, where)]
    return found


def find_answers(source: str, answers: dict[str, str], where: str = "a cell") -> list[tuple[int, int, str]]:
    """(first line, last line, exercise), 1-based, of every statement of the code cell ``source`` that holds an
    expression of a solution (``answers``, from answers_of)."""
    tree = _parsed(source, where)
    return [] if tree is None else _answering(tree.body, answers, where)


def _comments(source: str) -> dict[int, str]:
    """{line: its comment} of a code cell."""
    lines = iter(re.sub(r"(?m)^([ \t]*)[%!].*", r"\1pass", source).splitlines(keepends=True))
    return {t.start[0]: t.string for t in tokenize.generate_tokens(lambda: next(lines, ""))
            if t.type == tokenize.COMMENT}


def hide_answers(source: str, answers: dict[str, str], where: str = "a cell") -> tuple[str, int]:
    """``source`` with each statement that holds an answer (see find_answers) replaced by one line that runs it
    hidden, at its indentation and with its first comment; and how many were hidden."""
    hits = find_answers(source, answers, where)
    if not hits:
        return source, 0
    lines, comments = source.splitlines(), _comments(source)
    for first, last, name in sorted(hits, reverse=True):  # from the bottom, so earlier line numbers hold
        original = "\n".join(lines[first - 1:last])
        try:  # what hidden_answer will run must stand on its own
            compile(textwrap.dedent(original), where, "exec")
        except SyntaxError as e:
            raise ValueError(f"labs: {where}, lines {first}-{last} answer {name} but do not run on their own "
                             f"({e.msg}); put that statement on lines of its own") from None
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        comment = next((comments[i] for i in range(first, last + 1) if i in comments), None)
        code = base64.b64encode(original.encode()).decode()
        lines[first - 1:last] = [f'{indent}{HIDDEN}("{name}", "{code}")' + (f"  {comment}" if comment else "")]
    return "\n".join(lines), len(hits)


def _own_answers(nb) -> dict[str, str]:
    """The answers of the exercises in ``nb`` itself."""
    return answers_of({"nb": [(exercise_name(c.source), c.source, i) for i, c in enumerate(nb.cells)
                              if is_exercise(c)]})


def student_notebook(nb, where: str = "notebook", answers: dict[str, str] | None = None):
    """A copy of ``nb`` (an nbformat notebook) with solutions stripped, the lines that give one away hidden
    (``answers``, from answers_of; default: those of nb's own exercises) and every output cleared."""
    answers = _own_answers(nb) if answers is None else answers
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source, _ = hide_answers(strip_solutions(cell.source, f"{where}, cell {i}"), answers, f"{where}, cell {i}")
        cell.outputs, cell.execution_count = [], None
    return nb


def student_bytes(path: Path, answers: dict[str, str] | None = None) -> bytes:
    """What ``build`` writes for the instructor notebook at ``path``: the student version if it holds solution
    markers or lines that give one of ``answers`` away (default: its own), else the file unchanged."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    answers = _own_answers(nb) if answers is None else answers
    if not any(has_marker(c.source, m) for c in code for m in (BEGIN, END)) and \
            not any(find_answers(c.source, answers, f"{path.name}, a code cell") for c in code):
        return path.read_bytes()
    text = nbformat.writes(student_notebook(nb, path.name, answers))
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
    answers = answers_of(exercises_in(source))  # the course's: a later notebook must not give away an earlier answer
    for path in numbered(source):
        content, target = student_bytes(path, answers), out / path.name
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
        hidden = path.read_text().count(HIDDEN)
        done = f"; {hidden} answer line{'s' * (hidden > 1)} hidden (still run)" if hidden else ""
        print(f"{path.name:<26} " + (f"exercises: {', '.join(names)}" if names else "no exercises")
              + (done or ("" if names else " (copied)")))
    for path in kept:
        print(f"{path.name:<26} kept: it differs from this build (a student's work?); --force overwrites it")
    print(f"student notebooks in {Path(args.out).resolve()}: open them in JupyterLab; each check cell says whether "
          f"the function above it is right")
    return 0
