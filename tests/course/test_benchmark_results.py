"""Reading the saved benchmark results (fmlab.course.benchmarks): which file, the tables, the verdict sentences and
the counts notebook 08 records, on made-up results; and every committed result it reads, read without error."""
import json
import math

import pandas as pd
import pytest

from fmlab.course import benchmarks as B


def ucr_result() -> dict:
    """A ucr result (benchmarks/ucr.py) of two datasets, as much of one as the readers use."""
    return {"benchmark": "ucr",
            "summary": {"GunPoint": {"random init": 0.90, "mae": 0.95}, "ArrowHead": {"random init": 0.70, "mae": 0.80}},
            "summary_sd": {"GunPoint": {"random init": 0.01, "mae": 0.02}, "ArrowHead": {"random init": 0.03, "mae": 0.0}},
            "references": {"T-Loss": {"source": "Franceschi 2019", "accuracy": {"GunPoint": 0.98, "ArrowHead": 0.766}},
                           "1NN-DTW": {"source": "the archive", "accuracy": {"GunPoint": 0.907}}},
            "verdict": {"per_dataset": {
                "GunPoint": {"best": "mae", "accuracy": 0.95, "minus T-Loss": -0.03, "minus 1NN-DTW": 0.043,
                             "beats both": False},
                "ArrowHead": {"best": "mae", "accuracy": 0.80, "minus T-Loss": 0.034, "minus 1NN-DTW": 0.097,
                              "beats both": True}}, "wins": 1, "datasets": 2, "aim_holds": False}}


