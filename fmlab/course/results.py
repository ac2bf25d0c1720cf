"""Reading what the notebooks recorded: numbers to 3 significant digits, each notebook's key metric, the results
below their baseline, and the one-screen summary ``fmlab report`` prints at the end.

The baseline rule, decided from the recorded names alone:
- a *score* is a number whose name, or whose table's or column's name, contains ``acc``, ``probe`` or ``knn``
  (accuracies, probes, kNN: higher is better); nothing else is judged, as its better direction is not in its name;
- the baseline of a score ``<name>`` (or ``<anything>_<name>``) is the number recorded as ``random_<name>`` or
  ``random_init_<name>`` in the same notebook, e.g. ``weak_probe_acc`` against ``random_probe_acc``;
- in a recorded table (a dict of rows), the row named "random init", "random" or "from_scratch" is the baseline
  of the other rows, column by column, e.g. ``latent_table["jepa"]["linear_probe"]`` against
  ``latent_table["random init"]["linear_probe"]``; a dict of numbers is a table of one column;
- a score strictly below its baseline is flagged. In the smoke profile many such flags are noise: the models
  there are too small to learn, which the report says by showing them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

SCORE = re.compile(r"acc|probe|knn", re.I)
BASELINE_NAME = re.compile(r"^random(?:_init)?_(.+)$")
BASELINE_ROWS = ("random init", "random", "from_scratch")


@dataclass(frozen=True)
class Shortfall:
    """A score below its baseline; ``where`` and ``baseline`` are paths into the metrics, e.g.
    ("latent_table", "jepa", "linear_probe")."""
    where: tuple[str, ...]
    value: float
    baseline: tuple[str, ...]
    baseline_value: float

    def __str__(self) -> str:
        return f"below {' / '.join(self.baseline)} ({number(self.baseline_value)})"


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value) -> str:
    """3 significant digits (0.8312 -> 0.831, 33.26 -> 33.3); counts (ints) and numbers from 1000 up whole."""
    if not is_number(value):
        return str(value)
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def key_metric(metrics: dict) -> tuple[str, float] | None:
    """The notebook's headline: its first recorded score, else its first recorded number, else None."""
    numbers = [(k, v) for k, v in metrics.items() if is_number(v)]
    return next(((k, v) for k, v in numbers if SCORE.search(k)), numbers[0] if numbers else None)


def shortfalls(metrics: dict) -> list[Shortfall]:
    """Every score in one notebook's ``metrics`` that is below its baseline (see the module's rule)."""
    numbers = {k: v for k, v in metrics.items() if is_number(v)}
    found = []
    for base, base_value in numbers.items():
        m = BASELINE_NAME.match(base)
        if not (m and SCORE.search(m.group(1))):
            continue
        found += [Shortfall((k,), v, (base,), base_value) for k, v in numbers.items()
                  if (k == m.group(1) or k.endswith("_" + m.group(1))) and not BASELINE_NAME.match(k)
                  and v < base_value]
    for name, table in metrics.items():
        if isinstance(table, dict):
            found += _table_shortfalls(name, table)
    return found


def _table_shortfalls(name: str, table: dict) -> list[Shortfall]:
    base_row = next((r for r in BASELINE_ROWS if r in table), None)
    if base_row is None:
        return []
    rows = {r: v if isinstance(v, dict) else {"": v} for r, v in table.items()}  # a dict of numbers: one column
    found = []
    for row, values in rows.items():
        for column, value in values.items():
            base_value = rows[base_row].get(column)
            scored = SCORE.search(name) or SCORE.search(column)
            if row != base_row and scored and is_number(value) and is_number(base_value) and value < base_value:
                path = tuple(p for p in (name, row, column) if p)
                found.append(Shortfall(path, value, tuple(p for p in (name, base_row, column) if p), base_value))
    return found


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def summary_table(results: list[dict], width: int = 100) -> str:
    """One line per notebook (notebook, status, time, key metric, or where it failed) and a closing total."""
    lines = [f"{'notebook':<24} {'status':<7} {'time':>11}  key metric"]
    flagged = 0
    for r in results:
        if r["status"] != "ok":
            said = f"code cell {r.get('cell', '?')}: {r.get('error', '')}"
        else:
            key, below = key_metric(r["metrics"]), shortfalls(r["metrics"])
            flagged += len(below)
            said = (f"{key[0]} = {number(key[1])}" if key else "-") + (f"   ({len(below)} below baseline)"
                                                                         if below else "")
        line = f"{r['notebook']:<24} {r['status']:<7} {duration(r['seconds']):>11}  {said}"
        lines.append(line if len(line) <= width else line[:width - 1] + "…")
    failed = sum(r["status"] != "ok" for r in results)
    lines.append(f"{len(results)} notebooks, {failed} failed, in {duration(sum(r['seconds'] for r in results))}"
                 + (f"; {flagged} results below their baseline (marked in the index)" if flagged else ""))
    return "\n".join(lines)
