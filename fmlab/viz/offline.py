"""Plotly figures that draw offline: in JupyterLab, in an nbconvert HTML report, on a page with no internet.

    plotly_offline(fig)            # a notebook cell's value: plotly's renderer live, HTML with plotly.js in reports
    plotly_html(fig)               # the HTML of one or more figures; plotly.js goes into the first one of a kernel
"""
from __future__ import annotations

import json

_PLOTLYJS_SENT = False  # plotly.js goes into the first figure drawn in this kernel; later ones reuse it


def plotly_html(*figs) -> str:
    """The figures as HTML divs, plotly.js inline in the first one this kernel draws (no CDN: it draws offline)."""
    global _PLOTLYJS_SENT
    parts = []
    for fig in figs:
        parts.append(fig.to_html(full_html=False, include_plotlyjs=not _PLOTLYJS_SENT, include_mathjax=False))
        _PLOTLYJS_SENT = True
    return "".join(parts)


class OfflinePlotly:
    """A plotly figure for a notebook cell: plotly's own renderer in JupyterLab, and HTML with plotly.js
    embedded for nbconvert reports and other viewers (no CDN, so it draws offline)."""

    def __init__(self, fig):
        self.figure = fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"application/vnd.plotly.v1+json": json.loads(self.figure.to_json()),
                "text/html": plotly_html(self.figure),
                "text/plain": f"<plotly figure: {self.figure.layout.title.text}>"}


def plotly_offline(fig) -> OfflinePlotly:
    """Show a plotly figure as a cell's value so that it draws live and in the offline HTML report."""
    return OfflinePlotly(fig)
