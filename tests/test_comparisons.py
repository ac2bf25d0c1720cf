"""One accuracy against another (difference) and row against row of a latent_table (row_verdicts, 03_contrastive)."""
import pandas as pd
import pytest

from fmlab.comparisons import WANT, column_noise, difference, row_verdicts
from fmlab.evaluate import within_noise


def table() -> pd.DataFrame:
    return pd.DataFrame({"linear_probe": [0.50, 0.70, 0.52], "knn": [0.4, 0.6, 0.5], "state": [0.50, 0.80, 0.52],
                         "subject": [0.30, 0.60, 0.31], "artifact": [0.60, 0.50, 0.61],
                         "subject_neighbours": [0.20, 0.50, 0.21]},
                        index=["random init", "default views", "weak views"])


def test_half_columns_get_the_noise_of_half_the_test_set():
    noise = column_noise(["linear_probe", "state", "subject", "artifact", "subject_neighbours"], 100)
    assert noise["linear_probe"] == noise["subject_neighbours"] == within_noise(100) == pytest.approx(0.1)
    assert noise["state"] == noise["subject"] == noise["artifact"] == within_noise(50)


def test_row_verdicts_read_each_gap_against_what_we_want():
    lines = row_verdicts(table(), 100, [("default views", "random init", "better than random?"),
                                        ("weak views", "random init", "weak better than random?")])
    assert lines[:3] == ["ties: gaps under 0.10 (measured on all 100 test signals) or 0.14 "
                         "(probes fit and tested on halves)", "", "better than random?"]
    assert lines[3] == ("        linear_probe: default views 0.70 vs random init 0.50 (+0.20); we want it higher: "
                        "as hoped")
    assert lines[5].endswith("(+0.30); we want it lower: the OPPOSITE of what we hoped")   # subject
    assert lines[6].endswith("(-0.10); we want it lower: a tie (within noise)")             # artifact, noise 0.14
    assert len(lines) == 3 + len(WANT) + 1 + len(WANT) and lines[8] == "weak better than random?"
    assert all(line.endswith("a tie (within noise)") for line in lines[9:])


def test_want_picks_the_columns_and_their_direction():
    lines = row_verdicts(table(), 100, [("default views", "random init", "q")], want={"subject": "higher"})
    assert lines[0] == "ties: gaps under 0.14 (probes fit and tested on halves)"
    assert lines[3:] == ["             subject: default views 0.60 vs random init 0.30 (+0.30); we want it higher: "
                         "as hoped"]


@pytest.mark.parametrize("questions, want, says", [
    ([("subject negatives", "random init", "q")], None, r"lacks rows \['subject negatives'\]"),
    ([("default views", "random init", "q")], {"effective_rank": "lower"}, r"columns \['effective_rank'\]"),
    ([("default views", "random init", "q")], {"follows_the_offsets": "lower"}, r"columns \['follows_the_offsets'\]"),
    ([("default views", "random init", "q")], {"state": "up"}, "'higher' or 'lower', got {'state': 'up'}"),
])
def test_row_verdicts_refuse_what_the_table_cannot_answer(questions, want, says):
    with pytest.raises(ValueError, match=says):
        row_verdicts(table(), 100, questions, want)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_column_noise_wants_a_positive_count_of_test_signals(n):
    with pytest.raises(ValueError, match="positive int"):
        column_noise(["state"], n)


def test_difference_reads_a_gap_against_the_noise_of_the_test_set():
    assert within_noise(100) == pytest.approx(0.1)
    assert difference(0.75, 0.60, 100) == {"gap": pytest.approx(0.15), "noise": pytest.approx(0.1), "reading": "higher"}
    assert difference(0.60, 0.75, 100)["reading"] == "lower"
    assert difference(0.65, 0.60, 100)["reading"] == "tie"
    assert difference(0.65, 0.60, 10_000)["reading"] == "higher"   # the same gap on a larger test set is real


@pytest.mark.parametrize("args, match", [((75, 60, 100), "accuracies in \\[0, 1\\]"), ((0.7, 0.6, 0), "positive int"),
                                         ((0.7, True, 10), "accuracies"), ((0.7, 0.6, 1.5), "positive int")])
def test_difference_refuses_percentages_and_a_missing_test_size(args, match):
    with pytest.raises(ValueError, match=match):
        difference(*args)
