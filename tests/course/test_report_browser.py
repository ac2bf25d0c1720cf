"""The report as a person sees it: headless Chromium opens index.html, follows a notebook link and
checks that its figures are drawn (images and plotly figures), with every request the pages make recorded and
none leaving the report (127.0.0.1 when served, file:// when opened from disk, or data: inside the page).
A small report opened from disk in an offline browser shows its equations, figures and table.
A screenshot of each page is kept in test-output/."""
import functools
import http.server
import re
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import SHOTS, needs_chromium
from fmlab import course

PLOTLY_MIME = "application/vnd.plotly.v1+json"
# plotly.js itself mentions cdn.plot.ly (a default URL for map data); loading from it is what must not happen
FROM_PLOTLY_CDN = re.compile(r"(src=|import\s*)[\"']https?://cdn\.plot\.ly")

pytestmark = [pytest.mark.notebook, pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def served(smoke_run):
    out, results = smoke_run
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", results
    server.shutdown()


def outside(requests: list[str], *allowed: str) -> list[str]:
    """The requested URLs that leave the report: not under ``allowed`` and not data: / blob: inside the page."""
    return [u for u in requests if not u.startswith((*allowed, "data:", "blob:", "about:"))]


def test_index_lists_each_notebook_with_status(served, page):
    url, results = served
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"{url}/index.html")
    page.wait_for_load_state("networkidle")
    assert not outside(fetched, url), f"the index fetched {outside(fetched, url)}"
    rows = page.locator("table.course > tbody > tr").all_inner_texts()[1:]  # not the rows of metric tables
    assert [r.split()[0] for r in rows] == list(results)
    assert all("ok" in r for r in rows), rows
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "index.png"), full_page=True)


def plotly_outputs(path: Path) -> int:
    """How many outputs of an executed notebook hold a plotly figure (each must draw in the HTML)."""
    nb = nbformat.read(path, as_version=4)
    return sum(PLOTLY_MIME in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_every_notebook_page_draws_its_figures(served, page, smoke_run):
    url, results = served
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    for stem in results:
        fetched.clear()
        page.goto(f"{url}/index.html")
        page.click(f"text={stem}")
        page.wait_for_load_state("load")
        images = page.locator(".jp-OutputArea-output img, .output_png img, img")
        n = images.count()
        assert n > 0, f"{stem}: no figures in the HTML"
        # a drawn figure has pixels: naturalWidth is 0 for a broken or empty image
        widths = images.evaluate_all("els => els.map(e => e.naturalWidth)")
        content = page.content()
        assert "unpkg.com" not in content, f"{stem}: the page needs the internet to draw its widgets"
        assert all(w > 50 for w in widths), f"{stem}: undrawn figures {widths}"
        assert not FROM_PLOTLY_CDN.search(content), f"{stem}: the page loads plotly.js from the internet"
        page.wait_for_load_state("networkidle")
        assert not outside(fetched, url), f"{stem}: the page fetched {outside(fetched, url)}"
        # a drawn plotly figure has an <svg class="main-svg"> of non-zero size inside its div
        page.wait_for_function("() => [...document.querySelectorAll('.plotly-graph-div')]"
                               ".every(d => d.querySelector('.main-svg'))", timeout=15000)
        sizes = page.locator(".plotly-graph-div").evaluate_all(
            "els => els.map(e => { const r = e.querySelector('.main-svg').getBoundingClientRect();"
            " return [r.width, r.height]; })")
        assert all(w > 50 and h > 50 for w, h in sizes), f"{stem}: undrawn plotly figures {sizes}"
        expected = plotly_outputs(smoke_run[0] / f"{stem}.ipynb")
        assert len(sizes) >= expected, f"{stem}: {expected} plotly outputs but {len(sizes)} figures on the page"
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=True)


OFFLINE_CELLS = [
    ("markdown", r"The masked loss $\mathcal{L} = \frac{1}{|M|}\sum_{i \in M} (\hat{x}_i - x_i)^2$, and the EMA step"
                 "\n\n" r"$$\theta \leftarrow m\,\theta + (1 - m)\,\xi$$"),
    ("code", "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([0, 1, 0])\nplt.show()"),
    ("code", "import plotly.graph_objects as go\nfrom IPython.display import HTML\n"
             "HTML(go.Figure(go.Scatter(y=[1, 3, 2])).to_html(full_html=False, include_plotlyjs=True))"),
    ("code", "import pandas as pd\npd.DataFrame({'strategy': ['probe', 'lora'], 'accuracy': [0.61, 0.72]})"),
    ("code", r"from IPython.display import Math" "\n" r"Math(r'\sqrt{d_k}')"),
]


@pytest.fixture(scope="module")
def offline_report(tmp_path_factory) -> Path:
    """A one-notebook report holding what the course's pages hold: equations, a matplotlib figure, a plotly figure
    (plotly.js inline, as fmlab.viz draws them) and a table."""
    nbs = tmp_path_factory.mktemp("offline-nbs")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_markdown_cell(s) if kind == "markdown" else nbformat.v4.new_code_cell(s)
                           for kind, s in OFFLINE_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbs / "00_offline.ipynb")
    return course.run_course("smoke", directory=nbs, out=tmp_path_factory.mktemp("offline-report"), progress=False,
                             timeout=120)


def test_a_report_opened_from_disk_offline_shows_every_equation_figure_and_table(offline_report, page):
    html = (offline_report / "00_offline.html").read_text()
    assert not re.search(r"<script[^>]+src=", html), "the page loads a script from elsewhere"
    context = page.context.browser.new_context(offline=True, viewport={"width": 1280, "height": 1000})
    offline = context.new_page()
    fetched = []
    offline.on("request", lambda r: fetched.append(r.url))
    offline.goto((offline_report / "index.html").as_uri())
    offline.click("text=00_offline")
    offline.wait_for_load_state("load")
    formulas = offline.locator("img.fmlab-math").evaluate_all("els => els.map(e => [e.naturalWidth, e.alt])")
    assert len(formulas) == 3 and all(w > 5 for w, _ in formulas), f"undrawn equations {formulas}"
    offline.wait_for_function("() => document.querySelector('.plotly-graph-div .main-svg')", timeout=15000)
    widths = offline.locator("img:not(.fmlab-math)").evaluate_all("els => els.map(e => e.naturalWidth)")
    assert widths and all(w > 50 for w in widths), f"undrawn figures {widths}"
    assert offline.locator("table.dataframe td", has_text="0.72").count() == 1
    assert not outside(fetched, "file://"), f"the report fetched {outside(fetched, 'file://')}"
    SHOTS.mkdir(exist_ok=True)
    offline.screenshot(path=str(SHOTS / "offline.png"), full_page=True)
    context.close()
