"""The readers of a ratio sweep that benchmarks/ratio_sweep.py wrote: how it was made, and its means."""
import json
from pathlib import Path

import pytest

from fmlab.pretrain.sweeps import describe_sweep, read_sweep, sweep_means, sweep_sentences

COMMITTED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "ratio-sweep-cpu.json"


def sweep(**changes) -> dict:
    return {"command": "python benchmarks/ratio_sweep.py --seeds 0 1", "size": "tiny", "steps": 300,
            "batch_size": 128, "seeds": [0, 1], "test_size": 1000, "noise": 0.01, "ratios": [0.5, 0.75],
            "kinds": {"random": [[0.6, 0.7], [0.8, 0.9]], "block": [[0.4, 0.5], [0.2, 0.3]]},
            "random_init": [0.3, 0.4], **changes}


def test_describe_sweep_says_the_command_and_the_size_of_the_runs():
    assert describe_sweep(sweep()) == [
        "computed by: python benchmarks/ratio_sweep.py --seeds 0 1",
        "(tiny encoder, 300 steps of batch 128, seeds [0, 1], 1000 test signals of unseen subjects)"]


def test_sweep_means_average_each_ratio_over_its_seeds():
    means, init = sweep_means(sweep())
    assert means == {"random": {"0.5": pytest.approx(0.65), "0.75": pytest.approx(0.85)},
                     "block": {"0.5": pytest.approx(0.45), "0.75": pytest.approx(0.25)}}
    assert list(means["random"]) == ["0.5", "0.75"] and init == pytest.approx(0.35)


def test_the_committed_sweep_reads_whole(tmp_path):
    s = read_sweep(COMMITTED)
    means, init = sweep_means(s)
    assert set(means) == set(s["kinds"]) and all(len(m) == len(s["ratios"]) for m in means.values())
    assert min(s["random_init"]) <= init <= max(s["random_init"])
    assert describe_sweep(s)[0] == f"computed by: {s['command']}" and len(sweep_sentences(s)) == len(s["kinds"])


@pytest.mark.parametrize("bad, says", [
    ({"kinds": {"random": [[0.6, 0.7]]}}, "random do not have it"),              # one ratio's accuracies missing
    ({"kinds": {"random": [[0.6], []]}}, "random do not have it"),               # a ratio without seeds
    ({"random_init": []}, "random_init do not have it"),
])
def test_a_sweep_with_missing_accuracies_is_refused(bad, says):
    for reader in (describe_sweep, sweep_means):
        with pytest.raises(ValueError, match=says):
            reader(sweep(**bad))


def test_a_dict_that_is_not_a_sweep_is_refused_with_what_it_lacks(tmp_path):
    partial = sweep()
    del partial["command"], partial["seeds"]
    with pytest.raises(ValueError, match="lacking command, seeds; read it with read_sweep"):
        sweep_means(partial)
    with pytest.raises(ValueError, match="got list"):
        describe_sweep([0.5, 0.6])
    (tmp_path / "s.json").write_text(json.dumps(sweep()))
    assert sweep_means(read_sweep(tmp_path / "s.json"))[1] == pytest.approx(0.35)
