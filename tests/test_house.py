"""The sizes a person reads whole (issue 18): no module in fmlab/ over 300 lines, no function over 60, and no
notebook code cell over 15 lines but the idea cells (tagged "idea": the method written by hand beside fmlab's
own, up to 25 lines)."""
import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE_LINES, FUNCTION_LINES, CELL_LINES, IDEA_CELL_LINES = 300, 60, 15, 25


def long_functions(source: str, limit: int) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function or method in ``source`` longer than ``limit`` lines."""
    return [(node.name, node.lineno, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= limit]


def long_cells(notebook: dict) -> list[tuple[int, int, bool]]:
    """(cell index, lines, tagged idea) of every code cell over its limit."""
    out = []
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        idea = "idea" in cell.get("metadata", {}).get("tags", [])
        n = len("".join(cell["source"]).splitlines())
        if n > (IDEA_CELL_LINES if idea else CELL_LINES):
            out.append((i, n, idea))
    return out


def test_no_module_over_300_lines_and_no_function_over_60():
    too_long = []
    for path in sorted((ROOT / "fmlab").rglob("*.py")):
        source, rel = path.read_text(), path.relative_to(ROOT)
        if len(source.splitlines()) > MODULE_LINES:
            too_long.append(f"{rel}: {len(source.splitlines())} lines (at most {MODULE_LINES})")
        too_long += [f"{rel}:{line} {name}(): {n} lines (at most {FUNCTION_LINES})"
                     for name, line, n in long_functions(source, FUNCTION_LINES)]
    assert not too_long, "split these so a person reads them whole:\n" + "\n".join(too_long)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_notebook_code_cells_stay_short(path):
    cells = long_cells(json.loads(path.read_text()))
    assert not cells, (f"{path.name}: code cells over {CELL_LINES} lines ({IDEA_CELL_LINES} for a cell tagged "
                       f"'idea'): " + ", ".join(f"cell {i} ({n} lines{', idea' if idea else ''})" for i, n, idea in cells)
                       + "; move the work into fmlab and call it, or split the cell")


def test_the_scans_see_a_long_function_and_a_long_cell():
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    assert long_functions(f"def short():\n    pass\n\ndef f():\n{body}\n", FUNCTION_LINES) == [
        ("f", 4, FUNCTION_LINES + 1)]
    cell = {"cell_type": "code", "source": ["x = 1\n"] * (CELL_LINES + 1), "metadata": {}}
    idea = {**cell, "metadata": {"tags": ["idea"]}}
    assert long_cells({"cells": [idea, cell, {**cell, "cell_type": "markdown"}]}) == [(1, CELL_LINES + 1, False)]
