import pytest
import torch

from fmlab import hub
from fmlab.models import Encoder, EncoderConfig


def tiny(**kw):
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=3, length=64, **kw))


def test_save_load_gives_identical_outputs(tmp_path):
    enc, x = tiny().eval(), torch.randn(2, 3, 64)
    path = hub.save(enc, tmp_path / "enc.safetensors", objective="mae")
    back = hub.load(path).eval()
    assert torch.equal(back(x), enc(x))
    cfg, info = hub.read_config(path)
    assert cfg == enc.config and info == {"objective": "mae"}


def test_loading_into_another_config_is_refused(tmp_path):
    path = hub.save(tiny(), tmp_path / "enc.safetensors")
    with pytest.raises(ValueError, match="another config.*'depth': \\(3, 2\\)"):
        hub.load(path, into=tiny(depth=3))


def test_foreign_or_truncated_files_are_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        hub.load(bad)
    path = hub.save(tiny(), tmp_path / "enc.safetensors")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError):
        hub.load(path)
