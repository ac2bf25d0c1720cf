"""An executed notebook as one HTML file that needs no network: opened from disk on a machine offline, it shows
every figure, equation and table.

nbconvert's page would fetch four things from a CDN: require.js, MathJax, mermaid and, with saved widget
state, the widget renderer. None is needed here:
- require.js loads AMD modules for old-style notebook JavaScript; no output of the course uses it (fmlab's
  plotly figures carry plotly.js inline);
- equations are drawn when the page is written: each TeX formula in a markdown cell ($...$ inline,
  $$...$$ on its own line) or in a LaTeX output becomes an SVG image by matplotlib's mathtext, which reads
  the common subset of TeX (fractions, sums, roots, accents, Greek, \\mathbb, \\text); a formula it cannot
  read stays as its TeX source;
- mermaid diagrams (none in the course) stay as their source text;
- saved widget state is dropped, so each widget shows its static fallback (a PNG, or its text).
"""
from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

# nbconvert's lab page without the blocks that load scripts from a CDN
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
# $$display$$, or $inline$ as pandoc reads it: no space inside the dollars, no digit right after the closing one
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])", re.S)
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)  # formulas inside code stay code
POINTS = 11  # the formula's font size: about that of the page's text (14 px)


def export_html(executed: Path) -> str:
    """Write ``executed`` (an .ipynb) as HTML beside it; returns the HTML file's name."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    nb = nbformat.read(executed, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = typeset(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/latex" in data and "text/html" not in data:
                data["text/html"] = typeset(data.pop("text/latex"))
    exporter = HTMLExporter(template_name="lab", template_file="fmlab_offline.html.j2",
                            extra_loaders=[DictLoader({"fmlab_offline.html.j2": OFFLINE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(nb)
    path = executed.with_suffix(".html")
    path.write_text(body)
    return path.name


def typeset(markdown: str) -> str:
    """``markdown`` with each TeX formula outside code replaced by an inline SVG image of it."""
    parts = CODE.split(markdown)
    parts[::2] = [MATH.sub(_formula_image, part) for part in parts[::2]]
    return "".join(parts)


def _formula_image(match: re.Match) -> str:
    display = match.group(1) is not None
    # IPython's Math() output starts with \displaystyle, which mathtext does not know (its fractions are full size)
    tex = (match.group(1) if display else match.group(2)).strip().removeprefix("\\displaystyle").strip()
    try:
        svg, depth = formula_svg(tex)
    except ValueError:  # outside mathtext's subset of TeX: the source is still better than nothing
        return match.group(0)
    image = (f'<img class="fmlab-math" alt="{html.escape(tex)}" style="vertical-align:-{depth:.1f}pt" '
             f'src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">')
    return f'<span style="display:block;text-align:center">{image}</span>' if display else image


def formula_svg(tex: str) -> tuple[bytes, float]:
    """The TeX formula ``tex`` (no dollars) drawn as SVG, glyphs as paths so no font is needed, and how far
    in points it reaches below the text's baseline; ValueError if mathtext cannot read it."""
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties
    prop = FontProperties(size=POINTS)
    depth = mathtext.MathTextParser("path").parse(f"${tex}$", dpi=72, prop=prop).depth
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):  # a user's rc may ask for text, which needs the font
        mathtext.math_to_image(f"${tex}$", buffer, prop=prop, format="svg")
    return buffer.getvalue(), depth
