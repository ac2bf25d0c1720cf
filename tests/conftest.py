import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

# Set before fmlab or matplotlib import: no windows, and caches that never touch the user's home.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FMLAB_CACHE", tempfile.mkdtemp(prefix="fmlab-test-cache-"))
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "fmlab-numba-cache"))


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the suite was started in the background
    with SIGINT ignored (``nohup ... &``): the interrupt tests send SIGINT to themselves."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (request it with pytestmark = pytest.mark.usefixtures("one_thread")).
    Models this small gain nothing from threads and lose much when the cores are shared; per test, since aeon's
    numba kernels (MiniRocket) reset the OpenMP thread count torch shares."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole course executed once in the smoke profile: (report folder, {notebook: result})."""
    from fmlab import course
    out = course.run_course("smoke", out=tmp_path_factory.mktemp("report"), progress=False, timeout=600)
    return out, {r["notebook"]: r for r in json.loads((out / "summary.json").read_text())["notebooks"]}


# Browser tests: Debian's chromium driven by playwright (`playwright install` cannot download a browser here).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("FMLAB_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output"))
needs_chromium = pytest.mark.skipif(not (Path(CHROMIUM).exists() and os.environ.get("FMLAB_SKIP_BROWSER") is None),
                                    reason="needs Chromium (apt-get install chromium; .ci/run installs it)")


# The plotly hover label of sample i on the latent map (interactive_scatter's hover text starts "#i" then "state").
HOVERED = """([sel, i]) => (document.querySelector(sel + ' .hoverlayer .hovertext')?.textContent ?? '')
    .startsWith(`#${i}state`)"""


def hover_a_point(page, sel: str, target: str, arg) -> tuple[int, float, float]:
    """Hover the point that the page function ``target(arg)`` picks ([sample index, x, y]) on the latent map ``sel``
    until plotly labels it (a click acts on the hovered point): (index, x, y)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for _ in range(5):  # the page may still scroll or relayout under the mouse: move away and back, look again
        index, x, y = page.evaluate(target, arg)
        page.mouse.move(x - 40, y - 40)
        page.mouse.move(x, y)
        try:
            page.wait_for_function(HOVERED, arg=[sel, index], timeout=3_000)
            return index, x, y
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"hovering ({x:.0f}, {y:.0f}) did not show sample #{index}'s label")


@pytest.fixture(scope="module")
def page():
    """One headless Chromium page per test module (screenshots go to SHOTS)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        yield browser.new_page(viewport={"width": 1280, "height": 1000})
        browser.close()


def stop(server: subprocess.Popen, seconds: float = 30) -> None:
    """End a server a test started: SIGTERM, then SIGKILL if it has not exited within ``seconds``."""
    server.terminate()
    try:
        server.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
