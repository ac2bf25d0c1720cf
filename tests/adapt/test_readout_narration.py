"""The sentences and record-ready dicts read from a compare() table (fmlab.adapt.narration, fmlab.adapt.readout):
exact wording and numbers on a made-up table, and the refusals of a table that lacks what they read."""
import pandas as pd
import pytest
import torch

from fmlab.adapt import (accuracy_by_budget, classic_sentence, comparison_sentences, delta_parts, delta_sentences,
                         forgetting_by_strategy, guide_sentences, linear_probe, lora, lora_sentences, save_delta)
from fmlab.adapt.compare import COLUMNS
from fmlab.models import Encoder, EncoderConfig

pytestmark = pytest.mark.usefixtures("one_thread")

TEST_SIZE = 10_000  # within_noise(10_000) = 0.010
# strategy: (accuracy at 10 % per seed, at 100 % per seed, trainable of 1000, delta bytes, train seconds)
RUNS = {"linear_probe": ((0.70, 0.70), (0.75, 0.75), 10, 40, 1.0),
        "full_finetune": ((0.80, 0.80), (0.95, 0.95), 1000, 4000, 5.0),
        "lora": ((0.785, 0.785), (0.89, 0.91), 20, 120, 4.0),
        "adapter": ((0.79, 0.79), (0.91, 0.91), 30, 200, 4.5),
        "prompt_tuning": ((0.70, 0.70), (0.74, 0.74), 15, 80, 3.0),
        "from_scratch": ((0.50, 0.50), (0.85, 0.85), 1000, 4000, 5.0),
        "bandpower_logreg": ((0.90, 0.90), (0.92, 0.92), 50, 300, 0.25)}


def made_up_table(drop: str | None = None) -> pd.DataFrame:
    """A compare()-shaped table: every strategy at 10 % (100 labels) and 100 % (1000 labels), seeds 0 and 1."""
    rows = [dict(strategy=s, budget=b, labels=int(1000 * b), seed=seed, accuracy=acc[seed], trainable_params=n,
                 all_params=1000, train_seconds=sec, peak_rss_increase_mb=1.0, peak_cuda_mb=float("nan"),
                 delta_bytes=size)
            for seed in (0, 1) for s, (at10, at100, n, size, sec) in RUNS.items() if s != drop
            for b, acc in ((0.1, at10), (1.0, at100))]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["budget"] = pd.Series([r["budget"] for r in rows], dtype=object)
    return table


def test_lora_sentences_read_the_target_and_each_gap_against_the_noise():
    assert lora_sentences(made_up_table(), TEST_SIZE) == [
        "At 10% of the labels LoRA (0.785) is 1.5 points below full fine-tuning (0.800) while training 2.00 % of the "
        "parameters: the target (at most 2 points below, at no more than 5 % trainable) is met; the gap is beyond "
        "the noise (0.010).",
        "LoRA is 8.5 points above the linear probe (head only) at 10%; full fine-tuning is 10.0 points above it.",
        "Prompt tuning is within noise of the linear probe at 10%, and adapters are within noise of LoRA."]
    at_100 = lora_sentences(made_up_table(), 100, budget=1.0)[0]    # noise 0.100: a 5-point gap is a tie
    assert at_100.startswith("At 100% of the labels LoRA (0.900) is 5.0 points below") and "is MISSED" in at_100
    assert at_100.endswith("the gap is within the noise (0.100).")


def test_classic_sentence_counts_the_budgets_where_it_beats_every_deep_strategy():
    assert classic_sentence(made_up_table(), TEST_SIZE) == (
        "Band power + logistic regression beats every deep strategy beyond noise at 10% of 2 budgets.")
    assert classic_sentence(made_up_table(), 25) == (  # noise 0.4: no gap counts
        "Band power + logistic regression beats every deep strategy beyond noise at no budget of 2 budgets.")


def test_comparison_sentences_put_every_question_in_order():
    table = made_up_table()
    lines = comparison_sentences(table, TEST_SIZE, steps=50, batch_size=32)
    assert lines[:2] == ["ties: gaps under 0.010 (10000 test signals; seeds: 2)", ""]
    assert lines[4:9] == ["", *lora_sentences(table, TEST_SIZE), ""]
    assert lines[9] == classic_sentence(table, TEST_SIZE)
    assert lines[11] == "Does full fine-tuning, which trains everything, win once there are enough labels?"
    assert lines[-2:] == ["Did more labels ever cost accuracy?",
                          "no deep strategy lost accuracy beyond the noise (0.010) with more labels"]
    assert lines[2].startswith("10% of the labels (100): best bandpower_logreg (0.900)")


