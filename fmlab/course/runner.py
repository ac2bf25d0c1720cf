"""The course runner: the numbered notebooks executed by papermill, each in a fresh kernel, into a report folder.

From the shell: ``fmlab report --profile smoke``, which is ``run_course("smoke")`` and then ``summary_table``.
The folder, reports/<profile>-<timestamp>/, holds the executed notebooks, their HTML (export.py),
metrics/<notebook>.json (what each recorded with ``fmlab.report.record``), metrics.json, summary.json and
index.html (index.py). A failing notebook is reported (its cell and traceback) and the others still run.

While a notebook runs, a bar shows its cells done out of all and the time taken so far:

    (4/10) 03_contrastive:  40%|████      | 12/30 [01:23<02:05,  6.95s/cell]
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from pathlib import Path

from ..report import METRICS_ENV

REPO = Path(__file__).resolve().parents[2]  # the checkout: notebooks/ and reports/ live here
ENGINE = "fmlab-ticking"  # the papermill engine registered by _ticking_engine


def notebooks(directory: str | os.PathLike | None = None, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order; ``only`` picks by name or prefix ("00", "01_mae")."""
    directory = Path(directory or REPO / "notebooks")
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ValueError(f"report: no notebooks (NN_name.ipynb) in {directory}; run from a checkout of fmlab")
    if only:
        picked = [p for p in found if any(p.stem == o or p.stem.startswith(o) or p.name == o for o in only)]
        if len(picked) == 0:
            raise ValueError(f"report: --only {only} matches none of {[p.stem for p in found]}")
        return picked
    return found


def run_course(profile: str = "smoke", only: list[str] | None = None, params: dict | None = None,
               out: str | os.PathLike | None = None, timeout: int = 1800, progress: bool = True,
               directory: str | os.PathLike | None = None) -> Path:
    """Execute the notebooks in order under ``profile`` and write the report; returns its folder.
    Each notebook's outcome is in ``<folder>/summary.json`` (status "ok" or "failed"). ``progress`` shows a bar
    per notebook over its cells (on stderr)."""
    from ..profiles import get_profile
    from .export import export_html
    from .index import index_html

    get_profile(profile)  # an unknown profile, or --only matching nothing, fails before any folder is made
    nbs = notebooks(directory, only=only)
    out = Path(out or REPO / "reports" / f"{profile}-{time.strftime('%Y%m%d-%H%M%S')}")
    (out / "metrics").mkdir(parents=True, exist_ok=True)
    results = []
    for i, nb in enumerate(nbs, start=1):
        bar = {"desc": f"({i}/{len(nbs)}) {nb.stem}", "leave": True} if progress else False
        result = _run_notebook(nb, out, {"profile": profile, **(params or {})}, timeout, bar)
        if (out / nb.name).exists():  # a failed notebook is kept as far as it ran, and exported too
            result["html"] = export_html(out / nb.name)
        results.append(result)
    (out / "metrics.json").write_text(json.dumps({r["notebook"]: r["metrics"] for r in results}, indent=1))
    (out / "summary.json").write_text(json.dumps({"profile": profile, "notebooks": results}, indent=1))
    (out / "index.html").write_text(index_html(profile, results))
    return out


def _run_notebook(nb: Path, out: Path, parameters: dict, timeout: int, bar: dict | bool) -> dict:
    """Execute ``nb`` into ``out``; returns {notebook, status, seconds, metrics} and, when it failed, the failure."""
    import papermill as pm
    executed, metrics_file = out / nb.name, out / "metrics" / f"{nb.stem}.json"
    metrics_file.unlink(missing_ok=True)
    t0, result = time.perf_counter(), {"notebook": nb.stem, "status": "ok"}
    with _environment({METRICS_ENV: str(metrics_file), "FMLAB_PROFILE": parameters["profile"]}):
        try:
            pm.execute_notebook(str(nb), str(executed), parameters=parameters, cwd=str(nb.parent),
                                execution_timeout=timeout, progress_bar=bar, kernel_name="python3",
                                log_output=False, engine_name=_ticking_engine())
        except Exception as e:  # noqa: BLE001 - a failing notebook must not stop the course
            result.update(status="failed", **_failure(executed, e))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["metrics"] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return result


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the kernel (it inherits ours), and restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@functools.cache
def _ticking_engine() -> str:
    """Register papermill's own engine with a clock added (once), and return its name. papermill redraws its
    cell bar only when a cell ends, so during a cell that trains for minutes the elapsed time would stand still;
    here a thread redraws the bar every second while the notebook runs."""
    from papermill.engines import NBClientEngine, papermill_engines

    class TickingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            stop = threading.Event()

            def tick():
                while not stop.wait(1.0):
                    if (bar := nb_man.pbar) is not None:
                        bar.refresh()

            clock = threading.Thread(target=tick, name="fmlab-report-clock", daemon=True)
            clock.start()
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                stop.set()
                clock.join()

    papermill_engines.register(ENGINE, TickingEngine)
    return ENGINE


def _failure(executed: Path, error: Exception) -> dict:
    """Which cell failed and why, from papermill's error and the executed notebook. A cell that raised holds an
    error output; a cell whose kernel died (out of memory, a crash in native code) or timed out holds none, but
    it is the last one papermill started."""
    info = {"error": f"{getattr(error, 'ename', type(error).__name__)}: {getattr(error, 'evalue', error)}"}
    tb = getattr(error, "traceback", None)
    info["traceback"] = _strip_ansi("\n".join(tb) if isinstance(tb, list) else str(error))
    if executed.exists():
        import nbformat
        nb = nbformat.read(executed, as_version=4)
        own = [c for c in nb.cells if c.cell_type == "code"
               and "injected-parameters" not in c.metadata.get("tags", [])]
        numbered = list(enumerate(own, start=1))  # numbered as in the committed notebook
        raised = [(n, c) for n, c in numbered if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        started = [(n, c) for n, c in numbered if c.metadata.get("papermill", {}).get("start_time")]
        if raised or started:
            number, cell = raised[0] if raised else started[-1]
            info.update(cell=number, source=cell.source)
            if not raised and type(error).__name__ == "DeadKernelError":
                info["error"] = f"the kernel died while code cell {number} ran (out of memory?): {info['error']}"
    return info


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
