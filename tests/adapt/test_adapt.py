"""Adaptation strategies: what trains, what stays bit-identical, task deltas, compare() and bad input."""
import matplotlib

matplotlib.use("Agg")

import math

import pytest
import torch
from matplotlib.figure import Figure

import fmlab
from fmlab.adapt import (LoRA, compare, forgetting, full_finetune, linear_probe, load_delta, lora,
                         prompt_tuning, save_delta)
from fmlab.adapt import adapter as adapter_
from fmlab.adapt.compare import COLUMNS
from fmlab.adapt.readout import (budget_name, budget_sentences, forgetting_sentences, gap, strategy_table, summarize,
                                 versus)
from fmlab.data import SignalDataset
from fmlab.models import Encoder, EncoderConfig
from fmlab.train import fit
from fmlab.viz.adaptation import plot_accuracy_vs_budget, plot_accuracy_vs_parameters, plot_forgetting
from toy import sine_classes

STRATEGIES = {
    "linear_probe": lambda e, k: linear_probe(e, k),
    "full_finetune": lambda e, k: full_finetune(e, k, layer_decay=0.8),
    "lora": lambda e, k: lora(e, k, rank=4),
    "lora_all": lambda e, k: lora(e, k, rank=2, targets=("q", "k", "v", "out", "mlp")),
    "adapter": lambda e, k: adapter_(e, k, bottleneck=8),
    "prompt_shallow": lambda e, k: prompt_tuning(e, k, num_prompts=4),
    "prompt_deep": lambda e, k: prompt_tuning(e, k, num_prompts=4, deep=True),
    "from_scratch": lambda e, k: fmlab.adapt.from_scratch(e, k),
}
FROZEN = ["linear_probe", "lora", "lora_all", "adapter", "prompt_shallow", "prompt_deep"]


pytestmark = pytest.mark.usefixtures("one_thread")


def encoder(seed=0, **overrides):
    torch.manual_seed(seed)
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64, **overrides))


@pytest.fixture(scope="module")
def data():
    return sine_classes(n=96, seed=0)


@pytest.fixture(scope="module")
def x(data):
    return data.x[:16]


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def perturb(clf):
    """Give every trainable tensor random values: a nonzero delta without the cost of training."""
    with torch.no_grad():
        for p in clf.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    return clf


# -- LoRA and adapters start as the identity ------------------------------------------------------
def test_lora_with_B_zero_leaves_outputs_bit_identical_to_the_base_encoder(x):
    enc = encoder().eval()
    for targets in (("q", "v"), ("q", "k", "v", "out", "mlp")):
        clf = lora(enc, 2, rank=4, targets=targets).eval()
        assert all(torch.equal(m.lora_B, torch.zeros_like(m.lora_B)) for m in clf.lora_layers())
        assert torch.equal(clf.encoder(x), enc(x))
        assert torch.equal(clf.embed(x), enc.embed(x))


def test_adapter_starts_as_the_identity(x):
    enc = encoder().eval()
    assert torch.equal(adapter_(enc, 2).encoder(x), enc(x))


def test_lora_merged_and_unmerged_outputs_agree(x):
    clf = perturb(lora(encoder(), 3, rank=4, targets=("q", "k", "v", "out", "mlp"))).eval()
    base = {k: v.clone() for k, v in clf.encoder.state_dict().items() if "lora" not in k}
    unmerged = clf(x)
    clf.merge()
    assert not torch.equal(clf.encoder.blocks[0].attn.q.weight, base["blocks.0.attn.q.weight"])
    assert torch.allclose(clf(x), unmerged, atol=1e-5)
    with pytest.raises(ValueError, match="unmerge"):
        clf.train()
    clf.unmerge()
    assert torch.allclose(clf(x), unmerged, atol=1e-5)
    assert all(torch.allclose(clf.encoder.state_dict()[k], v, atol=1e-6) for k, v in base.items())


# -- what trains, and what stays -------------------------------------------------------------------
@pytest.mark.parametrize("name", FROZEN)
def test_after_training_every_base_weight_is_unchanged(name, data):
    enc = encoder()
    before = snapshot(enc)
    clf = STRATEGIES[name](enc, 2)
    trained_before = {k: v.clone() for k, v in clf.delta_state().items()}
    fit(clf, data, steps=5, batch_size=32, lr=1e-2, progress=False, device="cpu")
    after = clf.encoder.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items()), "a base weight moved"
    assert clf.base_unchanged()
    assert all(not torch.equal(clf.delta_state()[k], v) for k, v in trained_before.items()), "a delta tensor did not train"
    assert all(torch.equal(enc.state_dict()[k], v) for k, v in before.items()), "the encoder passed in changed"


