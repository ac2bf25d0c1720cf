"""Adapting a pretrained encoder to a labelled task, four ways, and comparing them.

    clf = fmlab.adapt.lora(enc, num_classes=4, rank=4)   # linear_probe, full_finetune, adapter, prompt_tuning
    print(clf.summary())                                  # trainable params: X || all params: Y || trainable%: Z
    fmlab.train.fit(clf, few_labels, steps=200, lr=clf.default_lr)
    n_bytes = fmlab.adapt.save_delta(clf, "task.safetensors"); clf = fmlab.adapt.load_delta("task.safetensors", enc)
    table = fmlab.adapt.compare(enc, train, test, budgets=(10, 1.0), seeds=(0, 1))

Every strategy function adapts a deep copy of the encoder it is given: the pretrained encoder is never
changed, however many strategies you try on it. (A bare ``Classifier(enc, n)`` wraps ``enc`` itself.)
"""
from .adapter import Adapter, AdapterLinear, adapter
from .base import Classifier, fingerprint
from .budget import FairBudget, fair_fit
from .baselines import FromScratch, bandpower_logreg, from_scratch, minirocket
from .compare import compare, forgetting
from .delta import load_delta, save_delta
from .drift import weight_change, weight_change_sentences
from .finetune import FullFinetune, full_finetune
from .lora import LoRA, LoRALinear, lora
from .peft_bridge import from_peft, to_peft
from .probe import LinearProbe, linear_probe
from .prompt import PromptTuning, prompt_tuning
from .narration import (classic_sentence, comparison_sentences, delta_parts, delta_sentences, guide_sentences,
                        lora_sentences)
from .readout import (accuracy_by_budget, budget_name, budget_sentences, fewer_passes_sentences, forgetting_by_strategy,
                      forgetting_sentences, full_finetune_sentences, gap, strategy_table, summarize, versus,
                      which_strategy)
from .strategies import STRATEGIES, build

__all__ = ["Adapter", "AdapterLinear", "Classifier", "FairBudget", "FromScratch", "FullFinetune", "LinearProbe",
           "LoRA", "LoRALinear", "PromptTuning", "STRATEGIES", "accuracy_by_budget", "adapter", "bandpower_logreg",
           "budget_name", "budget_sentences", "build", "classic_sentence", "compare", "comparison_sentences",
           "delta_parts", "delta_sentences", "fair_fit", "fewer_passes_sentences", "fingerprint", "forgetting",
           "forgetting_by_strategy", "forgetting_sentences", "from_peft", "from_scratch", "full_finetune",
           "full_finetune_sentences", "gap", "guide_sentences", "linear_probe", "load_delta", "lora", "lora_sentences",
           "minirocket", "prompt_tuning", "save_delta", "strategy_table", "summarize", "to_peft", "versus",
           "weight_change", "weight_change_sentences", "which_strategy"]
