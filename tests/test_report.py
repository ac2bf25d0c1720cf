import json

import nbformat
import pytest

from fmlab import report


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


def test_a_failing_notebook_is_reported_and_the_others_still_run(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write_notebook(nbs / "00_ok.ipynb", "import fmlab\nfmlab.report.record('answer', 42.0)\n"
                                       "fmlab.report.record('profile_seen', profile)")
    write_notebook(nbs / "01_broken.ipynb", "x = 1", "raise RuntimeError('the wiring is off')")
    write_notebook(nbs / "02_after.ipynb", "import fmlab\nfmlab.report.record('ran', True)")
    out = report.run_course("smoke", directory=nbs, out=tmp_path / "rep", progress=False, timeout=120)

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
    assert [p.stem for p in report.notebooks(nbs, only=["01"])] == ["01_mae"]
    with pytest.raises(ValueError, match="matches none"):
        report.notebooks(nbs, only=["09"])


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