def test_linear_probe_trains_only_its_head(data):
    clf = linear_probe(encoder(), 2)
    before = snapshot(clf)
    fit(clf, data, steps=5, batch_size=32, lr=1e-2, progress=False, device="cpu")
    changed = {k for k, v in clf.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("head.") for k in changed)  # its weights and its feature statistics
    assert [n for n, p in clf.named_parameters() if p.requires_grad] == ["head.linear.weight", "head.linear.bias"]


def test_frozen_encoders_stay_in_eval_mode():
    for make in (linear_probe, lora, adapter_, prompt_tuning):
        clf = make(encoder(), 2).train()
        assert clf.training and clf.head.training and not any(m.training for m in clf.encoder.modules())
    clf = full_finetune(encoder(), 2).train()
    assert all(m.training for m in clf.encoder.modules())


def test_full_finetuning_changes_the_copy_not_the_encoder_passed_in(data):
    enc = encoder()
    before = snapshot(enc)
    clf = full_finetune(enc, 2)
    fit(clf, data, steps=5, batch_size=32, lr=1e-2, progress=False, device="cpu")
    assert not clf.base_unchanged()
    assert all(torch.equal(enc.state_dict()[k], v) for k, v in before.items())


def test_full_finetuning_learning_rates():
    clf = full_finetune(encoder(), 2, encoder_lr_scale=0.1, layer_decay=0.5)
    rates = {id(p): g["lr"] for g in clf.param_groups(1.0) for p in g["params"]}
    e = clf.encoder  # depth 2: final norm at 0.1, block 1 at 0.05, block 0 at 0.025, embeddings at 0.0125
    assert rates[id(clf.head.linear.weight)] == 1.0 and rates[id(e.norm.weight)] == pytest.approx(0.1)
    assert rates[id(e.blocks[1].attn.q.weight)] == pytest.approx(0.05)
    assert rates[id(e.blocks[0].mlp.fc1.weight)] == pytest.approx(0.025)
    assert rates[id(e.patch_embed.weight)] == pytest.approx(0.0125) == rates[id(e.cls_token)]
    assert len(rates) == sum(1 for _ in clf.parameters())
    flat = full_finetune(encoder(), 2, encoder_lr_scale=0.1)
    assert {g["lr"] for g in flat.param_groups(1.0)} == {0.1, 1.0}


def test_trainable_counts_are_exact():
    enc = encoder()
    c, k = enc.config, 3
    d, depth, hidden = c.dim, c.depth, int(c.dim * c.mlp_ratio)
    head = d * k + k
    r, b, m = 4, 8, 5
    expected = {
        "linear_probe": (linear_probe(enc, k), head),
        "full_finetune": (full_finetune(enc, k), enc.num_parameters() + head),
        "lora q,v": (lora(enc, k, rank=r), depth * 2 * r * (d + d) + head),
        "lora q,k,v,out,mlp": (lora(enc, k, rank=r, targets=("q", "k", "v", "out", "mlp")),
                               depth * (4 * r * (d + d) + r * (d + hidden) + r * (hidden + d)) + head),
        "adapter": (adapter_(enc, k, bottleneck=b), depth * 2 * (d * b + b + b * d + d) + head),
        "adapter mlp": (adapter_(enc, k, bottleneck=b, where="mlp"), depth * (d * b + b + b * d + d) + head),
        "prompt": (prompt_tuning(enc, k, num_prompts=m), m * d + head),
        "prompt deep": (prompt_tuning(enc, k, num_prompts=m, deep=True), depth * m * d + head),
    }
    for name, (clf, count) in expected.items():
        assert clf.trainable_parameters() == count, name
        total = sum(p.numel() for p in clf.parameters())
        assert clf.summary() == (f"trainable params: {count:,} || all params: {total:,} || "
                                 f"trainable%: {100 * count / total:.4f}"), name
        trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
        assert trainable <= set(clf.delta_state()), name


# -- task deltas -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_saved_task_delta_reloads_to_identical_outputs(name, x, tmp_path):
    enc = encoder()
    clf = perturb(STRATEGIES[name](enc, 3)).eval()
    path = tmp_path / f"{name}.safetensors"
    n_bytes = save_delta(clf, path)
    assert n_bytes == path.stat().st_size > 0
    again = load_delta(path, enc)
    assert type(again) is type(clf) and again.arguments == clf.arguments and not again.training
    assert torch.equal(again(x), clf(x))
    if name in FROZEN:  # a delta without the base is much smaller than the whole model
        assert n_bytes < 0.5 * 4 * enc.num_parameters()


