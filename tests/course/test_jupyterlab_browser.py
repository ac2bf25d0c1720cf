"""The course in JupyterLab as a student sees it: `jupyter lab` (this venv's) on 127.0.0.1 with its own token, over a
temporary folder holding copies of the notebooks set to the smoke profile (papermill's parameters, as the course runner
sets them, and FMLAB_PROFILE=smoke), and headless Chromium driving it through the menus.

1. 01_mae, Run > Run All Cells: no cell has an error output (read from the notebook JupyterLab saves); fit()'s tqdm
   bar is drawn as a jupyter-widgets progress bar, not as text; the masking explorer shows a "mask ratio" slider, and
   one step of it (keyboard, 0.75 -> 0.80) redraws the explorer's image (its src changes).
2. 05_latent_spaces, Run All: no error; the UMAP figure (plotly's JupyterLab renderer) and the latent explorer's map
   (a plotly FigureWidget) are drawn with data; clicking a point of the map shows that sample in the signal panel.
3. The student notebooks (`fmlab labs build --out DIR`): in the first notebook with an exercise, Run All stops at the
   first check cell, which shows the "write the function first" message alone, not a traceback.

The server touches none of the user's Jupyter state: config, data, runtime, workspaces, settings and IPython dirs are
temporary, and so is FMLAB_CACHE (its own, not conftest's, so that 01 really trains its model and shows the bar even
when an earlier test cached the smoke models). Screenshots of each stage go to test-output/lab-*.png.

FMLAB_LAB_DISABLE=name[,name...] disables those JupyterLab extensions (the temporary config's
labconfig/page_config.json), to see the widget assertions fail: with
``FMLAB_LAB_DISABLE=@jupyter-widgets/jupyterlab-manager`` the progress bar, slider and latent-explorer tests fail.
"""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import SHOTS, hover_a_point, needs_chromium, stop

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

pytestmark = [pytest.mark.notebook, pytest.mark.browser, needs_chromium]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SERVER_SECONDS = 90     # jupyter lab answering /api/status
RUN_SECONDS = 600       # Run All of one notebook: smoke models train in seconds, a fresh UMAP compiles for a minute
WIDGET_MS = 90_000      # a widget drawn after its cell ran (anywidget's plotly code is 5 MB)
ALWAYS_DISABLED = ["@jupyterlab/apputils-extension:announcements"]  # its news toast asks the internet, covers cells

