"""Recording a notebook's results for the course report.

In a notebook:  ``fmlab.report.record("probe_acc", 0.83)``. Under the course runner (``fmlab report``, in
fmlab.course) the value lands in that notebook's metrics file, which the report's index shows; elsewhere it is
only kept in ``RECORDED``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .profiles import say

METRICS_ENV = "FMLAB_METRICS_FILE"  # set by the course runner for each notebook's kernel
RECORDED: dict[str, object] = {}


def record(name: str, value) -> None:
    """Keep ``value`` under ``name`` for the report (a number, string, or a small JSON-able dict/list).
    Under the course runner it lands in that notebook's metrics; elsewhere it is only kept in RECORDED."""
    if hasattr(value, "item"):
        value = value.item()
    json.dumps(value)  # fail here, in the notebook, if the value cannot go into the report
    RECORDED[name] = value
    target = os.environ.get(METRICS_ENV)
    if target:
        from .hub import atomic_path
        path = Path(target)
        current = json.loads(path.read_text()) if path.exists() else {}
        current[name] = value
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(current, indent=1))
    shown = f"{value:.4g}" if isinstance(value, float) else value
    say(f"recorded {name} = {shown}")

