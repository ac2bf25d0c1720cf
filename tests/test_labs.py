"""Course-lab mode: the exercises in the instructor notebooks, and the student versions fmlab.course.labs builds."""
import json
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

import fmlab
from fmlab import course
from fmlab.course import labs

NOTEBOOKS = {p.stem: p for p in course.notebooks()}
WITH_EXERCISES = ("01_mae", "02_masked_spectrum", "03_contrastive", "04_jepa", "06_adaptation")


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def check_call(name: str) -> str:
    return f"fmlab.check.{name}({name})"


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labs")
    written, kept = labs.build(out)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS.values()] and kept == []
    return out


def test_notebooks_hold_one_to_three_exercises_each_followed_by_its_check():
    found = labs.exercises_in()
    assert set(found) >= set(WITH_EXERCISES) and set(found) <= {*WITH_EXERCISES, "05_latent_spaces"}
    assert all(1 <= len(cells) <= 3 for cells in found.values())
    assert sorted(name for cells in found.values() for name, _, _ in cells) == sorted(fmlab.check.EXERCISES)
    for stem, cells in found.items():
        nb = nbformat.read(NOTEBOOKS[stem], as_version=4)
        for name, source, index in cells:
            after = next(c for c in nb.cells[index + 1:] if c.cell_type == "code")
            assert after.source.strip() == check_call(name), f"{stem}: the cell after {name} must be its check"
            assert source.count(labs.BEGIN) == source.count(labs.END) == 1, f"{stem}: {name}: one marker pair"
            assert source.index(labs.BEGIN) < source.index(labs.END)


def test_markers_are_balanced_in_every_instructor_notebook():
    for path in NOTEBOOKS.values():
        for i, cell in enumerate(code_cells(path)):
            labs.strip_solutions(cell.source, f"{path.name}, code cell {i}")  # raises on unbalanced markers


def test_strip_solutions_keeps_the_indentation_and_drops_the_markers():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION"
    assert labs.strip_solutions(source) == ("def f(x):\n    '''doc'''\n    raise NotImplementedError(\"write this: the "
                                            "body of f, then run the check below\")")


@pytest.mark.parametrize("source, says", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "is never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION", "without a"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION", "a second"),
])
def test_strip_solutions_refuses_unbalanced_markers(source, says):
    with pytest.raises(ValueError, match=says):
        labs.strip_solutions(source, "test cell")


def test_build_refuses_to_overwrite_the_instructor_notebooks():
    with pytest.raises(ValueError, match="would delete their solutions"):
        labs.build(course.REPO / "notebooks")


def test_student_notebooks_keep_everything_but_the_solutions(student):
    exercises = labs.exercises_in()
    for stem, path in NOTEBOOKS.items():
        theirs = nbformat.read(student / path.name, as_version=4)
        if stem not in exercises:
            assert (student / path.name).read_bytes() == path.read_bytes(), f"{stem} must be copied unchanged"
            continue
        ours = nbformat.read(path, as_version=4)
        assert [c.id for c in theirs.cells] == [c.id for c in ours.cells]
        assert len([c for c in theirs.cells if "parameters" in c.metadata.get("tags", [])]) == 1
        solutions = {i: source for _, source, i in exercises[stem]}
        for i, (mine, given) in enumerate(zip(ours.cells, theirs.cells)):
            if given.cell_type == "code":
                assert given.outputs == [] and given.execution_count is None
            if i not in solutions:
                assert given.source == mine.source, f"{stem}: cell {i} changed but holds no exercise"
                continue
            body = solutions[i].split(labs.BEGIN)[1].split(labs.END)[0]
            leaked = [line.strip() for line in body.splitlines() if line.strip() and line.strip() in given.source]
            assert not leaked, f"{stem}: cell {i} still shows solution lines {leaked}"
            assert labs.BEGIN not in given.source and labs.END not in given.source
            assert 'raise NotImplementedError("write this: ' in given.source


