import json
import re

import nbformat
import pytest

from fmlab import course, report
from fmlab.course import results
from fmlab.course.export import typeset
from fmlab.course.index import index_html


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_record_outside_the_runner_keeps_the_value(monkeypatch):
    monkeypatch.delenv(report.METRICS_ENV, raising=False)
    report.record("probe_acc", 0.75)
    assert report.RECORDED["probe_acc"] == 0.75
    with pytest.raises(TypeError):
        report.record("bad", object())


@pytest.mark.notebook
def test_a_failing_notebook_is_reported_and_the_others_still_run(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write_notebook(nbs / "00_ok.ipynb", "import fmlab\nfmlab.report.record('answer', 42.0)\n"
                                       "fmlab.report.record('profile_seen', profile)")
    write_notebook(nbs / "01_broken.ipynb", "x = 1", "raise RuntimeError('the wiring is off')")
    write_notebook(nbs / "02_after.ipynb", "import fmlab\nfmlab.report.record('ran', True)")
    out = course.run_course("smoke", directory=nbs, out=tmp_path / "rep", progress=False, timeout=120)

    summary = json.loads((out / "summary.json").read_text())["notebooks"]
    assert [r["status"] for r in summary] == ["ok", "failed", "ok"]
    broken = summary[1]
    assert broken["cell"] == 3 and "the wiring is off" in broken["error"] and "RuntimeError" in broken["traceback"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == {"00_ok": {"answer": 42.0, "profile_seen": "smoke"}, "01_broken": {}, "02_after": {"ran": True}}
    index = (out / "index.html").read_text()
    assert "1 of 3 notebooks failed" in index and "the wiring is off" in index and "answer = 42" in index
    for stem in ("00_ok", "01_broken", "02_after"):
        assert (out / f"{stem}.ipynb").exists() and (out / f"{stem}.html").exists()


def test_only_picks_notebooks_by_prefix(tmp_path):
    nbs = tmp_path
    for name in ("00_data", "01_mae", "02_spec"):
        write_notebook(nbs / f"{name}.ipynb", "pass")
    assert [p.stem for p in course.notebooks(nbs, only=["01"])] == ["01_mae"]
    with pytest.raises(ValueError, match="matches none"):
        course.notebooks(nbs, only=["09"])


@pytest.mark.notebook
def test_command_line_exit_status_says_whether_a_notebook_failed(tmp_path, capsys):
    from fmlab.cli import main
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write_notebook(nbs / "00_ok.ipynb", "import fmlab\nfmlab.report.record('seen', seed)")
    write_notebook(nbs / "01_broken.ipynb", "1 / 0")
    common = ["report", "--profile", "smoke", "--notebooks", str(nbs), "--param", "seed=7"]
    assert main(common + ["--only", "00", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "metrics.json").read_text()) == {"00_ok": {"seen": 7}}
    assert main(common + ["--out", str(tmp_path / "b")]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().out


@pytest.mark.notebook
def test_the_runner_shows_cells_done_and_a_clock_that_moves_during_a_long_cell(tmp_path, capsys):
    write_notebook(tmp_path / "00_slow.ipynb", "import time\ntime.sleep(2.5)")
    course.run_course("smoke", directory=tmp_path, out=tmp_path / "rep", progress=True, timeout=120)
    frames = capsys.readouterr().err.split("\r")
    # cells: parameters, papermill's injected parameters, the sleep; while the sleep runs 2 of 3 are done
    during = {m.group(1) for f in frames if (m := re.search(r"\(1/1\) 00_slow:.*\| 2/3 \[(\d\d:\d\d)", f))}
    assert len(during) >= 2, f"the elapsed time stood still during the long cell: {frames}"
    assert any("3/3" in f for f in frames)


METRICS = {"final_loss": 3.2, "probe_acc": 0.33, "weak_probe_acc": 0.40, "random_probe_acc": 0.36,
           "latent_table": {"random init": {"linear_probe": 0.681, "uniformity": -2.6},
                            "jepa": {"linear_probe": 0.6160000001, "uniformity": -3.0},
                            "mae": {"linear_probe": 0.7, "uniformity": -1.0}},
           "subject_neighbours": {"random init": 0.21, "mae": 0.1}}


def test_scores_below_their_recorded_baseline_are_found_by_name():
    found = {s.where: s for s in results.shortfalls(METRICS)}
    # losses, uniformity and neighbour shares do not say in their names which way is better: not judged
    assert set(found) == {("probe_acc",), ("latent_table", "jepa", "linear_probe")}
    assert found[("probe_acc",)].baseline == ("random_probe_acc",)
    jepa = found[("latent_table", "jepa", "linear_probe")]
    assert str(jepa) == "below latent_table / random init / linear_probe (0.681)"
    assert results.key_metric(METRICS) == ("probe_acc", 0.33)
    assert [results.number(v) for v in (0.83125, 33.2585, 430328.0, 2308, -0.0156, float("nan"))] == \
        ["0.831", "33.3", "430328", "2308", "-0.0156", "nan"]


def test_the_index_draws_recorded_tables_with_three_digits_and_marks_the_shortfalls():
    page = index_html("smoke", [{"notebook": "05_latent", "status": "ok", "seconds": 2.0, "metrics": METRICS,
                                 "html": "05_latent.html"}])
    assert page.count('<table class="metric">') == 2 and "<th>random init</th>" in page
    assert "0.616 ▼" in page and "0.6160000001" not in page and '"linear_probe"' not in page
    assert "▼ 2 results below their baseline" in page


def test_the_summary_is_one_line_a_notebook_and_a_total():
    done = [{"notebook": "00_data", "status": "ok", "seconds": 19.5, "metrics": {"raw_lr_acc": 0.28125}},
            {"notebook": "05_latent", "status": "ok", "seconds": 125.0, "metrics": METRICS},
            {"notebook": "06_broken", "status": "failed", "seconds": 1.0, "metrics": {}, "cell": 3,
             "error": "ZeroDivisionError: division by zero"}]
    lines = results.summary_table(done).splitlines()
    assert len(lines) == 5 and lines[0].split() == ["notebook", "status", "time", "key", "metric"]
    assert lines[1].split() == ["00_data", "ok", "19.5", "s", "raw_lr_acc", "=", "0.281"]
    assert "2 min 05 s" in lines[2] and "probe_acc = 0.33" in lines[2] and "(2 below baseline)" in lines[2]
    assert "failed" in lines[3] and "code cell 3: ZeroDivisionError" in lines[3]
    assert lines[4] == "3 notebooks, 1 failed, in 2 min 26 s; 2 results below their baseline (marked in the index)"


def test_formulas_are_drawn_and_dollars_and_code_left_alone():
    text = typeset(r"loss $\frac{a}{b}$, costs $5 and $10, `$x$` stays, $$\sum_i x_i$$ and $\hat{x}_i$.")
    assert text.count('class="fmlab-math"') == 3 and "costs $5 and $10" in text and "`$x$` stays" in text
    assert 'alt="\\frac{a}{b}"' in text and "data:image/svg+xml;base64," in text
    unreadable = r"$\begin{aligned}a\end{aligned}$"  # beyond mathtext's TeX: the source stays
    assert typeset(unreadable) == unreadable
