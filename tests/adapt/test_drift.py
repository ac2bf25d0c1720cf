"""How far adaptation moved the weights (fmlab.adapt.drift), and the sentences that read it."""
import torch

from fmlab.adapt import full_finetune, lora
from fmlab.adapt.drift import rank_share, weight_change, weight_change_sentences
from fmlab.models import Encoder, EncoderConfig


def encoder():
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=2, length=64))


def test_a_fresh_lora_has_not_moved_and_a_rank_one_change_is_all_in_rank_one():
    base = encoder()
    lo, ft = lora(base, 2, rank=4), full_finetune(base, 2)
    with torch.no_grad():
        for i in range(len(base.blocks)):
            for t in ("q", "v"):
                w = ft.encoder.get_submodule(f"blocks.{i}.attn.{t}").weight
                w += 0.1 * torch.outer(torch.randn(w.shape[0]), torch.randn(w.shape[1]))
    change = weight_change(base, {"full_finetune": ft, "lora": lo}, rank=4)
    assert change["relative"]["lora"] == 0.0 and change["relative"]["full_finetune"] > 0.01
    assert change["rank_share"] > 0.999 and change["random_share"] < 0.5
    lines = weight_change_sentences(change)
    assert "B is still near zero" in lines[0] and "mostly low-rank" in lines[1]


def test_a_lora_update_counts_as_moved_and_merging_does_not_change_the_measure():
    base = encoder()
    lo = lora(base, 2, rank=2)
    with torch.no_grad():
        for m in lo.encoder.modules():
            if hasattr(m, "lora_B"):
                m.lora_B.normal_(std=0.5)
    before = weight_change(base, {"lora": lo})["relative"]["lora"]
    lo.merge()
    assert before > 0.05 and abs(weight_change(base, {"lora": lo})["relative"]["lora"] - before) < 1e-4
    assert "far from zero" in weight_change_sentences(weight_change(base, {"lora": lo}))[0]
    assert abs(rank_share(torch.eye(4), 2) - 0.5) < 1e-6