# Run All is over when some cell has a number and none waits ([*]); an error stops the rest, which stay blank.
PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim())"""
STARTED = f"() => ({PROMPTS})().some(p => p.includes('*') || /\\d/.test(p))"
RAN = f"""() => {{ const prompts = ({PROMPTS})();
    return prompts.some(p => /^\\[\\d+\\]:$/.test(p)) && !prompts.some(p => p.includes('*')); }}"""
# The plotly graph div at or under el: how many of its traces are drawn with data (0: not drawn). _fullData, as plotly
# drew them: its renderer's JSON sends arrays base64-encoded ({dtype, bdata}), which gd.data keeps as they came.
TRACES = """el => { const gd = el.classList.contains('js-plotly-plot') ? el : el.querySelector('.js-plotly-plot');
    return gd && gd.querySelector('.main-svg') && gd._fullData
        ? gd._fullData.filter(t => t.visible === true && t._length > 0).length : 0; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smoke_copy(source: Path, target: Path) -> Path:
    """``source`` written to ``target`` with the smoke profile injected after its parameters cell, as papermill (the
    course runner) does."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    nb = parameterize_notebook(load_notebook_node(str(source)), {"profile": "smoke"})
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def first_exercise() -> tuple[str, str]:
    """(the stem of the first notebook with an exercise, the name of its first exercise)."""
    from fmlab.course.labs import exercises_in
    stem, cells = next(iter(exercises_in(NOTEBOOKS).items()))
    return stem, cells[0][0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`jupyter lab` over a temporary root holding smoke copies of 01 and 05 and the student notebooks in student/:
    {"url", "token", "root", "log"}. The server (and its kernels) is stopped afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    root, home = tmp / "root", tmp / "jupyter"
    for stem in ("01_mae", "05_latent_spaces"):
        smoke_copy(NOTEBOOKS / f"{stem}.ipynb", root / f"{stem}.ipynb")
    built = subprocess.run([sys.executable, "-m", "fmlab", "labs", "build", "--out", str(tmp / "built")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"fmlab labs build failed:\n{built.stdout}\n{built.stderr}"
    stem, _ = first_exercise()
    smoke_copy(tmp / "built" / f"{stem}.ipynb", root / "student" / f"{stem}.ipynb")

    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    disabled = ALWAYS_DISABLED + [n for n in os.environ.get("FMLAB_LAB_DISABLE", "").split(",") if n.strip()]
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name.strip(): True for name in disabled}}))
    env = {**os.environ, "FMLAB_PROFILE": "smoke", "FMLAB_CACHE": str(tmp / "fmlab-cache"),
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
    env.pop("MPLBACKEND", None)  # conftest's Agg is for the tests; the kernel is as `make lab` starts it
    port, token, log = free_port(), secrets.token_hex(16), tmp / "lab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_SECONDS
        while True:
            assert server.poll() is None, f"jupyter lab exited with {server.returncode}:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"jupyter lab did not answer within {SERVER_SECONDS} s:\n" \
                                                f"{log.read_text()}"
            time.sleep(0.5)
        yield {"url": url, "token": token, "root": root, "log": log, "contexts": []}
    finally:
        stop(server)


def api(lab, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{lab['url']}{path}", method=method,
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lab-{name}.png"))


def cell(opened, code: str):
    """The code cell whose source matches the regular expression ``code`` (re.M), scrolled into view. Found by its
    index in the saved notebook: JupyterLab makes a cell's editor only once it has been on screen, so the page has
    no text to find it by."""
    cells = opened.notebook.cells
    index = next((i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(code, c.source, re.M)), None)
    assert index is not None, f"no code cell holds {code!r} (the notebook changed?)"
    found = opened.page.locator(f".jp-Notebook .jp-Cell[data-windowed-list-index='{index}']")
    found.scroll_into_view_if_needed()
    return found


class Opened:
    """A notebook opened in its own JupyterLab page and run: .page, .notebook (as saved after the run), .console
    (the page's console errors and uncaught exceptions), .seconds (Run All until the kernel was done)."""

    def __init__(self, page, notebook, console, seconds):
        self.page, self.notebook, self.console, self.seconds = page, notebook, console, seconds

    def errors(self) -> list[str]:
        return [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(self.notebook.cells)
                if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]

    def assert_ran_whole(self, name: str) -> None:
        """No cell has an error output and every code cell has run."""
        assert not self.errors(), f"{name} in JupyterLab: {self.errors()}"
        unrun = [i for i, c in enumerate(self.notebook.cells) if c.cell_type == "code" and not c.execution_count]
        assert not unrun, f"{name}: cells {unrun} did not run"


def read_saved(path: Path, before: int, seconds: float = 60):
    """The notebook at ``path`` once JupyterLab has saved it (its mtime is no longer ``before``, and it parses)."""
    deadline = time.monotonic() + seconds
    while True:
        if path.stat().st_mtime_ns != before:
            try:
                return nbformat.read(path, as_version=4)
            except (OSError, ValueError):  # caught mid-write (JupyterLab writes atomically by default, but still)
                pass
        assert time.monotonic() < deadline, f"JupyterLab did not save {path.name} within {seconds:.0f} s"
        time.sleep(0.2)


def wait_until_idle(tab, deadline: float, quiet: float = 5.0) -> None:
    """Until the kernel has been idle for ``quiet`` seconds: JupyterLab draws only the cells near the viewport, so the
    prompts RAN reads can all be done while cells further down still wait in the kernel's queue (seen under load)."""
    since = None
    while True:
        idle = tab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
        since = (since or time.perf_counter()) if idle else None
        if since is not None and time.perf_counter() - since >= quiet:
            return
        assert time.perf_counter() < deadline, "the kernel was still busy when Run All's time ran out"
        time.sleep(0.5)


def open_and_run(page, lab, path: str, name: str) -> Opened:
    """Open ``path`` (relative to the server's root) in a page of its own (the earlier ones closed and their kernels
    shut down), Run > Run All Cells, wait until no cell waits, save it, and read what it saved."""
    while lab["contexts"]:
        lab["contexts"].pop().close()  # no beforeunload: a navigation away could wait on JupyterLab's "leave?"
    for kernel in api(lab, "/api/kernels"):
        api(lab, f"/api/kernels/{kernel['id']}", "DELETE")
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 1000})
    lab["contexts"].append(context)
    tab = context.new_page()
    console = []
    tab.on("console", lambda m: m.type == "error" and console.append(m.text))
    tab.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
    saved = lab["root"] / path
    before = saved.stat().st_mtime_ns
    # a workspace of its own: JupyterLab opens this notebook alone, whatever an earlier page left open
    tab.goto(f"{lab['url']}/lab/workspaces/{name}/tree/{path}?token={lab['token']}", timeout=120_000)
    try:
        tab.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
        tab.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)  # kernel up
        tab.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=120_000)
        t0 = time.perf_counter()
        for attempt in range(2):
            tab.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            tab.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
            try:
                tab.wait_for_function(STARTED, timeout=60_000, polling=250)
                break
            except PlaywrightTimeout:
                if attempt:
                    raise
                print(f"\n{path}: Run All started nothing in 60 s (prompts {tab.evaluate(PROMPTS)}); again")
        tab.wait_for_function(RAN, timeout=RUN_SECONDS * 1000, polling=500)
        wait_until_idle(tab, t0 + RUN_SECONDS)
        seconds = time.perf_counter() - t0
        tab.locator(".lm-MenuBar-item", has_text=re.compile(r"^File$")).click()
        tab.locator(".lm-Menu-item[data-command='docmanager:save']").click()
        notebook = read_saved(saved, before)
    except (PlaywrightTimeout, AssertionError) as e:
        shot(tab, f"{name}-not-run")
        prompts = tab.evaluate(PROMPTS)
        raise AssertionError(f"{path} did not run in JupyterLab: {str(e).splitlines()[0]} (prompts {prompts}; "
                             f"screenshot test-output/lab-{name}-not-run.png); page errors {console}; server log:\n"
                             f"{lab['log'].read_text()[-3000:]}") from None
    print(f"\n{path}: Run All took {seconds:.0f} s in JupyterLab; page errors: {console or 'none'}")
    return Opened(tab, notebook, console, seconds)