def reference_verdict() -> dict:
    """A reference_verdict over three datasets, one of them with an adapted row."""
    def entry(acc, random, tloss, above_random, above_tloss, **adapted):
        return {"best": "reference contrastive-small", "accuracy": acc, "random init": random,
                "above random init": above_random, "minus T-Loss": tloss, "minus TS2Vec": tloss / 2,
                "above T-Loss": above_tloss, **adapted}
    per = {"GunPoint": entry(0.99, 0.95, 0.01, True, True, **{
               "best adapted": "reference contrastive-small / lora", "adapted accuracy": 0.98,
               "adapted minus scratch": 0.024, "adapted minus MiniRocket": -0.013}),
           "ArrowHead": entry(0.82, 0.70, 0.05, True, True),
           "OSULeaf": entry(0.70, 0.75, -0.1, False, False)}
    return {"per_dataset": per, "above_random_init": 2, "above_tloss": 2, "datasets": 3, "aim_holds": False}


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty benchmarks/results/ in a fake checkout."""
    folder = tmp_path / "benchmarks" / "results"
    folder.mkdir(parents=True)
    monkeypatch.setattr(B, "REPO", tmp_path)
    monkeypatch.setattr(B, "RESULTS", folder)
    return folder


def test_the_smoke_profile_and_a_missing_file_read_the_cpu_results(results, capsys):
    (results / "ucr-cpu.json").write_text(json.dumps({"profile": "cpu"}))
    (results / "ucr-gpu.json").write_text(json.dumps({"profile": "gpu"}))
    (results / "ucr-smoke.json").write_text(json.dumps({"profile": "smoke"}))
    assert [B.read_result("ucr", p)["profile"] for p in ("smoke", "cpu", "gpu")] == ["cpu", "cpu", "gpu"]
    assert capsys.readouterr().out.splitlines() == [f"reading benchmarks/results/ucr-{p}.json" for p in
                                                    ("cpu", "cpu", "gpu")]
    (results / "ucr-gpu.json").unlink()
    assert B.read_result("ucr", "gpu", verbose=False) == {"profile": "cpu"}
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match=r"mnist1d-gpu.json or mnist1d-cpu.json, found neither; saved benchmarks: "
                                         r"\['ucr'\]"):
        B.read_result("mnist1d", "gpu")


def test_the_ucr_table_has_the_runs_then_the_spread_then_the_published_figures():
    table = B.ucr_table(ucr_result(), sd_of="random init")
    assert list(table.index) == ["random init", "mae", "random init (sd over seeds)", "T-Loss (published)",
                                 "1NN-DTW (published)"]
    assert table.loc["random init (sd over seeds)", "ArrowHead"] == 0.03
    assert table.loc["T-Loss (published)", "ArrowHead"] == 0.766 and math.isnan(table.loc["1NN-DTW (published)",
                                                                                          "ArrowHead"])
    assert list(B.ucr_table(ucr_result()).index) == ["random init", "mae", "T-Loss (published)", "1NN-DTW (published)"]
    assert B.source_sentences(ucr_result()) == ["T-Loss: Franceschi 2019", "1NN-DTW: the archive"]


def test_the_per_dataset_verdict_reads_its_margins_in_points():
    assert B.ucr_verdict_sentences(ucr_result()["verdict"]) == [
        "GunPoint          best: mae                      0.950   vs T-Loss  -3.0 points, vs 1NN-DTW  +4.3 points   ",
        "ArrowHead         best: mae                      0.800   vs T-Loss  +3.4 points, vs 1NN-DTW  +9.7 points   "
        "beats both",
        "",
        "beats both on 1 of 2: the aim does NOT hold"]
    assert B.per_dataset(ucr_result()["verdict"], "accuracy") == {"GunPoint": 0.95, "ArrowHead": 0.80}


def test_the_reference_verdict_reads_every_margin_then_the_adapted_rows():
    assert B.reference_verdict_sentences(reference_verdict()) == [
        "GunPoint          reference contrastive-small    0.990  random init 0.950  vs T-Loss +1.0, vs TS2Vec +0.5",
        "ArrowHead         reference contrastive-small    0.820  random init 0.700  vs T-Loss +5.0, vs TS2Vec +2.5",
        "OSULeaf           reference contrastive-small    0.700  random init 0.750  vs T-Loss -10.0, vs TS2Vec -5.0",
        "",
        "above its random init on 2 of 3, above T-Loss on 2 of 3: the aim (all, and at least 3) does NOT hold",
        "GunPoint          adapted: reference contrastive-small / lora       0.980, +2.4 over its architecture from "
        "scratch, -1.3 vs MiniRocket"]
    assert B.per_dataset(reference_verdict(), "adapted minus scratch") == {"GunPoint": 0.024}
    with pytest.raises(ValueError, match=r"no dataset of the verdict has 'adapted'; its entries have \[.*'best'"):
        B.per_dataset(reference_verdict(), "adapted")


def test_the_reference_aim_counts_only_the_datasets_asked_for():
    v = reference_verdict()
    assert B.reference_aim(v, ["GunPoint", "ArrowHead", "Absent"]) == {"above_random_init": 2, "above_tloss": 2}
    assert B.reference_aim(v, list(v["per_dataset"])) == {"above_random_init": 2, "above_tloss": 2}
    assert B.reference_aim_sentence(v, ["GunPoint", "ArrowHead"], name="last layer") == (
        "last layer: the best reference is above its random init on 2 of 2 and above T-Loss on 2 of 2: the aim (all, "
        "and at least 3) does NOT hold")
    three = {**v, "per_dataset": {**v["per_dataset"], "OSULeaf": {**v["per_dataset"]["OSULeaf"], "above random init":
                                                                   True, "above T-Loss": True}}}
    assert B.reference_aim_sentence(three, list(three["per_dataset"])).endswith("on 3 of 3: the aim (all, and at "
                                                                               "least 3) HOLDS")
    with pytest.raises(ValueError, match=r"none of \['Coffee'\] is in the verdict"):
        B.reference_aim(v, ["Coffee"])


def test_the_held_out_sentence_averages_the_sets_no_setting_was_chosen_on():
    layers = {"summary": {"GunPoint": {"ref": 0.9}, "OSULeaf": {"ref": 0.7}, "Coffee": {"ref": 0.8}},
              "summary_last_layer": {"GunPoint": {"ref": 0.8}, "OSULeaf": {"ref": 0.6}, "Coffee": {"ref": 0.5}}}
    assert B.held_out_sentence(layers, seen=["GunPoint"], rows=["ref"]) == "held-out mean (2 sets): ref 0.550 -> 0.750"
    with pytest.raises(ValueError, match="every dataset of the result"):
        B.held_out_sentence(layers, seen=["GunPoint", "OSULeaf", "Coffee"], rows=["ref"])


def test_the_mnist1d_readers_sort_the_rows_and_leave_random_init_out_of_the_best():
    def per(*acc):
        return {b: {"accuracy": a} for b, a in zip(("1%", "10%", "100%"), acc)}
    result = {"summary": {"minirocket": per(0.9, 0.9, 0.9), "mae / lora": per(0.3, 0.6, 0.95),
                          "random init / logreg probe": per(0.5, 0.5, 0.5), "jepa / logreg probe": per(0.4, 0.5, 0.6)},
              "reference_aims": {"adapted_100%": {"row": "mae / lora", "accuracy": 0.95, "aim": 0.94, "holds": True},
                                 "above_scratch_1%": {"row": "mae / lora", "points": 22.1, "aim": 10.0,
                                                      "holds": False}}}
    table = B.mnist1d_table(result)
    assert list(table.index) == ["mae / lora", "minirocket", "jepa / logreg probe", "random init / logreg probe"]
    assert list(table.columns) == ["1%", "10%", "100%"] and table.loc["mae / lora", "10%"] == 0.6
    assert B.best_pretrained(result, "1%") == 0.4 and B.best_pretrained(result, "100%") == 0.95
    with pytest.raises(ValueError, match=r"no pretrained row at budget '50%'; the result has budgets \['1%', '10%', "):
        B.best_pretrained(result, "50%")
    assert B.mnist1d_aim_sentences(result) == [
        "adapted_100%           mae / lora                                   0.950 (aim 0.94): holds",
        "above_scratch_1%       mae / lora                                   22.100 (aim 10.0): does NOT hold"]


def test_the_eeg_reference_lines_give_each_row_mean_and_spread():
    result = {"command": "python benchmarks/eeg_reference.py", "seeds": [0, 1, 2],
              "rows": {"per-corpus spectrum": {"mean": 0.76, "sd": 0.039, "labels": 32},
                       "reference mae-small": {"mean": 0.865, "sd": 0.022, "labels": 32}}}
    assert B.eeg_reference_sentences(result) == ["python benchmarks/eeg_reference.py (32 labels, 3 label draws):",
                                                 "  per-corpus spectrum          0.760 ± 0.039",
                                                 "  reference mae-small          0.865 ± 0.022"]


@pytest.mark.parametrize("reader, wrong", [(B.ucr_verdict_sentences, ucr_result()),          # the result, not its verdict
                                           (B.reference_verdict_sentences, ucr_result()["verdict"]),
                                           (B.ucr_table, ucr_result()["verdict"]),
                                           (B.mnist1d_aim_sentences, {"summary": {}}),
                                           (B.eeg_reference_sentences, [])])
def test_a_reader_refuses_the_wrong_part_of_a_result_and_says_what_it_needs(reader, wrong):
    with pytest.raises(ValueError, match=r"expected .* \(with \[.*\]\), got .*; pass that part of read_result"):
        reader(wrong)


def test_every_committed_result_notebook_08_reads_is_read():
    ucr, layers = B.read_result("ucr", "cpu", verbose=False), B.read_result("ucr-reference-layers", "cpu", False)
    refs, mnist = B.read_result("ucr-references", "cpu", False), B.read_result("mnist1d-references", "cpu", False)
    assert len(B.ucr_verdict_sentences(ucr["verdict"])) == len(ucr["verdict"]["per_dataset"]) + 2
    assert isinstance(B.ucr_table(refs, sd_of="reference random init"), pd.DataFrame)
    assert B.reference_verdict_sentences(refs["reference_verdict"])[len(refs["reference_verdict"]["per_dataset"])] == ""
    aim = B.reference_aim(layers["reference_verdict"], list(ucr["summary"]))
    assert set(aim) == {"above_random_init", "above_tloss"} and all(0 <= n <= 4 for n in aim.values())
    assert B.held_out_sentence(layers, list(ucr["summary"]), ["reference random init"]).startswith("held-out mean (")
    assert 0 < B.best_pretrained(mnist, "1%") <= 1 and len(B.mnist1d_aim_sentences(mnist)) == len(mnist["reference_aims"])
