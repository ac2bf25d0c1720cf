"""Next-patch prediction (the GPT side): the causal mask, the objective's learning, its forecasts."""
import math

import pytest
import torch

import fmlab
from fmlab import hub
from fmlab.data import SignalDataset
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import NextPatch
from fmlab.pretrain.recipes import make_objective, run_settings


def causal_encoder(channels=1, length=64, patch_size=8, **kw):
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=channels, length=length, patch_size=patch_size,
                                        causal=True, **kw)).eval()


def sine_mixtures(n: int, length: int, seed: int) -> torch.Tensor:
    """[n, 1, length]: two sinusoids of random period (8..32 samples), phase and amplitude each."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    x = torch.zeros(n, length)
    for _ in range(2):
        period = 8 + 24 * torch.rand(n, 1, generator=g)
        x += (0.5 + torch.rand(n, 1, generator=g)) * torch.sin(2 * math.pi * t / period
                                                                + 6.283 * torch.rand(n, 1, generator=g))
    return x[:, None]


@pytest.mark.parametrize("kind", ["univariate", "channels mixed", "channel-independent"])
def test_no_token_attends_to_a_later_patch(kind):
    """Changing patch 3 onwards leaves every token of patches 0..2 (and CLS) exactly as it was, in every channel;
    without the causal mask the earlier tokens change."""
    channels = 1 if kind == "univariate" else 3
    extra = {"channel_independent": True, "channel_embed": False} if kind == "channel-independent" else {}
    x = torch.randn(2, channels, 64)
    later = x.clone()
    later[..., 24:] += torch.randn_like(later[..., 24:])                 # patches 3..7 of 8 samples
    for causal in (True, False):
        torch.manual_seed(0)
        enc = Encoder(EncoderConfig.preset("tiny", channels=channels, length=64, patch_size=8, causal=causal,
                                           norm="scale", **extra)).eval()  # "scale": the window's statistics stay put
        a, b = (enc(v)[:, 1:].reshape(2, channels, 8, -1) for v in (x, later))
        same_before = torch.allclose(a[:, :, :3], b[:, :, :3], atol=1e-6)
        assert same_before == causal, (kind, causal)
        assert not torch.allclose(a[:, :, 3:], b[:, :, 3:]), "later tokens must see their own patch"
        if causal and kind != "channel-independent":
            assert torch.allclose(enc(x)[:, 0], enc(later)[:, 0], atol=1e-6), "CLS sees no patch"


def test_causal_mask_with_padding_and_prompts():
    enc = causal_encoder(norm="scale")
    x = torch.randn(2, 1, 64)
    later = x.clone()
    later[..., 40:] = 5.0
    prompts = torch.randn(3, enc.dim)
    lengths = torch.tensor([64, 48])
    a = enc(x, prompts=prompts, lengths=lengths)[:, 1:]
    b = enc(later, prompts=prompts, lengths=lengths)[:, 1:]
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[0, 5:], b[0, 5:])


def test_next_patch_refuses_what_it_cannot_train():
    with pytest.raises(ValueError, match="causal=True"):
        NextPatch(Encoder(EncoderConfig.preset("tiny", channels=1, length=64, patch_size=8)))
    obj = NextPatch(causal_encoder())
    with pytest.raises(ValueError, match="at least two patches"):
        obj(torch.randn(2, 1, 8))
    with pytest.raises(ValueError, match="positive whole horizon"):
        obj.forecast(torch.randn(2, 1, 32), 0)
    with pytest.raises(ValueError, match="at least one patch"):
        obj.forecast(torch.randn(2, 1, 4), 8)


def test_forecast_is_in_signal_units_and_of_the_asked_shape():
    obj = NextPatch(causal_encoder(channels=1, channel_independent=True, channel_embed=False))
    x = 1e3 + 50 * torch.randn(3, 2, 45)                        # 45: not whole patches, two channels
    f = obj.forecast(x, horizon=13)
    assert f.shape == (3, 2, 13)
    assert (f.mean() - 1e3).abs() < 200, "de-normalised with the context's statistics"


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_next_patch_learns_and_forecasts_better_than_repeating_the_last_patch():
    """Trained: forecast error about 0.32 against 2.9 for repeating the last patch and 1.1 for the context's mean
    (untrained: 1.5, so the bar is the mean, not only the repeat)."""
    torch.manual_seed(0)
    train = SignalDataset(sine_mixtures(768, 64, seed=0), torch.zeros(768, dtype=torch.long), ["sines"], fs=1.0)
    obj = NextPatch(causal_encoder(length=64).train())
    hist = fmlab.train.fit(obj, train, steps=250, batch_size=64, lr=3e-3, progress=False, device="cpu")
    assert hist.final_loss(10) < 0.5 * sum(hist.loss[:10]) / 10
    held_out = sine_mixtures(128, 64, seed=1)
    context, future = held_out[..., :48], held_out[..., 48:]
    forecast = obj.eval().forecast(context, horizon=16)
    repeat = context[..., -8:].repeat(1, 1, 2)                  # the naive forecast: the last patch, again
    mean = context.mean(-1, keepdim=True).expand_as(future)     # what an untrained model does (about 1.5x repeat)
    mse = lambda p: float(((p - future) ** 2).mean())
    assert mse(forecast) < 0.5 * min(mse(repeat), mse(mean)), (mse(forecast), mse(repeat), mse(mean))


def test_next_patch_is_a_run_objective_saves_through_hub_and_adapts(tmp_path):
    s = run_settings("next-patch", data="pile", profile="smoke", steps=2, batch_size=8)
    assert s["objective"] == "next-patch"
    enc = causal_encoder(length=128, channel_independent=True, channel_embed=False)
    obj = make_objective("next-patch", enc, data="pile")
    assert isinstance(obj.objective, NextPatch) and obj(torch.randn(4, 1, 128))["loss"].isfinite()
    hub.save(enc, tmp_path / "e.safetensors")
    assert hub.load(tmp_path / "e.safetensors").config.causal
    data = SignalDataset(torch.randn(32, 2, 64), torch.arange(32) % 2, ["a", "b"], fs=1.0)
    clf = fmlab.adapt.Classifier(enc, num_classes=2)
    fmlab.train.fit(clf, data, steps=2, batch_size=16, progress=False, device="cpu")
    assert clf.predict(data.x).shape == (32,)
