"""The sentences a notebook prints about an adaptation comparison, written from its tables (so prose and numbers
cannot drift apart). The tables' readers (summarize, strategy_table, gap, versus) are in fmlab.adapt.readout.

    comparison_sentences(table, len(test), steps=50, batch_size=32)   # what a compare() table says, per question
    lora_sentences(table, len(test))        # LoRA against full fine-tuning and the probe, at 10 % of the labels
    classic_sentence(table, len(test))      # at how many budgets the classic method beats every deep strategy
    guide_sentences(table)                  # what the "which strategy when" table says: labels, bytes, seconds
    delta_sentences(adapted, sizes, whole)  # per task delta on disk: its bytes, their share, what it holds
"""
from __future__ import annotations

from typing import Iterable, Sequence

from ..evaluate import within_noise
from .base import Classifier
from .compare import ADAPTATIONS
from .readout import (budget_name, budget_sentences, fewer_passes_sentences, full_finetune_sentences, gap,
                      strategy_table, versus)

DEEP = (*ADAPTATIONS, "from_scratch")  # the strategies that train a network (not a fitted classic pipeline)
SAID = {"bandpower_logreg": "Band power + logistic regression", "minirocket": "MiniRocket"}  # in a sentence
LORA_TARGET = (-0.02, 5.0)  # LoRA's aim: at most 2 points below full fine-tuning, at no more than 5 % trainable


def _check_strategies(table, needed: Iterable[str], fn: str) -> None:
    have = list(dict.fromkeys(table["strategy"])) if "strategy" in getattr(table, "columns", ()) else []
    needed = list(dict.fromkeys(needed))
    missing = [s for s in needed if s not in have]
    if missing:
        raise ValueError(f"{fn}: expected a compare() table with the strategies {needed}; it has {have}, "
                         f"missing {missing}; run compare(..., strategies=[*ADAPTATIONS, 'from_scratch', ...]) "
                         f"with them")


def lora_sentences(table, test_size: int, budget: int | float = 0.1) -> list[str]:
    """Three sentences on one budget of a compare() table: LoRA against full fine-tuning (and whether LoRA_TARGET is
    met), LoRA and full fine-tuning against the linear probe, prompts against the probe and adapters against
    LoRA. Gaps are seed-paired (readout.gap), read against within_noise(``test_size``)."""
    _check_strategies(table, ADAPTATIONS, "lora_sentences")
    noise, at = within_noise(test_size), budget_name(budget)
    g = gap(table, "lora", "full_finetune", budget)
    d, pct = g["gap"], g["trainable_pct"]
    target = d >= LORA_TARGET[0] and pct <= LORA_TARGET[1]
    return [f"At {at} of the labels LoRA ({g['accuracy']:.3f}) is {100 * abs(d):.1f} points "
            f"{'above' if d > 0 else 'below'} full fine-tuning ({g['reference_accuracy']:.3f}) while training "
            f"{pct:.2f} % of the parameters: the target (at most {-100 * LORA_TARGET[0]:g} points below, at no more "
            f"than {LORA_TARGET[1]:g} % trainable) is {'met' if target else 'MISSED'}; the gap is "
            f"{'within' if abs(d) < noise else 'beyond'} the noise ({noise:.3f}).",
            f"LoRA is {versus(gap(table, 'lora', 'linear_probe', budget), noise)} the linear probe (head only) at "
            f"{at}; full fine-tuning is {versus(gap(table, 'full_finetune', 'linear_probe', budget), noise)} it.",
            f"Prompt tuning is {versus(gap(table, 'prompt_tuning', 'linear_probe', budget), noise)} the linear probe "
            f"at {at}, and adapters are {versus(gap(table, 'adapter', 'lora', budget), noise)} LoRA."]


def classic_sentence(table, test_size: int, classic: str = "bandpower_logreg", deep: Sequence[str] = DEEP) -> str:
    """At which budgets of a compare() table the ``classic`` method beats every one of the ``deep`` strategies by
    at least within_noise(``test_size``), seed-paired."""
    _check_strategies(table, [classic, *deep], "classic_sentence")
    noise, budgets = within_noise(test_size), list(dict.fromkeys(table["budget"]))
    beaten = [b for b in budgets if all(gap(table, classic, name, b)["gap"] >= noise for name in deep)]
    return (f"{SAID.get(classic, classic)} beats every deep strategy beyond noise at "
            f"{', '.join(budget_name(b) for b in beaten) if beaten else 'no budget'} of {len(budgets)} budgets.")


def comparison_sentences(table, test_size: int, steps: int, batch_size: int, classic: str = "bandpower_logreg",
                         budget: int | float = 0.1) -> list[str]:
    """What a compare() table says, as lines to print (blank lines between the questions): the noise, the best
    strategies per budget (readout.budget_sentences against from scratch and ``classic``), LoRA at ``budget``
    (lora_sentences), the classic method (classic_sentence), whether full fine-tuning wins with enough labels, and
    whether more labels ever cost accuracy (runs of ``steps`` of ``batch_size``). ``test_size``: the test signals
    each accuracy was measured on."""
    _check_strategies(table, [*DEEP, classic], "comparison_sentences")
    return [f"ties: gaps under {within_noise(test_size):.3f} ({test_size} test signals; seeds: "
            f"{table['seed'].nunique()})", "",
            *budget_sentences(table, test_size, baselines=("from_scratch", classic)), "",
            *lora_sentences(table, test_size, budget), "",
            classic_sentence(table, test_size, classic), "",
            "Does full fine-tuning, which trains everything, win once there are enough labels?",
            *full_finetune_sentences(table, test_size), "",
            "Did more labels ever cost accuracy?",
            *fewer_passes_sentences(table, steps, batch_size, test_size)]