def test_delta_onto_a_different_base_is_refused(tmp_path):
    enc = encoder(seed=0)
    path = tmp_path / "lora.safetensors"
    save_delta(perturb(lora(enc, 3)), path)
    with pytest.raises(ValueError, match="another base encoder"):
        load_delta(path, encoder(seed=1))
    with pytest.raises(ValueError, match="another config"):
        load_delta(path, encoder(seed=0, dim=32))
    with pytest.raises(ValueError, match="head for 3 classes"):
        load_delta(path, enc, num_classes=4)
    with pytest.raises(ValueError, match="not an fmlab task delta"):
        fmlab.hub.save(enc, tmp_path / "enc.safetensors")
        load_delta(tmp_path / "enc.safetensors", enc)


def test_full_finetuning_delta_holds_every_weight_so_any_base_of_its_config_will_do(x, tmp_path):
    clf = perturb(full_finetune(encoder(seed=0), 2)).eval()
    save_delta(clf, tmp_path / "ft.safetensors")
    assert torch.equal(load_delta(tmp_path / "ft.safetensors", encoder(seed=1))(x), clf(x))


# -- bad input -------------------------------------------------------------------------------------
def test_bad_input_gets_clear_errors(data):
    enc = encoder()  # dim 64: a rank above 64 is larger than the layer
    for rank in (0, -1, 65, 2.5):
        with pytest.raises(ValueError, match=r"rank in \[1, 64\]"):
            lora(enc, 2, rank=rank)
    with pytest.raises(ValueError, match="unknown targets"):
        lora(enc, 2, targets=("query",))
    with pytest.raises(ValueError, match="num_prompts >= 1"):
        prompt_tuning(enc, 2, num_prompts=0)
    with pytest.raises(ValueError, match="bottleneck"):
        adapter_(enc, 2, bottleneck=0)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        linear_probe(enc, 1)
    with pytest.raises(ValueError, match="layer_decay"):
        full_finetune(enc, 2, layer_decay=1.5)
    four = SignalDataset(data.x[:32], torch.arange(32) % 4, ["a", "b", "c", "d"], fs=data.fs)
    with pytest.raises(ValueError, match="num_classes=4"):
        fit(lora(enc, 2), four, steps=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match="num_classes=4"):
        linear_probe(enc, 2).accuracy(four)
    with pytest.raises(ValueError, match="unknown strategy"):
        compare(enc, data, data, strategies=["lora_xl"], budgets=(1.0,))


# -- learning ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_learns_the_toy_task(name):
    train, test = sine_classes(n=128, seed=0), sine_classes(n=64, seed=1)
    clf = STRATEGIES[name](encoder(), 2)
    hist = fit(clf, train, steps=40, batch_size=32, lr=clf.default_lr, progress=False, device="cpu")
    assert hist.final_loss(5) < 0.9 * sum(hist.loss[:5]) / 5
    assert clf.accuracy(test) > 0.75, "chance is 0.5"


# -- compare, baselines, forgetting, plots -----------------------------------------------------------
def test_compare_gives_a_tidy_table_and_its_plots(data):
    train, test = data.split(0.25, seed=0)
    table = compare(encoder(), train, test, strategies=["linear_probe", ("lora", {"rank": 2}), "bandpower_logreg"],
                    budgets=(8,), seeds=(0,), steps=5, batch_size=16)
    assert list(table.columns) == ["strategy", "budget", "labels", "seed", "accuracy", "trainable_params", "all_params",
                                   "train_seconds", "peak_rss_increase_mb", "peak_cuda_mb", "delta_bytes"]
    assert table["strategy"].tolist() == ["linear_probe", "lora(rank=2)", "bandpower_logreg"]
    assert (table["labels"] == 16).all() and table["accuracy"].between(0, 1).all()
    assert table["trainable_params"].tolist()[:2] == [130, 2 * 2 * 2 * (64 + 64) + 130]
    assert table["all_params"].tolist()[:2] == [encoder().num_parameters() + 130,
                                                encoder().num_parameters() + 2 * 2 * 2 * (64 + 64) + 130]
    assert table["all_params"].iloc[2] == table["trainable_params"].iloc[2]  # a classic's weights are all fitted
    assert (table["delta_bytes"] > 0).all() and (table["train_seconds"] > 0).all()
    assert (table["peak_rss_increase_mb"] >= 0).all()
    assert isinstance(plot_accuracy_vs_budget(table, chance=0.5), Figure)
    assert isinstance(plot_accuracy_vs_parameters(table), Figure)


