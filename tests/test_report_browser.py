"""The report as a person sees it: headless Chromium opens index.html, follows a notebook link and
checks that its figures are drawn (images and plotly figures), with nothing fetched from a widget or plotly
CDN. A screenshot of each page is kept in test-output/."""
import functools
import http.server
import re
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import SHOTS, needs_chromium

PLOTLY_MIME = "application/vnd.plotly.v1+json"
# plotly.js itself mentions cdn.plot.ly (a default URL for map data); loading from it is what must not happen
FROM_PLOTLY_CDN = re.compile(r"(src=|import\s*)[\"']https?://cdn\.plot\.ly")

pytestmark = [pytest.mark.notebook, needs_chromium]


@pytest.fixture(scope="module")
def served(smoke_run):
    out, results = smoke_run
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", results
    server.shutdown()


def test_index_lists_each_notebook_with_status(served, page):
    url, results = served
    page.goto(f"{url}/index.html")
    rows = page.locator("table tr").all_inner_texts()[1:]
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
        assert not [u for u in fetched if "cdn.plot.ly" in u or "unpkg.com" in u], f"{stem}: fetched {fetched}"
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