# -- 1. notebook 01: the progress bar and the masking explorer are widgets --------------------------------------------
@pytest.fixture(scope="module")
def mae_notebook(lab, page):
    return open_and_run(page, lab, "01_mae.ipynb", "mae")


def test_01_runs_without_an_error(mae_notebook):
    mae_notebook.assert_ran_whole("01_mae")


def test_01_the_progress_bar_is_a_widget(mae_notebook):
    page = mae_notebook.page
    training = cell(mae_notebook, r'pretrained\("mae"')
    bar = training.locator(".jp-OutputArea .jupyter-widgets.widget-hprogress .progress-bar")
    try:
        bar.first.wait_for(state="visible", timeout=WIDGET_MS)
    except PlaywrightTimeout:
        shot(page, "mae-progress")
        text = training.locator(".jp-OutputArea").text_content()
        raise AssertionError(f"no jupyter-widgets progress bar in the training cell's output (screenshot "
                             f"test-output/lab-mae-progress.png); it shows: {text[-600:]!r}") from None
    box = bar.first.bounding_box()
    assert box and box["width"] > 50, f"the progress bar is not drawn: {box}"
    as_text = training.locator(".jp-OutputArea .jp-RenderedText").all_text_contents()
    assert not any("it/s" in t for t in as_text), f"tqdm also printed its bar as text: {as_text}"
    bar.first.scroll_into_view_if_needed()
    shot(page, "mae-progress")


