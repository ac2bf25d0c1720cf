"""The report's index page: one row per notebook (status, time, what it recorded) and the failures below.

Recorded numbers show 3 significant digits; a recorded table (a dict of rows, e.g. 05's latent table) is drawn
as a table, a dict of numbers as a one-row table. A score below its baseline (the rule is in results.py) is
marked ▼, with the baseline in its tooltip, and counted at the top of the page.
"""
from __future__ import annotations

import html
import time

from .results import Shortfall, duration, is_number, number, shortfalls

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}table.course{width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}
table.metric td,table.metric th{padding:.1em .6em;border-bottom:1px solid #eee;font-size:.9em}
table.metric td.n{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-size:.9em;color:#444;padding-top:.4em}
table.course>tbody>tr>td:nth-child(-n+3),table.metric th,.worse{white-space:nowrap}
tr.failed>td:nth-child(2){color:#b00;font-weight:bold}tr.ok>td:nth-child(2){color:#070}
.worse{color:#b00;font-weight:bold}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}pre.tb{background:#fff0f0}"""


def index_html(profile: str, results: list[dict]) -> str:
    """The whole page for the ``results`` of run_course (each: notebook, status, seconds, metrics, ...)."""
    rows, failures, flagged = [], [], 0
    for r in results:
        below = {s.where: s for s in shortfalls(r["metrics"])}
        flagged += len(below)
        link = f'<a href="{r["html"]}">{r["notebook"]}</a>' if r.get("html") else r["notebook"]
        rows.append(f'<tr class="{r["status"]}"><td>{link}</td><td>{r["status"]}</td>'
                    f'<td>{duration(r["seconds"])}</td><td>{_metrics(r["metrics"], below)}</td></tr>')
        if r["status"] != "ok":
            failures.append(f'<h3 id="fail-{r["notebook"]}">{r["notebook"]}: code cell {r.get("cell", "?")}</h3>'
                            f'<p>{html.escape(r["error"])}</p><pre>{html.escape(r.get("source", ""))}</pre>'
                            f'<pre class="tb">{html.escape(r.get("traceback", ""))}</pre>')
    failed = sum(r["status"] != "ok" for r in results)
    verdict = f"{failed} of {len(results)} notebooks failed" if failed else f"all {len(results)} notebooks ran"
    worse = (f' &middot; <span class="worse">▼ {flagged} results below their baseline</span> (random init or '
             f'from scratch; hover a ▼ for the baseline)' if flagged else "")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>fmlab report ({profile})</title>
<style>{STYLE}</style></head><body>
<h1>fmlab course report</h1><p>Profile <b>{profile}</b> &middot; {time.strftime('%Y-%m-%d %H:%M')} &middot;
{verdict} in {duration(sum(r["seconds"] for r in results))}{worse}</p>
<table class="course"><tr><th>notebook</th><th>status</th><th>time</th><th>recorded metrics</th></tr>{''.join(rows)}
</table>
{'<h2>Failures</h2>' + ''.join(failures) if failures else ''}</body></html>"""


def _metrics(metrics: dict, below: dict[tuple, Shortfall]) -> str:
    """Scalars as ``name = value`` lines, then each table."""
    lines = [f"{html.escape(k)} = {_value(v, below.get((k,)))}" for k, v in metrics.items() if not isinstance(v, dict)]
    tables = [_table(k, v, below) for k, v in metrics.items() if isinstance(v, dict)]
    return "<br>".join(lines) + "".join(tables) or "&mdash;"


def _table(name: str, table: dict, below: dict[tuple, Shortfall]) -> str:
    caption = f"<caption>{html.escape(name)}</caption>"
    if not all(isinstance(v, dict) for v in table.values()):  # a dict of values: one row, its keys as header
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in table)
        cells = "".join(_cell(v, below.get((name, str(k)))) for k, v in table.items())
        return f'<table class="metric">{caption}<tr>{head}</tr><tr>{cells}</tr></table>'
    columns = list(dict.fromkeys(c for row in table.values() for c in row))  # in order of first appearance
    head = "<th></th>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(f"<tr><th>{html.escape(str(r))}</th>"
                   + "".join(_cell(row.get(c, "—"), below.get((name, str(r), str(c)))) for c in columns) + "</tr>"
                   for r, row in table.items())
    return f'<table class="metric">{caption}<tr>{head}</tr>{body}</table>'


def _cell(value, shortfall: Shortfall | None) -> str:
    return f'<td class="n">{_value(value, shortfall)}</td>' if is_number(value) else f"<td>{_value(value, None)}</td>"


def _value(value, shortfall: Shortfall | None) -> str:
    """A recorded value as text (3 significant digits, lists and deeper dicts inline), marked when below baseline."""
    text = html.escape(_plain(value))
    return f'<span class="worse" title="{html.escape(str(shortfall))}">{text} ▼</span>' if shortfall else text


def _plain(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return number(value)
