"""How long the course takes as a new user meets it: every notebook through the course runner (what `make report`
runs), from an empty fmlab cache and an empty numba cache, one notebook at a time; per notebook its time and its
slowest cells. Run it on an otherwise idle machine: two jobs on two cores make each several times slower.

    python benchmarks/course_time.py --profile cpu [--only 01 ...] [--threads N] [--out FILE]

Writes benchmarks/results/course-time-<profile>.json (the report itself goes to a temporary folder unless --report).
The targets (issue 19): every cpu notebook under 5 minutes, the whole course under 20.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info, parse, versions  # noqa: E402

from fmlab.course.runner import run_course  # noqa: E402

NOTEBOOK_S, COURSE_S = 300, 1200   # the targets


def slowest_cells(executed: Path, n: int = 3) -> list[dict]:
    """The ``n`` longest code cells of an executed notebook: {cell, seconds, first line} (papermill's timings)."""
    if not executed.exists():
        return []
    cells = json.loads(executed.read_text())["cells"]
    timed = [{"cell": i, "seconds": round(c["metadata"].get("papermill", {}).get("duration") or 0.0, 1),
              "first line": "".join(c["source"]).strip().splitlines()[0][:80] if c["source"] else ""}
             for i, c in enumerate(cells) if c["cell_type"] == "code"]
    return sorted(timed, key=lambda c: -c["seconds"])[:n]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--only", action="append", help="notebooks whose name starts with this (repeatable)")
    ap.add_argument("--report", help="keep the executed report in this folder")
    ap.add_argument("--cache", help="an fmlab cache to use (default: a new, empty one); e.g. to time one notebook "
                                    "with the encoders the notebooks before it trained")
    args = parse(ap, argv, "benchmarks/results/course-time-<profile>.json")
    with tempfile.TemporaryDirectory(prefix="fmlab-course-time-") as scratch:
        os.environ["FMLAB_CACHE"] = args.cache or str(Path(scratch) / "cache")   # empty: every model is trained here
        os.environ["NUMBA_CACHE_DIR"] = str(Path(scratch) / "numba")      # empty: UMAP compiles as on a new machine
        t0 = time.perf_counter()
        out = run_course(args.profile, only=args.only, out=args.report or Path(scratch) / "report", progress=True)
        wall = time.perf_counter() - t0
        results = json.loads((out / "summary.json").read_text())["notebooks"]
        rows = [{"notebook": r["notebook"], "status": r["status"], "seconds": r["seconds"],
                 "slowest_cells": slowest_cells(out / f"{r['notebook']}.ipynb")} for r in results]
    total = sum(r["seconds"] for r in rows)
    for r in rows:
        cells = "; ".join(f"cell {c['cell']} {c['seconds']:.0f} s ({c['first line']})" for c in r["slowest_cells"])
        over = "  OVER 5 min" if r["seconds"] > NOTEBOOK_S else ""
        print(f"{r['notebook']:<22} {r['status']:<6} {r['seconds']:7.1f} s{over}   {cells}")
    print(f"total {total:.0f} s ({total / 60:.1f} min; target {COURSE_S // 60} min), wall {wall:.0f} s")
    result = {"benchmark": "course_time", "command": command(__file__, argv), "profile": args.profile,
              "empty_cache": args.cache is None,
              "device": device_info(), "threads": args.threads, "versions": versions(),
              "notebooks": rows, "total_s": round(total, 1), "wall_s": round(wall, 1),
              "over_notebook_target": [r["notebook"] for r in rows if r["seconds"] > NOTEBOOK_S],
              "within_course_target": total <= COURSE_S}
    path = Path(args.out or Path(__file__).parent / "results" / f"course-time-{args.profile}.json")
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
