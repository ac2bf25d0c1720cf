"""One accuracy against another, beyond noise or not: the one rule every notebook reads a difference by
(evaluate.within_noise, two standard errors of an accuracy on the test set).

    d = difference(probe_acc, random_acc, len(test))   # {"gap", "noise", "reading": "higher" | "lower" | "tie"}
    questions = [("default views", "random init", "does contrastive pretraining cluster by person?")]
    print("\\n".join(row_verdicts(table, len(probe_test), questions)))   # row against row of a latent_table
"""
from __future__ import annotations

import numbers

from .evaluate import verdict, within_noise

# what a good encoder for the state task does with each latent_table column
WANT = {"linear_probe": "higher", "state": "higher", "subject": "lower", "artifact": "lower",
        "subject_neighbours": "lower"}
HALF_COLUMNS = ("state", "subject", "artifact")  # what_it_encodes fits on one half of the test set, scores the other


def difference(ours: float, theirs: float, n: int) -> dict:
    """``ours`` - ``theirs``, two accuracies measured on the same ``n`` test signals, read against
    within_noise(n): {"gap": ours - theirs, "noise": within_noise(n), "reading": "higher" (ours above beyond the
    noise), "lower" (below beyond it) or "tie"}."""
    bad = {k: v for k, v in (("ours", ours), ("theirs", theirs)) if isinstance(v, bool)
           or not isinstance(v, numbers.Real) or not 0 <= v <= 1}
    if bad:
        raise ValueError(f"difference: expected two accuracies in [0, 1], got {bad}; pass fractions such as 0.72, "
                         f"not percentages")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"difference: expected n, the number of test signals, a positive int; got {n!r}; "
                         f"pass len(test)")
    gap, noise = float(ours - theirs), within_noise(n)
    return {"gap": gap, "noise": noise, "reading": "tie" if abs(gap) < noise else "higher" if gap > 0 else "lower"}


def column_noise(columns, n: int) -> dict[str, float]:
    """Two standard errors (within_noise) for each latent_table column measured on ``n`` test signals: those of
    what_it_encodes (state, subject, artifact) are scored on half of them, the others on all ``n``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"column_noise: expected n, the number of test signals, a positive int; got {n!r}; "
                         f"pass len(probe_test)")
    return {c: within_noise(n // 2 if c in HALF_COLUMNS else n) for c in columns}


def row_verdicts(table, n: int, questions, want: dict[str, str] | None = None) -> list[str]:
    """Lines of text comparing rows of a latent_table ``table`` (a DataFrame, one row per encoder) measured on
    ``n`` test signals. questions: [(ours, theirs, question)], two row names and the question their comparison
    answers; want: {column: "higher" | "lower"}, what we hope ours does against theirs (default WANT). First a
    line saying which gaps are ties, then per question its text and one line per column: both values, the gap
    and its verdict (evaluate.verdict against column_noise)."""
    want = WANT if want is None else want
    wrong = {c: w for c, w in want.items() if w not in ("higher", "lower")}
    if wrong:
        raise ValueError(f"row_verdicts: want maps a column to 'higher' or 'lower', got {wrong}")
    rows = {name for ours, theirs, _ in questions for name in (ours, theirs)}
    missing_rows = sorted(rows - set(table.index))
    missing_cols = [c for c in want if c not in table.columns]
    if missing_rows or missing_cols:
        raise ValueError(f"row_verdicts: the questions need rows {sorted(rows)} and columns {list(want)}; the table "
                         f"lacks rows {missing_rows} and columns {missing_cols}; build it with latent_table over "
                         f"those encoders, or name the rows it has: {list(table.index)}")
    noise = column_noise(table.columns, n)
    ties = [f"{within_noise(n):.2f} (measured on all {n} test signals)"] * any(c not in HALF_COLUMNS for c in want)
    ties += [f"{within_noise(n // 2):.2f} (probes fit and tested on halves)"] * any(c in HALF_COLUMNS for c in want)
    lines = [f"ties: gaps under {' or '.join(ties)}", ""]
    for ours, theirs, question in questions:
        lines.append(question)
        for col, hope in want.items():
            a, b = table.loc[ours, col], table.loc[theirs, col]
            lines.append(f"  {col:>18}: {ours} {a:.2f} vs {theirs} {b:.2f} ({a - b:+.2f}); we want it {hope}: "
                         f"{verdict(a - b, noise[col], hope)}")
    return lines


__all__ = ["HALF_COLUMNS", "WANT", "column_noise", "difference", "row_verdicts"]