def test_every_student_exercise_stops_at_its_check_with_write_it_first(student):
    """Run each student exercise cell and its check as the kernel would (no kernel: fast)."""
    assert labs.exercises_in(student) == {}, "the student version still holds solutions"
    for stem in WITH_EXERCISES:
        nb = nbformat.read(student / f"{stem}.ipynb", as_version=4)
        checks = [i for i, c in enumerate(nb.cells) if c.source.startswith("fmlab.check.")]
        for i in checks:
            scope = {"torch": torch, "F": F, "fmlab": fmlab}
            exec(nb.cells[i - 1].source, scope)  # noqa: S102 - the exercise cell
            with pytest.raises(NotImplementedError, match="write the function first"):
                exec(nb.cells[i].source, scope)  # noqa: S102 - its check cell


def test_cli_builds_the_labs(tmp_path, capsys):
    from fmlab.cli import main
    assert main(["labs", "build", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "01_mae.ipynb" in printed and "exercises: random_token_mask, masked_mse" in printed
    assert "00_data.ipynb" in printed and "no exercises (copied)" in printed
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == sorted(p.name for p in NOTEBOOKS.values())


def test_a_second_build_keeps_the_notebook_a_student_edited(tmp_path, capsys):
    """Issue 17, item 4: `fmlab labs build` twice with an edited student notebook in between; the edit survives,
    the command says it kept the file, and --force overwrites it."""
    from fmlab.cli import main
    assert main(["labs", "build", "--out", str(tmp_path)]) == 0
    edited = tmp_path / "01_mae.ipynb"
    nb = nbformat.read(edited, as_version=4)
    exercise = next(c for c in nb.cells if 'raise NotImplementedError("write this: ' in c.source)
    exercise.source = exercise.source.replace('raise NotImplementedError', 'return 42  # my answer\n    raise X', 1)
    nbformat.write(nb, edited)
    work = edited.read_bytes()
    untouched = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.ipynb") if p != edited}
    capsys.readouterr()
    assert main(["labs", "build", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert edited.read_bytes() == work
    assert "01_mae.ipynb" in printed and "kept: it differs from this build" in printed and "--force" in printed
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.ipynb") if p != edited} == untouched  # not rewritten
    assert main(["labs", "build", "--out", str(tmp_path), "--force"]) == 0
    assert "my answer" not in edited.read_text() and labs.build(tmp_path)[1] == []


@pytest.mark.notebook
def test_instructor_checks_pass_in_the_smoke_run(smoke_run):
    out, results = smoke_run
    for stem, cells in labs.exercises_in().items():
        executed = nbformat.read(out / f"{stem}.ipynb", as_version=4)
        for name, _, _ in cells:
            check = next(c for c in executed.cells if c.source.strip() == check_call(name))
            printed = "".join(o.get("text", "") for o in check.outputs)
            assert printed.startswith(f"✓ {name}: "), f"{stem}: the check of {name} printed {printed!r}"


@pytest.mark.notebook
def test_student_notebooks_fail_first_at_their_first_exercise(student, tmp_path):
    """Executed by papermill in the smoke profile, a student notebook runs up to its first check cell and
    stops there with the NotImplementedError of the unwritten exercise, not anywhere earlier. Placed after
    the test that uses the smoke run, whose cache then holds 06's encoder (alone, 06 first pretrains it)."""
    out = course.run_course("smoke", only=list(WITH_EXERCISES), out=tmp_path, progress=False, timeout=300,
                            directory=student)
    results = {r["notebook"]: r for r in json.loads((out / "summary.json").read_text())["notebooks"]}
    for stem in WITH_EXERCISES:
        cells = code_cells(student / f"{stem}.ipynb")
        first_check = next(n for n, c in enumerate(cells, start=1) if c.source.startswith("fmlab.check."))
        r = results[stem]
        assert r["status"] == "failed", f"{stem}: the student notebook ran through without its exercises"
        assert r["error"].startswith("NotImplementedError"), f"{stem}: failed with {r['error']}\n{r['traceback']}"
        assert "write the function first" in r["error"]
        assert r["cell"] == first_check, f"{stem}: failed in code cell {r['cell']}, expected {first_check}"