def test_01_the_masking_explorer_redraws_when_its_ratio_slider_moves(mae_notebook):
    page = mae_notebook.page
    explorer = cell(mae_notebook, r"\w+\(mae, held_out\)$")
    slider = explorer.locator(".widget-hslider").filter(
        has=page.locator(".widget-label", has_text=re.compile(r"^mask ratio$")))
    try:
        slider.wait_for(state="visible", timeout=WIDGET_MS)
    except PlaywrightTimeout:
        shot(page, "mae-explorer")
        shown = explorer.locator(".jp-OutputArea").evaluate(
            "el => [el.textContent.slice(0, 300), el.querySelectorAll('img').length]")
        raise AssertionError(f"the masking explorer shows no 'mask ratio' slider (screenshot "
                             f"test-output/lab-mae-explorer.png); its output: text {shown[0]!r}, "
                             f"{shown[1]} image(s)") from None
    image = explorer.locator(".widget-output img")
    image.wait_for(state="visible", timeout=WIDGET_MS)
    before = image.get_attribute("src")
    assert slider.locator(".widget-readout").text_content().strip() == "0.75"
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")  # one step: 0.75 -> 0.80
    try:
        page.wait_for_function("([el, before]) => { const img = el.querySelector('.widget-output img');"
                               " return img && img.complete && img.src !== before; }",
                               arg=[explorer.element_handle(), before], timeout=60_000)
    except PlaywrightTimeout:
        shot(page, "mae-explorer")
        raise AssertionError("60 s after the ratio slider moved the explorer's image was the same (screenshot "
                             "test-output/lab-mae-explorer.png)") from None
    assert slider.locator(".widget-readout").text_content().strip() == "0.80"
    explorer.locator(".widget-output").scroll_into_view_if_needed()
    shot(page, "mae-explorer")


# -- 2. notebook 05: plotly figures, and a click on the latent explorer's map -----------------------------------------
LATENT_MAP, LATENT_SIGNAL = ".fmlab-latent-map", ".fmlab-latent-signal"
# The point of the map to click, as [its sample index, x, y in the page]: drawn well inside the axes, not the one
# shown now, and the most isolated one on the screen (the hover, which a click acts on, cannot pick a neighbour).
TARGET = """([sel, shown]) => { const gd = document.querySelector(sel), r = gd.getBoundingClientRect();
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, pts = [];
    gd._fullData.forEach(t => t.visible === true && t.customdata && Array.from(t.x).forEach((x, i) => {
        const px = xa.l2p(x), py = ya.l2p(t.y[i]);
        if (px > 15 && py > 15 && px < xa._length - 15 && py < ya._length - 15) pts.push([t.customdata[i], px, py]);
    }));
    let best = null, room = -1;
    for (const [i, px, py] of pts) {
        if (i === shown) continue;
        const near = Math.min(...pts.filter(p => p[0] !== i).map(([, qx, qy]) => (px - qx) ** 2 + (py - qy) ** 2));
        if (near > room) { room = near; best = [i, r.left + xa._offset + px, r.top + ya._offset + py]; }
    }
    return best; }"""
SHOWN = "i => (document.querySelector('.fmlab-latent-signal .gtitle')?.textContent ?? '').startsWith(`#${i} `)"
DOUBLE_CLICK_MS = 500  # clicks further apart than plotly's double click (300 ms: it would reset the axes)


@pytest.fixture(scope="module")
def latent_notebook(lab, page):
    return open_and_run(page, lab, "05_latent_spaces.ipynb", "latent")


def test_05_runs_without_an_error(latent_notebook):
    latent_notebook.assert_ran_whole("05_latent_spaces")