def guide_sentences(table, within: float = 0.05, classic: str = "bandpower_logreg", deep: Sequence[str] = DEEP,
                    budget: int | float = 0.1) -> list[str]:
    """Five sentences read from strategy_table(``table``, ``within``): which strategies come within ``within`` of
    the best result and from how many labels, the best at the fewest and the most labels; LoRA against full
    fine-tuning at ``budget``; the bytes one more task costs; the training time at the largest budget; and the
    ``classic`` method's weights, seconds, bytes and accuracies."""
    _check_strategies(table, [*ADAPTATIONS, classic, *deep], "guide_sentences")
    guide = strategy_table(table, within=within)
    acc = guide.filter(like="acc ")
    lowest, highest = acc.columns[0], acc.columns[-1]
    needed = guide["labels_needed"].dropna().sort_values(kind="stable")
    reached = ", ".join(f"{name} from {n:.0f} labels" for name, n in needed.items()) if len(needed) else "no strategy"
    never = ", ".join(guide.index.difference(needed.index, sort=False)) or "none"
    g = gap(table, "lora", "full_finetune", budget)
    size, seconds = guide["stored_bytes"], guide["train_seconds"]
    fastest = seconds[list(deep)].idxmin()
    weights = int(table.loc[table["strategy"] == classic, "trainable_params"].iloc[0])
    return [f"Within {100 * within:g} points of the best result: {reached} (never: {never}). At {lowest[4:]} the best "
            f"is {acc[lowest].idxmax()} ({acc[lowest].max():.3f}), at {highest[4:]} {acc[highest].idxmax()} "
            f"({acc[highest].max():.3f}).",
            f"LoRA at {budget_name(budget)} of the labels: {100 * abs(g['gap']):.1f} points "
            f"{'above' if g['gap'] > 0 else 'below'} full fine-tuning, training {g['trainable_pct']:.2f} % of the "
            f"parameters instead of {g['reference_trainable_pct']:.0f} %.",
            f"One more task on disk: LoRA {size['lora']:,.0f} bytes, prompts {size['prompt_tuning']:,.0f}, a linear "
            f"probe {size['linear_probe']:,.0f}, full fine-tuning {size['full_finetune']:,.0f} "
            f"({size['full_finetune'] / size['lora']:.0f} x LoRA's).",
            f"Training time at {highest[4:]}: fastest deep strategy {fastest} ({seconds[fastest]:.1f} s), full "
            f"fine-tuning {seconds['full_finetune']:.1f} s, LoRA {seconds['lora']:.1f} s (LoRA still back-propagates "
            f"through the whole encoder, so it saves less time than its trainable % suggests).",
            f"{SAID.get(classic, classic)}: {weights} fitted weights, {seconds[classic]:.2f} s, "
            f"{size[classic]:,.0f} bytes; accuracy {' / '.join(f'{a:.3f}' for a in acc.loc[classic])} at "
            f"{' / '.join(c[4:] for c in acc.columns)}."]


def delta_parts(keys: Iterable[str]) -> list[str]:
    """What a task delta holds, from its state-dict keys (Classifier.delta_state()), sorted: "head", "LoRA A, B",
    "prompts", "adapters" and "encoder weights" (what full fine-tuning also stores)."""
    if isinstance(keys, str):
        raise ValueError(f"delta_parts: expected the keys of a task delta (e.g. clf.delta_state()), got the string "
                         f"{keys!r}; pass a list or dict of keys")
    return sorted({"head" if k.startswith("head.") else "LoRA A, B" if ".lora_" in k else "prompts" if k == "prompts"
                   else "adapters" if (".down." in k or ".up." in k) else "encoder weights" for k in keys})


def delta_sentences(adapted: dict[str, Classifier], sizes: dict[str, int], whole: int) -> list[str]:
    """One line per adapted model: the bytes of its task delta (``sizes``, as save_delta returned them), their share
    of ``whole`` (the bytes of the base encoder's file) and what the delta holds (delta_parts)."""
    if set(sizes) != set(adapted) or not whole > 0:
        raise ValueError(f"delta_sentences: expected the bytes of every adapted model's delta and the encoder file's "
                         f"bytes (> 0); got sizes for {sorted(sizes)}, models {sorted(adapted)}, whole={whole!r}; "
                         f"pass sizes = {{name: save_delta(clf, path) for name, clf in adapted.items()}}")
    return [f"{name:>14}: {sizes[name]:>10,} bytes = {sizes[name] / whole:7.2%} of the encoder file "
            f"({', '.join(delta_parts(clf.delta_state()))})" for name, clf in adapted.items()]
