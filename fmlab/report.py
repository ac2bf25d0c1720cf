"""Recording metrics from notebooks, and the course runner that turns notebooks into a report.

In a notebook:  ``fmlab.report.record("probe_acc", 0.83)``.
From the shell: ``fmlab report --profile smoke`` executes every notebook with papermill, each in a fresh
kernel, and writes reports/<profile>-<timestamp>/ with the executed notebooks, their HTML, metrics.json
and an index.html. A failing notebook is reported (cell and traceback) and the others still run.
"""
from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path

METRICS_ENV = "FMLAB_METRICS_FILE"
RECORDED: dict[str, object] = {}
REPO = Path(__file__).resolve().parents[1]


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
    print(f"recorded {name} = {shown}")


def notebooks(directory: Path | None = None, only: list[str] | None = None) -> list[Path]:
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
    Each notebook's outcome is in ``<folder>/summary.json`` (status "ok" or "failed")."""
    import papermill as pm
    from tqdm.auto import tqdm
    from .profiles import get_profile

    get_profile(profile)  # an unknown profile, or --only matching nothing, fails before any folder is made
    nbs = notebooks(directory, only=only)
    out = Path(out or REPO / "reports" / f"{profile}-{time.strftime('%Y%m%d-%H%M%S')}")
    (out / "metrics").mkdir(parents=True, exist_ok=True)
    results = []
    bar = tqdm(nbs, desc=f"course ({profile})", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        executed, metrics_file = out / nb.name, out / "metrics" / f"{nb.stem}.json"
        metrics_file.unlink(missing_ok=True)
        env = {METRICS_ENV: str(metrics_file), "FMLAB_PROFILE": profile}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the kernel inherits our environment
        t0, result = time.perf_counter(), {"notebook": nb.stem, "status": "ok"}
        try:
            pm.execute_notebook(str(nb), str(executed), parameters={"profile": profile, **(params or {})},
                                cwd=str(nb.parent), execution_timeout=timeout, progress_bar=False,
                                kernel_name="python3", log_output=False)
        except Exception as e:  # noqa: BLE001 - a failing notebook must not stop the course
            result.update(status="failed", **_failure(executed, e))
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        result["metrics"] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        if executed.exists():
            result["html"] = _export_html(executed)
        results.append(result)
    (out / "metrics.json").write_text(json.dumps({r["notebook"]: r["metrics"] for r in results}, indent=1))
    (out / "summary.json").write_text(json.dumps({"profile": profile, "notebooks": results}, indent=1))
    (out / "index.html").write_text(_index_html(profile, results))
    return out


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
    import re
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _export_html(executed: Path) -> str:
    """HTML that works offline: saved widget state would make the page fetch the widget renderer from
    the internet, so it is dropped and each widget shows its static fallback (e.g. a PNG) instead."""
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.read(executed, as_version=4)
    nb.metadata.pop("widgets", None)
    body, _ = HTMLExporter().from_notebook_node(nb)
    path = executed.with_suffix(".html")
    path.write_text(body)
    return path.name


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(json.dumps(value) if isinstance(value, (dict, list)) else str(value))


def _index_html(profile: str, results: list[dict]) -> str:
    failed = sum(r["status"] != "ok" for r in results)
    rows, failures = [], []
    for r in results:
        link = f'<a href="{r["html"]}">{r["notebook"]}</a>' if r.get("html") else r["notebook"]
        metrics = "<br>".join(f"{html.escape(k)} = {_fmt(v)}" for k, v in r["metrics"].items()) or "&mdash;"
        rows.append(f'<tr class="{r["status"]}"><td>{link}</td><td>{r["status"]}</td>'
                    f'<td>{r["seconds"]:.1f} s</td><td>{metrics}</td></tr>')
        if r["status"] != "ok":
            failures.append(f'<h3 id="fail-{r["notebook"]}">{r["notebook"]}: code cell {r.get("cell", "?")}</h3>'
                            f'<p>{html.escape(r["error"])}</p><pre>{html.escape(r.get("source", ""))}</pre>'
                            f'<pre class="tb">{html.escape(r.get("traceback", ""))}</pre>')
    total = sum(r["seconds"] for r in results)
    verdict = f"{failed} of {len(results)} notebooks failed" if failed else f"all {len(results)} notebooks ran"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>fmlab report ({profile})</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}}
tr.failed td:nth-child(2){{color:#b00;font-weight:bold}}tr.ok td:nth-child(2){{color:#070}}
pre{{background:#f6f6f6;padding:.6em;overflow-x:auto}}pre.tb{{background:#fff0f0}}</style></head><body>
<h1>fmlab course report</h1><p>Profile <b>{profile}</b> &middot; {time.strftime('%Y-%m-%d %H:%M')} &middot;
{verdict} in {total:.0f} s</p>
<table><tr><th>notebook</th><th>status</th><th>time</th><th>recorded metrics</th></tr>{''.join(rows)}</table>
{'<h2>Failures</h2>' + ''.join(failures) if failures else ''}</body></html>"""
