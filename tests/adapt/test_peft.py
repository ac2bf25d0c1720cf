"""fmlab's LoRA against Hugging Face PEFT's: the same A and B give the same outputs, and a task goes across and back."""
import copy
import importlib.util

import pytest
import torch

import fmlab
from fmlab.adapt import Classifier, from_peft, to_peft
from fmlab.adapt.base import fingerprint

# Imported by the fixture, not here: importing PEFT (and transformers under it) takes seconds, and every test
# collection would pay them.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("peft") is None,
                                reason='needs PEFT: pip install -e ".[dev]" (or ".[peft]")')


@pytest.fixture(scope="module")
def peft():
    import peft
    return peft


@pytest.fixture(scope="module")
def encoder() -> fmlab.models.Encoder:
    torch.manual_seed(0)
    return fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=2, length=64)).eval()


def trained_lora(encoder, targets=("q", "v")) -> fmlab.adapt.LoRA:
    """A LoRA classifier whose B and head are no longer their initial values (B starts at zero, which would make
    any two LoRAs agree)."""
    clf = fmlab.adapt.lora(encoder, num_classes=3, rank=4, alpha=8.0, targets=targets)
    with torch.no_grad():
        for m in clf.lora_layers():
            m.lora_B.normal_(std=0.2)
        clf.head.linear.weight.normal_()
    return clf.eval()


def test_fmlab_lora_and_peft_lora_give_the_same_outputs_with_the_same_a_and_b(peft, encoder):
    clf = trained_lora(encoder, targets=("q", "v", "mlp"))
    base = Classifier(copy.deepcopy(encoder), 3)
    base.head.load_state_dict(clf.head.state_dict())
    # PEFT as its users write it: module names matched by suffix, the head saved with the adapter
    theirs = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8.0, target_modules=["q", "v", "fc1", "fc2"],
                                                       lora_dropout=0.0, modules_to_save=["head"])).eval()
    with torch.no_grad():
        for name, ours in clf.named_modules():
            if isinstance(ours, fmlab.adapt.LoRALinear):
                layer = theirs.get_base_model().get_submodule(name)
                layer.lora_A["default"].weight.copy_(ours.lora_A)
                layer.lora_B["default"].weight.copy_(ours.lora_B)
    x = torch.randn(6, 2, 64)
    with torch.no_grad():
        plain = Classifier(copy.deepcopy(encoder), 3).eval()
        plain.head.load_state_dict(clf.head.state_dict())
        assert (clf(x) - plain(x)).abs().max() > 1e-2, "the update is too small for the test to tell"
        torch.testing.assert_close(theirs(x), clf(x), rtol=0, atol=1e-6)
        merged = copy.deepcopy(theirs).merge_and_unload()
        torch.testing.assert_close(merged(x), copy.deepcopy(clf).merge()(x), rtol=0, atol=1e-5)
    trainable, _ = theirs.get_nb_trainable_parameters()
    assert trainable == clf.trainable_parameters()  # LoRA's A and B in every layer, and the head


def test_a_task_goes_to_peft_and_back_with_its_outputs(peft, encoder, tmp_path):
    clf = trained_lora(encoder, targets=("q", "k", "v", "out"))
    x = torch.randn(6, 2, 64)
    before = fingerprint(encoder.state_dict())
    model = to_peft(clf)
    assert isinstance(model, peft.PeftModel) and not model.training
    model.save_pretrained(tmp_path / "task-peft")
    back = from_peft(tmp_path / "task-peft", encoder, num_classes=3)
    again = from_peft(model)
    with torch.no_grad():
        torch.testing.assert_close(model(x), clf(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(back(x), clf(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(again(x), clf(x), rtol=0, atol=1e-6)
    assert back.arguments == clf.arguments and back.base_fingerprint == clf.base_fingerprint
    assert fingerprint(encoder.state_dict()) == before, "the encoder given to from_peft was changed"
    assert fmlab.adapt.save_delta(back, tmp_path / "task.safetensors") > 0  # fmlab's own format from here on


def test_what_fmlab_lora_cannot_hold_is_refused(peft, encoder, tmp_path):
    with pytest.raises(ValueError, match="only LoRA has a PEFT LoRA form"):
        to_peft(fmlab.adapt.linear_probe(encoder, num_classes=3))
    with pytest.raises(ValueError, match="call clf.unmerge"):
        to_peft(trained_lora(encoder).merge())
    with pytest.raises(ValueError, match="needs the encoder it was trained on"):
        from_peft(tmp_path)
    with pytest.raises(ValueError, match="around an fmlab.adapt.Classifier"):
        from_peft(torch.nn.Linear(2, 2))
    one_layer = peft.LoraConfig(r=4, lora_alpha=8.0, target_modules=["encoder.blocks.0.attn.q"])
    with pytest.raises(ValueError, match="whole sets of layers in every block"):
        from_peft(peft.get_peft_model(Classifier(copy.deepcopy(encoder), 3), one_layer))
    per_layer = peft.LoraConfig(r=4, lora_alpha=8.0, target_modules=["q", "v"], rank_pattern={"q": 2})
    with pytest.raises(ValueError, match="ranks per layer"):
        from_peft(peft.get_peft_model(Classifier(copy.deepcopy(encoder), 3), per_layer))
