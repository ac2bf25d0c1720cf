"""The explorer page as a student sees it: `fmlab explore` serves notebook 07 with Voila on 127.0.0.1 in the
smoke profile, headless Chromium opens it, moves the masking-ratio slider with the keyboard and checks that the
masking figure's data changed; then clicks a point of the latent map and checks that its signal is shown. The
time a slider move takes to redraw is printed (not asserted: CI machines differ). Screenshots go to test-output/."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import SHOTS, needs_chromium

# Voila runs the whole notebook before the page works: the smoke models (trained unless cached) and one UMAP,
# whose numba code compiles for about a minute on a fresh machine.
PAGE_SECONDS = 300
MASKING_PLOT = ".fmlab-masking-plot"  # the plotly div itself: data and layout are on it
LATENT_MAP = ".fmlab-latent-map"
# every trace's numbers (heatmaps: z, lines: y) and the title; typed arrays become {"0": ...}, NaN null
FIGURE_DATA = """sel => { const gd = document.querySelector(sel);
    return JSON.stringify([gd.layout.title.text, gd.data.map(t => t.z || t.y || null)]); }"""

pytestmark = [pytest.mark.notebook, needs_chromium]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    """`fmlab explore` on a free port of 127.0.0.1 (FMLAB_CACHE: conftest's temporary one): (address, log file).
    The server is always stopped afterwards."""
    port, log = free_port(), tmp_path_factory.mktemp("voila") / "voila.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "fmlab", "explore", "--port", str(port), "--profile", "smoke"],
                                  stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "MPLBACKEND": "Agg"})
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert server.poll() is None, f"fmlab explore exited with {server.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"Voila did not listen on {port} within 60 s:\n{log.read_text()}"
            time.sleep(0.5)
        address = f"http://127.0.0.1:{port}/"
        assert address in log.read_text(), "fmlab explore must print the address it serves"
        yield address, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()



@pytest.fixture(scope="module")
def opened(explorer, page):
    """The page, once every panel is drawn (the latent map comes from the last cell, so the kernel is idle)."""
    address, log = explorer
    t0 = time.perf_counter()
    page.goto(address, timeout=PAGE_SECONDS * 1000, wait_until="commit")
    try:
        for selector in (MASKING_PLOT, LATENT_MAP):
            page.wait_for_selector(f"{selector} .main-svg", timeout=PAGE_SECONDS * 1000)
    except Exception:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "explorer-not-ready.png"), full_page=True)
        raise AssertionError(f"the explorer page did not draw its panels:\n{log.read_text()[-4000:]}") from None
    print(f"\nexplorer page drawn {time.perf_counter() - t0:.1f} s after opening it (Voila runs the notebook first)")
    return page


def test_moving_the_ratio_slider_redraws_the_masking_figure(opened):
    page = opened
    readout = page.locator(".fmlab-mask-ratio .widget-readout")
    assert readout.inner_text().strip() == "0.75"
    before = page.evaluate(FIGURE_DATA, MASKING_PLOT)
    page.locator(".fmlab-mask-ratio .noUi-handle").focus()
    t0 = time.perf_counter()
    page.keyboard.press("ArrowRight")  # one step: 0.75 -> 0.80
    page.wait_for_function(f"([sel, before]) => ({FIGURE_DATA})(sel) !== before", arg=[MASKING_PLOT, before],
                           timeout=30_000)
    seconds = time.perf_counter() - t0
    print(f"masking figure redrawn {seconds:.2f} s after the slider moved (browser -> kernel -> browser)")
    assert readout.inner_text().strip() == "0.80"
    title, traces = json.loads(page.evaluate(FIGURE_DATA, MASKING_PLOT))
    assert "ratio 0.80" in title
    assert traces != json.loads(before)[1]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)


# Where on the screen the point of the first trace farthest from the selected one (the last trace) is drawn.
FAR_POINT = """sel => { const gd = document.querySelector(sel), t = gd.data[0], cross = gd.data.at(-1);
    const away = i => (t.x[i] - cross.x[0]) ** 2 + (t.y[i] - cross.y[0]) ** 2;
    let best = 0;
    t.x.forEach((x, i) => { if (away(i) > away(best)) best = i; });
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
    return [t.customdata[best], r.left + xa._offset + xa.l2p(t.x[best]), r.top + ya._offset + ya.l2p(t.y[best])]; }"""


def test_clicking_a_point_of_the_latent_map_shows_its_signal(opened):
    page = opened
    signal = page.locator(".fmlab-latent-signal .gtitle")
    first = signal.text_content()  # an SVG <text>: no inner_text
    page.locator(LATENT_MAP).scroll_into_view_if_needed()
    label = page.locator(f"{LATENT_MAP} .hoverlayer .hovertext")
    for _ in range(10):  # plotly clicks the hovered point: hover until its label names ours (the page may still scroll)
        index, x, y = page.evaluate(FAR_POINT, LATENT_MAP)
        page.mouse.move(x, y)
        page.wait_for_timeout(200)
        if label.count() and label.first.text_content().startswith(f"#{index}state"):
            break
    else:
        raise AssertionError(f"hovering ({x:.0f}, {y:.0f}) did not show sample #{index}'s label")
    page.mouse.click(x, y)
    page.wait_for_function("first => document.querySelector('.fmlab-latent-signal .gtitle')?.textContent !== first",
                           arg=first, timeout=30_000)
    assert signal.text_content().startswith(f"#{index} ")
    assert f"nearest neighbours of #{index}</b>" in page.content()
    page.wait_for_function("([sel, i]) => document.querySelector(sel).data.at(-1).customdata[0] === i",  # the cross
                           arg=[LATENT_MAP, index], timeout=10_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "explorer-latent.png"), full_page=True)


def test_the_adaptation_panel_answers_a_slider_at_once_and_fits_on_the_button(opened):
    page = opened
    info = page.locator(".fmlab-adapt-info")
    assert "lora(rank=4)" in info.inner_text()
    page.locator(".fmlab-adapt-rank .noUi-handle").focus()
    page.keyboard.press("ArrowRight")  # rank 4 -> 5: the trainable parameters change, nothing trains
    page.wait_for_function("el => el.innerText.includes('lora(rank=5)')", arg=info.element_handle(), timeout=30_000)
    chart = ".fmlab-adapt-chart"
    points = "sel => document.querySelector(sel).data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0)"
    before = page.evaluate(points, chart)
    page.locator(".fmlab-adapt-fit").click()
    page.wait_for_function(f"([sel, n]) => ({points})(sel) > n", arg=[chart, before], timeout=60_000)
    status = page.locator(".fmlab-adapt-status")
    page.wait_for_function("el => el.innerText.includes('accuracy')", arg=status.element_handle(), timeout=30_000)
    assert "lora(rank=5) on" in status.inner_text()
