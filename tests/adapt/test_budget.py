"""The fair adaptation budget (fmlab.adapt.budget): one rule for every strategy's run length and kept weights."""
import pytest
import torch

from fmlab.adapt import FairBudget, compare, fair_fit, full_finetune
from fmlab.adapt.budget import validation_split
from fmlab.models import Encoder, EncoderConfig
from fmlab.profiles import PROFILES
from toy import sine_classes


pytestmark = pytest.mark.usefixtures("one_thread")


def encoder(seed=0):
    torch.manual_seed(seed)
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64))


def test_the_run_grows_with_the_labels_between_its_bounds():
    rule = FairBudget(epochs=10, least=20, most=100, batch_size=32)
    assert [rule.steps(n) for n in (8, 160, 320, 3000)] == [20, 50, 100, 100]
    for name, p in PROFILES.items():
        assert FairBudget(**p.fair_budget).most >= FairBudget(**p.fair_budget).least, name


def test_a_bad_rule_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="1 <= least <= most.*FairBudget\\(epochs=30"):
        FairBudget(least=200, most=100)


def test_the_validation_split_is_stratified_disjoint_and_skipped_when_a_class_has_one_label():
    data = sine_classes(n=40, seed=0)
    train, val = validation_split(data, 0.2, seed=0)
    assert len(train) + len(val) == 40 and torch.bincount(val.y).tolist() == [4, 4]
    assert not set(map(tuple, train.x[:, 0, :3].tolist())) & set(map(tuple, val.x[:, 0, :3].tolist()))
    lonely = data.take(torch.tensor([0, 1, 3]))                   # classes [0, 1, 1]: one label of class 0
    assert validation_split(lonely, 0.2, seed=0) == (lonely, None)


def test_fair_fit_keeps_the_weights_of_its_best_validation_step():
    few = sine_classes(n=60, seed=0)
    clf = full_finetune(encoder(), 2)
    hist, info = fair_fit(clf, few, FairBudget(epochs=20, least=10, most=30, batch_size=16), lr=clf.default_lr)
    scores = hist.metrics["val_acc"]
    assert info["steps"] == 30 and len(scores) == 10 and info["val_labels"] == 12 and info["train_labels"] == 48
    assert info["val_acc"] == max(v for _, v in scores) and info["best_step"] in [s for s, _ in scores]
    _, val = validation_split(few, 0.2, seed=0)
    assert clf.accuracy(val) == pytest.approx(info["val_acc"])   # the kept weights are the best step's, not the last's
    assert clf.accuracy(sine_classes(n=64, seed=1)) > 0.75, "chance is 0.5"


def test_compare_under_a_rule_records_each_runs_length_and_its_kept_step():
    data = sine_classes(n=96, seed=0)
    train, test = data.split(0.25, seed=0)
    rule = FairBudget(epochs=2, least=3, most=8, batch_size=16)
    table = compare(encoder(), train, test, strategies=["linear_probe", "from_scratch", "bandpower_logreg"],
                    budgets=(8, 1.0), seeds=(0,), rule=rule)
    assert {"steps", "best_step", "val_acc", "train_labels"} <= set(table.columns)
    deep = table[table["strategy"] != "bandpower_logreg"]
    assert deep["steps"].tolist() == [rule.steps(n) for n in deep["train_labels"]]
    assert (deep["best_step"] <= deep["steps"]).all() and table.loc[2, "steps"] != table.loc[2, "steps"]  # NaN
    assert table.loc[0, "train_labels"] < table.loc[0, "labels"]      # a fifth of the labels held out


def table_of(accuracy: dict) -> "pd.DataFrame":
    """A compare()-shaped table: accuracy[(strategy, budget)] = [per seed]."""
    import pandas as pd
    rows = [dict(strategy=s, budget=b, labels=int(3000 * b), seed=i, accuracy=a, trainable_params=1, all_params=1,
                 train_seconds=1.0, peak_rss_increase_mb=1.0, peak_cuda_mb=float("nan"), delta_bytes=1)
            for (s, b), accs in accuracy.items() for i, a in enumerate(accs)]
    table = pd.DataFrame(rows)
    table["budget"] = pd.Series([r["budget"] for r in rows], dtype=object)
    return table


def test_the_full_finetuning_sentences_pair_it_with_the_best_other_adaptation_and_the_probe():
    from fmlab.adapt import full_finetune_sentences
    table = table_of({("full_finetune", 0.01): [0.50, 0.54], ("linear_probe", 0.01): [0.78, 0.80],
                      ("lora", 0.01): [0.60, 0.62], ("full_finetune", 1.0): [0.93, 0.95],
                      ("linear_probe", 1.0): [0.88, 0.88], ("lora", 1.0): [0.93, 0.94]})
    assert full_finetune_sentences(table, 1000) == [
        "1% of the labels (30): full fine-tuning 0.520 is 27.0 points below the best other adaptation (linear_probe, "
        "0.790) and 27.0 points below the linear probe",
        "100% of the labels (3000): full fine-tuning 0.940 is within noise of the best other adaptation (lora, 0.935) "
        "and 6.0 points above the linear probe"]
    decayed = table.assign(strategy=table["strategy"].replace("full_finetune", "full_finetune(layer_decay=0.75)"))
    assert full_finetune_sentences(decayed, 1000) == full_finetune_sentences(table, 1000)  # bench_adapt --fair's label
    from fmlab.adapt import gap
    assert gap(decayed, "full_finetune", "lora", 1.0) == gap(table, "full_finetune", "lora", 1.0)
    import pandas as pd
    two = pd.concat([decayed, table])  # two variants: neither stands for the strategy
    from fmlab.adapt.readout import by_strategy_name
    assert set(two["strategy"]) == set(by_strategy_name(two)["strategy"])


def test_fewer_passes_sentences_explain_a_drop_with_more_labels_and_leave_classics_out():
    from fmlab.adapt import fewer_passes_sentences
    table = table_of({("from_scratch", 0.1): [0.74], ("from_scratch", 1.0): [0.69], ("lora", 0.1): [0.87],
                      ("lora", 1.0): [0.86], ("bandpower_logreg", 0.1): [0.90], ("bandpower_logreg", 1.0): [0.80]})
    assert fewer_passes_sentences(table, 50, 32, 1000) == [
        "from_scratch: 0.740 with 300 labels, 0.690 with 3000; each run is 50 steps of 32, 5.3 passes over 300 "
        "labels but 0.5 over 3000"]
    calm = table_of({("lora", 0.1): [0.87], ("lora", 1.0): [0.86]})
    assert fewer_passes_sentences(calm, 50, 32, 1000) == [
        "no deep strategy lost accuracy beyond the noise (0.032) with more labels"]
