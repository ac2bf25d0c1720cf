"""The report as a person sees it: headless Chromium opens index.html, follows a notebook link and
checks that its figures are drawn. A screenshot of each page is kept in test-output/."""
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("FMLAB_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output"))

pytestmark = [pytest.mark.notebook, pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and os.environ.get("FMLAB_SKIP_BROWSER") is None),
    reason="needs Chromium (apt-get install chromium; .ci/run installs it)")]


@pytest.fixture(scope="module")
def served(smoke_run):
    out, results = smoke_run
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", results
    server.shutdown()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        yield browser.new_page(viewport={"width": 1200, "height": 900})
        browser.close()


def test_index_lists_each_notebook_with_status(served, page):
    url, results = served
    page.goto(f"{url}/index.html")
    rows = page.locator("table tr").all_inner_texts()[1:]
    assert [r.split()[0] for r in rows] == list(results)
    assert all("ok" in r for r in rows), rows
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "index.png"), full_page=True)


def test_every_notebook_page_draws_its_figures(served, page):
    url, results = served
    for stem in results:
        page.goto(f"{url}/index.html")
        page.click(f"text={stem}")
        page.wait_for_load_state("load")
        images = page.locator(".jp-OutputArea-output img, .output_png img, img")
        n = images.count()
        assert n > 0, f"{stem}: no figures in the HTML"
        # a drawn figure has pixels: naturalWidth is 0 for a broken or empty image
        widths = images.evaluate_all("els => els.map(e => e.naturalWidth)")
        assert "unpkg.com" not in page.content(), f"{stem}: the page needs the internet to draw its widgets"
        assert all(w > 50 for w in widths), f"{stem}: undrawn figures {widths}"
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=True)
