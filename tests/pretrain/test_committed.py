"""The comparison runs committed with the kit (fmlab.pretrain.committed): made with today's cpu profile, and loaded
by pretrained() without training."""
import inspect
import json

import pytest
import torch
from safetensors.torch import load_file

from fmlab import scaling
from fmlab.pretrain import committed, recipes

RUNS = list(committed.COURSE_RUNS.items())


@pytest.mark.parametrize("name, run", RUNS, ids=[name for name, _ in RUNS])
def test_each_committed_run_has_the_settings_of_the_cpu_profile_today(name, run):
    objective, kwargs = run
    settings = recipes.run_settings(objective, profile="cpu", seed=0, **kwargs)
    listed = committed.index().get(name)
    assert listed is not None, f"{name!r} is not committed: run python benchmarks/course_runs.py"
    made_with = {k: v for k, v in listed["settings"].items() if k != "fs"}   # fs: the corpus's rate, kept beside
    assert listed["entry"] == recipes.entry(settings).name and made_with == json.loads(json.dumps(settings)), (
        f"{name!r} was made with other settings than the cpu profile's today ({listed['settings']} against "
        f"{settings}): run python benchmarks/course_runs.py")
    assert (committed.COURSE / listed["entry"] / "history.json").exists()


def test_nothing_committed_is_left_from_earlier_settings():
    folders = {p.name for p in committed.COURSE.iterdir() if p.is_dir()}
    assert folders == {run["entry"] for run in committed.index().values()}


def test_pretrained_loads_a_committed_run_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(recipes, "pretrain_from", lambda *a, **k: pytest.fail("trained a run that is committed"))
    name, (objective, kwargs) = RUNS[0]
    obj, hist = recipes.pretrained(objective, profile="cpu", seed=0, progress=False, **kwargs)
    source = committed.COURSE / committed.index()[name]["entry"]
    stored = load_file(str(source / "encoder.safetensors"))
    assert all(torch.equal(v, stored[k].float()) for k, v in obj.encoder.state_dict().items())
    assert all(v.dtype == torch.float32 for v in obj.state_dict().values() if v.is_floating_point())
    assert hist.loss == json.loads((source / "history.json").read_text())["loss"]
    again, _ = recipes.pretrained(objective, profile="cpu", seed=0, progress=False, **kwargs)   # now from the cache
    assert all(torch.equal(a, b) for a, b in zip(obj.state_dict().values(), again.state_dict().values()))


def test_other_settings_than_the_committed_ones_still_train(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    trained = []
    monkeypatch.setattr(recipes, "pretrain_from", lambda s, **k: trained.append(s) or ("obj", "hist"))
    _, (objective, kwargs) = RUNS[0]
    assert recipes.pretrained(objective, profile="cpu", seed=1, progress=False, **kwargs) == ("obj", "hist")
    assert trained and trained[0]["seed"] == 1


def test_commit_install_and_prune_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(committed, "COURSE", tmp_path / "course")
    obj, _ = recipes.pretrained("mae", profile="smoke", seed=0, progress=False, steps=2)
    folder = recipes.entry(recipes.run_settings("mae", profile="smoke", seed=0, steps=2))
    written = committed.commit("smoke mae", obj, folder)
    assert committed.index()["smoke mae"]["entry"] == folder.name == written.name
    again = tmp_path / "elsewhere" / folder.name
    assert committed.install(again) and not committed.install(tmp_path / "elsewhere" / "no-such-run")
    state = load_file(str(again / "objective.safetensors"))
    assert state.keys() == obj.state_dict().keys()
    assert all(torch.equal(state[k], v.half().float()) for k, v in obj.state_dict().items())
    (committed.COURSE / "mae-eeg-smoke-stale").mkdir()
    assert committed.prune({folder.name}) == [committed.COURSE / "mae-eeg-smoke-stale"]
    assert committed.index() == {}   # "smoke mae" is not one of COURSE_RUNS: its index entry goes too


def grid_cells():
    """(objective, settings) of every cell of the cpu profile's scaling grid, as scaling.run keys them."""
    from fmlab.profiles import get_profile
    p, lr = get_profile("cpu"), inspect.signature(scaling.run).parameters["lr"].default
    return [(o, dict(objective=o, width=w, steps=s, batch_size=p.scaling_batch_size, lr=lr, seed=0))
            for o in committed.GRID_OBJECTIVES for w in p.scaling_widths for s in p.scaling_steps]


def test_every_cell_of_the_cpu_scaling_grid_is_committed_with_todays_settings():
    missing = [s for _, s in grid_cells() if not (committed.SCALING / scaling.entry(s).name / "result.json").exists()]
    assert not missing, (f"{len(missing)} cpu grid runs are not committed ({missing[0]}): "
                         f"run python benchmarks/course_runs.py")
    assert {p.name for p in committed.SCALING.iterdir()} == {scaling.entry(s).name for _, s in grid_cells()}


def test_the_scaling_grid_loads_its_committed_runs_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(scaling, "fit", lambda *a, **k: pytest.fail("trained a grid run that is committed"))
    objective, s = grid_cells()[-1]
    r = scaling.run(objective, s["width"], s["steps"], s["batch_size"])
    source = committed.SCALING / scaling.entry(s).name
    assert r == json.loads((source / "result.json").read_text())
    stored = load_file(str(source / "encoder.safetensors"))
    encoder = scaling.encoder_of(r)
    assert all(v.dtype == torch.float32 and torch.equal(v, stored[k].float()) for k, v in encoder.state_dict().items())


def test_commit_install_and_prune_of_a_grid_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(committed, "SCALING", tmp_path / "scaling")
    r = scaling.run("mae", width=16, steps=3, batch_size=8)
    folder = scaling.entry_of(r)
    assert committed.commit_grid_run(folder).name == folder.name
    again = tmp_path / "elsewhere" / folder.name
    assert committed.install_grid_run(again) and not committed.install_grid_run(tmp_path / "elsewhere" / "none")
    assert json.loads((again / "result.json").read_text()) == r
    (committed.SCALING / "mae-w16-stale").mkdir()
    assert committed.prune_grid({folder.name}) == [committed.SCALING / "mae-w16-stale"]