def test_minirocket_baseline_leaves_torch_threads_alone(data):
    train, test = data.split(0.25, seed=0)
    table = compare(encoder(), train, test, strategies=[("minirocket", {"n_kernels": 500})], budgets=(1.0,))
    assert table["accuracy"].item() > 0.9
    assert table["trainable_params"].item() == 420 + 1  # 500 kernels round down to 5 x 84 features, + intercept
    assert torch.get_num_threads() == 1
    # numba's OpenMP layer would share libgomp with torch and slow every later torch step >10x
    import numba
    assert numba.threading_layer() == "workqueue"


def test_forgetting_tells_intact_bases_from_changed_ones(data):
    enc = encoder()
    adapted = {"lora": lora(enc, 2), "full_finetune": full_finetune(enc, 2)}
    for clf in adapted.values():
        fit(clf, data, steps=5, batch_size=32, lr=1e-2, progress=False, device="cpu")
    table = forgetting(enc, adapted, data)
    assert set(table["target"]) == {"state", "subject"} and len(table) == 4
    assert dict(zip(table["strategy"], table["base_intact"])) == {"lora": True, "full_finetune": False}
    assert (table["forgetting"] == table["base_accuracy"] - table["adapted_accuracy"]).all()
    assert isinstance(plot_forgetting(table), Figure)


def test_strategy_classes_wrap_the_encoder_and_functions_copy_it():
    enc = encoder()
    assert lora(enc, 2).encoder is not enc and adapter_(enc, 2).encoder is not enc
    assert LoRA(enc, 2).encoder is enc and isinstance(enc.blocks[0].attn.q, fmlab.adapt.LoRALinear)


# -- reading a compare() table: summarize, strategy_table, gap ----------------------------------------
def made_up_table():
    """A compare()-shaped table with known numbers: two strategies, budgets 10 per class, 10 % and 100 %,
    two seeds. "big" trains 1000 of 1000 parameters, "small" 10 of 1010."""
    import pandas as pd
    acc = {("big", 10): (0.50, 0.60), ("big", 0.1): (0.70, 0.80), ("big", 1.0): (0.90, 0.92),
           ("small", 10): (0.60, 0.60), ("small", 0.1): (0.74, 0.76), ("small", 1.0): (0.80, 0.84)}
    labels = {10: 20, 0.1: 40, 1.0: 400}
    rows = [dict(strategy=s, budget=b, labels=labels[b], seed=seed, accuracy=a[seed],
                 trainable_params=1000 if s == "big" else 10, all_params=1000 if s == "big" else 1010,
                 train_seconds=2.0 + seed, peak_rss_increase_mb=5.0, peak_cuda_mb=float("nan"),
                 delta_bytes=4000 if s == "big" else 40)
            for (s, b), a in acc.items() for seed in (0, 1)]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["budget"] = pd.Series([r["budget"] for r in rows], dtype=object)
    return table


def test_budget_names_keep_labels_per_class_apart_from_fractions():
    assert [budget_name(b) for b in (10, 1, 1.0, 0.1, 0.01, 0.25)] == [
        "10/class", "1/class", "100%", "10%", "1%", "25%"]


def test_summarize_averages_over_seeds():
    s = summarize(made_up_table()).set_index(["strategy", "budget_name"])
    assert list(s.index) == [(n, b) for n in ("big", "small") for b in ("10/class", "10%", "100%")]
    row = s.loc["big", "10%"]
    assert row["accuracy"] == pytest.approx(0.75) and row["accuracy_sd"] == pytest.approx(0.0707, abs=1e-4)
    assert row["seeds"] == 2 and row["labels"] == 40 and row["train_seconds"] == pytest.approx(2.5)
    assert s.loc["small", "100%"]["trainable_pct"] == pytest.approx(100 * 10 / 1010)
    assert (s["memory_mb"] == 5.0).all(), "no CUDA numbers: process memory instead"


def test_strategy_table_reads_labels_needed_accuracy_and_costs():
    guide = strategy_table(made_up_table(), within=0.05)   # best anywhere: big at 100 %, 0.91
    assert list(guide.index) == ["big", "small"]
    assert list(guide.columns) == ["labels_needed", "acc 10/class", "acc 10%", "acc 100%", "trainable_pct",
                                   "train_seconds", "memory_mb", "stored_bytes"]
    assert guide.loc["big", "labels_needed"] == 400            # 0.91 >= 0.86 only with every label
    assert math.isnan(guide.loc["small", "labels_needed"])    # 0.82 never comes within 0.05 of 0.91
    assert strategy_table(made_up_table(), within=0.2).loc["small", "labels_needed"] == 40   # 0.75 >= 0.71
    assert guide.loc["small", "acc 10/class"] == pytest.approx(0.60) and guide.loc["big", "acc 100%"] == pytest.approx(0.91)
    assert guide.loc["big", "trainable_pct"] == 100 and guide.loc["small", "stored_bytes"] == 40