def test_guide_sentences_read_labels_bytes_and_seconds_from_the_strategy_table():
    assert guide_sentences(made_up_table()) == [
        "Within 5 points of the best result: bandpower_logreg from 100 labels, full_finetune from 1000 labels, lora "
        "from 1000 labels, adapter from 1000 labels (never: linear_probe, prompt_tuning, from_scratch). At 10% the "
        "best is bandpower_logreg (0.900), at 100% full_finetune (0.950).",
        "LoRA at 10% of the labels: 1.5 points below full fine-tuning, training 2.00 % of the parameters instead of "
        "100 %.",
        "One more task on disk: LoRA 120 bytes, prompts 80, a linear probe 40, full fine-tuning 4,000 (33 x LoRA's).",
        "Training time at 100%: fastest deep strategy linear_probe (1.0 s), full fine-tuning 5.0 s, LoRA 4.0 s (LoRA "
        "still back-propagates through the whole encoder, so it saves less time than its trainable % suggests).",
        "Band power + logistic regression: 50 fitted weights, 0.25 s, 300 bytes; accuracy 0.900 / 0.920 at 10% / "
        "100%."]
    assert guide_sentences(made_up_table(), within=0.2)[0].startswith("Within 20 points of the best result: ")


@pytest.mark.parametrize("reader", [lambda t: lora_sentences(t, TEST_SIZE), lambda t: classic_sentence(t, TEST_SIZE),
                                    lambda t: comparison_sentences(t, TEST_SIZE, 50, 32), guide_sentences])
def test_the_sentence_writers_refuse_a_table_without_the_strategies_they_read(reader):
    with pytest.raises(ValueError, match=r"expected a compare\(\) table .* missing \['(adapter|bandpower_logreg)'\]"):
        reader(made_up_table(drop="adapter") if reader is not guide_sentences else made_up_table("bandpower_logreg"))
    with pytest.raises(ValueError, match="it has \\[\\]"):
        reader(pd.DataFrame({"accuracy": [0.5]}))


def test_accuracy_by_budget_gives_the_mean_over_seeds_per_budget_fewest_labels_first():
    acc = accuracy_by_budget(made_up_table())
    assert list(acc) == list(RUNS) and list(acc["lora"]) == ["10%", "100%"]
    assert acc["lora"] == {"10%": 0.785, "100%": 0.9} and acc["bandpower_logreg"]["100%"] == 0.92
    assert accuracy_by_budget(made_up_table(), digits=1)["lora"] == {"10%": 0.8, "100%": 0.9}
    with pytest.raises(ValueError, match="columns"):
        accuracy_by_budget(made_up_table().drop(columns="seed"))


def test_forgetting_by_strategy_keeps_each_target_and_whether_the_base_is_intact():
    lost = pd.DataFrame([dict(strategy="lora", target="state", base_accuracy=0.8, adapted_accuracy=0.6,
                              forgetting=0.200004, base_intact=True),
                         dict(strategy="lora", target="subject", base_accuracy=0.5, adapted_accuracy=0.51,
                              forgetting=-0.01, base_intact=True),
                         dict(strategy="full_finetune", target="state", base_accuracy=0.8, adapted_accuracy=0.95,
                              forgetting=-0.15, base_intact=False)])
    got = forgetting_by_strategy(lost)
    assert got == {"lora": {"state": 0.2, "subject": -0.01, "base_intact": True},
                   "full_finetune": {"state": -0.15, "base_intact": False}}
    assert type(got["lora"]["base_intact"]) is bool    # a numpy bool would not go into the report's JSON
    with pytest.raises(ValueError, match=r"missing \['base_intact'\]"):
        forgetting_by_strategy(lost.drop(columns="base_intact"))
    with pytest.raises(ValueError, match="it is empty"):
        forgetting_by_strategy(lost.iloc[:0])


def test_delta_parts_name_what_a_task_delta_holds():
    keys = ["head.linear.weight", "encoder.blocks.0.attn.q.lora_A", "prompts", "encoder.blocks.0.attn.out.down.weight",
            "encoder.patch_embed.weight"]
    assert delta_parts(keys) == ["LoRA A, B", "adapters", "encoder weights", "head", "prompts"]
    assert delta_parts(["head.norm.running_mean", "head.linear.bias"]) == ["head"]
    with pytest.raises(ValueError, match="got the string"):
        delta_parts("head.linear.weight")


def test_delta_sentences_give_each_delta_its_bytes_share_and_parts(tmp_path):
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig.preset("tiny", channels=2, length=64))
    adapted = {"linear_probe": linear_probe(enc, 3), "lora": lora(enc, 3, rank=2)}
    sizes = {name: save_delta(clf, tmp_path / f"{name}.safetensors") for name, clf in adapted.items()}
    lines = delta_sentences(adapted, sizes, whole=1_000_000)
    assert lines == [f"  linear_probe: {sizes['linear_probe']:>10,} bytes = {sizes['linear_probe'] / 1e6:7.2%} of the "
                     f"encoder file (head)",
                     f"          lora: {sizes['lora']:>10,} bytes = {sizes['lora'] / 1e6:7.2%} of the encoder file "
                     f"(LoRA A, B, head)"]
    with pytest.raises(ValueError, match=r"got sizes for \['lora'\], models \['linear_probe', 'lora'\]"):
        delta_sentences(adapted, {"lora": 1}, whole=10)
    with pytest.raises(ValueError, match="whole=0"):
        delta_sentences(adapted, sizes, whole=0)