def test_05_the_umap_figure_is_drawn_by_plotly(latent_notebook):
    page = latent_notebook.page
    figure = cell(latent_notebook, r"interactive_scatter\(")
    output = figure.locator(".jp-OutputArea")
    try:
        page.wait_for_function(f"el => ({TRACES})(el) > 0", arg=output.element_handle(), timeout=WIDGET_MS)
    except PlaywrightTimeout:
        shot(page, "latent-umap")
        raise AssertionError(f"the UMAP cell shows no plotly figure with data (screenshot "
                             f"test-output/lab-latent-umap.png): {output.text_content()[:300]!r}") from None
    output.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # cells above may have grown meanwhile
    shot(page, "latent-umap")


def click_a_point(page, shown: int) -> int:
    """Hover the map's most isolated point until plotly labels it, click it, wait until the signal panel shows it."""
    page.locator(LATENT_MAP).scroll_into_view_if_needed()
    index, x, y = hover_a_point(page, LATENT_MAP, TARGET, [LATENT_MAP, shown])
    page.mouse.click(x, y)
    try:
        page.wait_for_function(SHOWN, arg=index, timeout=60_000)
    except PlaywrightTimeout:
        shot(page, "latent-explorer")
        title = page.locator(f"{LATENT_SIGNAL} .gtitle").text_content()
        raise AssertionError(f"60 s after a click on #{index} the signal panel did not show it (its title: "
                             f"{title!r}; screenshot test-output/lab-latent-explorer.png)") from None
    return index


def test_05_a_click_on_the_latent_map_shows_that_sample(latent_notebook):
    page = latent_notebook.page
    explorer = cell(latent_notebook, r"^\w+\(embeddings\[look_at\], shown")
    try:
        for sel in (LATENT_MAP, LATENT_SIGNAL):
            page.wait_for_function(f"sel => {{ const el = document.querySelector(sel); "
                                   f"return !!el && ({TRACES})(el) > 0; }}", arg=sel, timeout=WIDGET_MS)
    except PlaywrightTimeout:
        shot(page, "latent-explorer")
        raise AssertionError(f"the latent explorer's map and signal are not drawn (screenshot "
                             f"test-output/lab-latent-explorer.png); its output: "
                             f"{explorer.locator('.jp-OutputArea').text_content()[:300]!r}") from None
    title = page.locator(f"{LATENT_SIGNAL} .gtitle").text_content()
    shown = int(re.match(r"#(\d+) ", title).group(1))
    first = click_a_point(page, shown)
    page.wait_for_timeout(DOUBLE_CLICK_MS)
    second = click_a_point(page, first)
    assert second != first
    shot(page, "latent-explorer")


# -- 3. a student notebook stops at its first check with the message alone ---------------------------------------------
@pytest.fixture(scope="module")
def student_notebook(lab, page):
    stem, exercise = first_exercise()
    return open_and_run(page, lab, f"student/{stem}.ipynb", "student"), exercise


def test_student_check_says_write_the_function_first(student_notebook):
    opened, exercise = student_notebook
    page, cells = opened.page, opened.notebook.cells
    call = f"fmlab.check.{exercise}({exercise})"
    at = next(i for i, c in enumerate(cells) if c.cell_type == "code" and call in c.source)
    errors = [(i, o) for i, c in enumerate(cells) if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert [i for i, _ in errors] == [at], f"expected one error, in the check cell {at}: " \
                                           f"{[(i, o.ename, o.evalue) for i, o in errors]}"
    error = errors[0][1]
    assert error.ename == "NotImplementedError" and "write the function first" in error.evalue, error
    later = [i for i, c in enumerate(cells[at + 1:], at + 1) if c.cell_type == "code" and c.execution_count]
    assert not later, f"cells {later} ran after the check stopped the notebook"

    check = cell(opened, re.escape(call))
    shown = check.locator(".jp-OutputArea").text_content().strip()
    shot(page, "student-check")
    assert "write the function first" in shown, shown
    assert "Traceback" not in shown and "File " not in shown and "---->" not in shown, \
        f"the check cell shows a traceback:\n{shown}"
    assert len(shown.splitlines()) <= 3, f"the check cell shows {len(shown.splitlines())} lines:\n{shown}"