def test_budget_sentences_name_the_best_and_read_each_gap_against_the_noise():
    sharp = budget_sentences(made_up_table(), 10_000, baselines=("small",), adaptations=("big",), name="toy")
    assert sharp == [
        "toy, 10/class of the labels (20): best small (0.600); best adaptation big (0.550) is 5.0 points below "
        "small (ties under 0.010)",
        "toy, 10% of the labels (40): best big = small (0.750, tied within noise); best adaptation big (0.750) is "
        "within noise of small (ties under 0.010)",
        "toy, 100% of the labels (400): best big (0.910); best adaptation big (0.910) is 9.0 points above small "
        "(ties under 0.010)"]
    blurred = budget_sentences(made_up_table(), 4, baselines=("small", "absent"), adaptations=("big",))
    assert all("within noise of small (ties under 0.500)" in line for line in blurred)
    assert versus({"gap": -0.031}, 0.02) == "3.1 points below" and versus({"gap": 0.01}, 0.02) == "within noise of"


def test_forgetting_sentences_say_lost_gained_or_tie_and_whether_the_base_is_intact():
    import pandas as pd
    lost = pd.DataFrame([dict(strategy="lora", target="state", base_accuracy=0.8, adapted_accuracy=0.6, forgetting=0.2,
                              base_intact=True),
                         dict(strategy="lora", target="subject", base_accuracy=0.5, adapted_accuracy=0.51,
                              forgetting=-0.01, base_intact=True),
                         dict(strategy="full_finetune", target="state", base_accuracy=0.8, adapted_accuracy=0.95,
                              forgetting=-0.15, base_intact=False)])
    assert forgetting_sentences(lost, 400) == [
        "          lora: state 0.80 -> 0.60 (lost); subject 0.50 -> 0.51 (tie); base intact",
        " full_finetune: state 0.80 -> 0.95 (gained); base CHANGED"]


def test_gap_is_paired_by_seed():
    g = gap(made_up_table(), "small", "big", budget=0.1)
    assert g["gap"] == pytest.approx(0.0) and g["gap_sd"] == pytest.approx(0.0566, abs=1e-4) and g["seeds"] == 2
    assert g["accuracy"] == pytest.approx(0.75) and g["reference_accuracy"] == pytest.approx(0.75)
    assert g["trainable_pct"] == pytest.approx(100 * 10 / 1010) and g["reference_trainable_pct"] == 100
    assert gap(made_up_table(), "small", "big", budget=1.0)["gap"] == pytest.approx(-0.09)
    with pytest.raises(ValueError, match="no 'lora' rows at budget 10%"):
        gap(made_up_table(), "lora", "big", budget=0.1)
    with pytest.raises(ValueError, match="budget 1/class"):
        gap(made_up_table(), "small", "big", budget=1)      # 1 label per class is not 100 %
    with pytest.raises(ValueError, match="columns"):
        gap(made_up_table().drop(columns="all_params"), "small", "big", budget=0.1)


def test_compare_keeps_the_trained_models_when_asked(data):
    train, test = data.split(0.25, seed=0)
    models = {}
    table = compare(encoder(), train, test, strategies=["lora", "bandpower_logreg"], budgets=(8,), seeds=(3,),
                    steps=2, batch_size=16, models=models)
    assert list(models) == [("lora", 8, 3)] and isinstance(models["lora", 8, 3], LoRA)
    assert models["lora", 8, 3].accuracy(test) == table["accuracy"].iloc[0]


def test_every_profile_has_adaptation_run_settings():
    from fmlab.adapt.compare import RUNS
    from fmlab.profiles import PROFILES
    assert set(RUNS) == set(PROFILES)
    assert all(r["steps"] >= 1 and r["batch_size"] >= 1 for r in RUNS.values())


def test_band_features_in_chunks_equal_the_whole_batch_at_once():
    from fmlab.adapt.baselines import band_features
    from fmlab.data.spectral import log_band_power
    x = torch.randn(70, 3, 256)
    whole = log_band_power(x, 128.0).flatten(1).numpy()
    assert torch.allclose(torch.as_tensor(band_features(x.numpy(), 128.0, chunk=16)), torch.as_tensor(whole), atol=1e-5)
