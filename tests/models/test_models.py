import pytest
import torch

from fmlab.masking import make_mask
from fmlab.models import PRESETS, Encoder, EncoderConfig


@pytest.fixture
def enc():
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=3, length=64)).eval()


@pytest.mark.parametrize("size, low, high", [("tiny", 0.05e6, 0.2e6), ("small", 0.5e6, 2e6),
                                            ("medium", 5e6, 15e6), ("base", 25e6, 50e6)])
def test_presets_have_their_advertised_size(size, low, high):
    n = Encoder(EncoderConfig.preset(size, channels=19, length=512)).num_parameters()
    assert low < n < high, f"{size}: {n:,} parameters"


def test_shapes(enc):
    x = torch.randn(5, 3, 64)
    cfg = enc.config
    assert cfg.patch_size == 8 and cfg.num_tokens == 24
    assert enc(x).shape == (5, 25, 64)
    assert enc.embed(x).shape == (5, 64)
    keep, _ = make_mask("random", 5, 3, cfg.patches, 0.75)
    assert enc(x, keep=keep).shape == (5, 1 + keep.shape[1], 64)


def test_depth_runs_the_first_blocks_only(enc):
    x = torch.randn(2, 3, 64)
    depth = len(enc.blocks)
    torch.testing.assert_close(enc(x, depth=depth), enc(x))
    early = enc(x, depth=1)
    assert early.shape == enc(x).shape and not torch.allclose(early, enc(x))
    h = enc.tokenize(x)
    h = enc.blocks[0](torch.cat([enc.cls_token.expand(2, -1, -1), h], 1))
    torch.testing.assert_close(early, enc.norm(h))  # one block, then the final norm
    assert enc.embed(x, depth=2, pool="mean+max").shape == (2, 128)
    for bad in (0, depth + 1):
        with pytest.raises(ValueError, match=f"depth must be 1..{depth}"):
            enc(x, depth=bad)


def test_keep_all_tokens_equals_no_mask(enc):
    x = torch.randn(2, 3, 64)
    keep = torch.arange(24).expand(2, -1)
    torch.testing.assert_close(enc(x, keep=keep), enc(x))


def test_masked_tokens_do_not_influence_visible_outputs():
    # With norm="scale": instance normalisation takes each channel's mean and std over the whole series,
    # hidden patches included (as RevIN / MOMENT), so two numbers per channel do reach the visible tokens.
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig.preset("tiny", channels=3, length=64, norm="scale")).eval()
    x = torch.randn(2, 3, 64)
    keep, masked = make_mask("random", 2, 3, 8, 0.5, generator=torch.Generator().manual_seed(1))
    x2 = x.clone().view(2, 24, 8)
    x2[masked] += 100.0  # change only hidden patches
    torch.testing.assert_close(enc(x, keep=keep), enc(x2.view(2, 3, 64), keep=keep))


def test_prompts_shallow_and_deep_keep_the_output_shape_and_change_it(enc):
    x = torch.randn(2, 3, 64)
    base = enc(x)
    shallow = enc(x, prompts=torch.randn(4, 64))
    deep = enc(x, prompts=[torch.randn(4, 64) for _ in enc.blocks])
    assert shallow.shape == deep.shape == base.shape
    assert not torch.allclose(shallow, base) and not torch.allclose(deep, base)
    with pytest.raises(ValueError, match="one tensor per block"):
        enc(x, prompts=[torch.randn(4, 64)])


def test_attention_uses_explicit_linears(enc):
    attn = enc.blocks[0].attn
    assert all(isinstance(getattr(attn, n), torch.nn.Linear) for n in ("q", "k", "v", "out"))


def test_bad_inputs_get_clear_errors(enc):
    with pytest.raises(ValueError, match=r"at most 3 channels.*channel_embed=False"):
        enc(torch.randn(2, 4, 64))
    with pytest.raises(ValueError, match=r"at most 64 samples.*resample"):
        enc(torch.randn(2, 3, 72))
    with pytest.raises(ValueError, match="rank 3"):
        enc(torch.randn(3, 64))
    with pytest.raises(ValueError, match="NaN"):
        enc(torch.full((1, 3, 64), float("nan")))
    with pytest.raises(ValueError, match="no effect with norm='instance'"):
        EncoderConfig(channels=1, length=64, input_scale=12.0)
    with pytest.raises(ValueError, match="positive integer, got 19.5"):
        EncoderConfig(channels=19.5, length=64)
    with pytest.raises(ValueError, match="unknown size"):
        EncoderConfig.preset("huge", channels=1, length=64)


def test_config_roundtrip():
    cfg = EncoderConfig.preset("small", channels=19, length=512)
    import json
    assert EncoderConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert set(PRESETS) == {"tiny", "small", "medium", "base"}


def test_follows_the_mark_tells_an_encoder_that_reads_the_offsets_from_one_that_cannot():
    from fmlab.data import load
    from fmlab.evaluate_geometry import follows_the_mark
    from fmlab.models import Encoder, EncoderConfig

    class ReadsTheOffsets(Encoder):
        def embed(self, x, **_):
            return x.mean(-1)                      # each channel's mean: the mark, plus a little of the signal

    marked = load("eeg-offsets", n=64, seed=0)
    config = EncoderConfig(channels=19, length=512, patch_size=64)
    assert follows_the_mark(ReadsTheOffsets(config), marked) > 0.9
    assert follows_the_mark(Encoder(config), marked) == 0.0    # norm="instance" removes each channel's mean
    with pytest.raises(ValueError, match="meta\\['offset'\\]"):
        follows_the_mark(Encoder(config), load("eeg", n=8))


def test_under_noise_scores_the_clean_probe_on_noisier_signals():
    from fmlab.data import load
    from fmlab.evaluate import linear_probe
    from fmlab.evaluate_geometry import under_noise
    from fmlab.models import Encoder, EncoderConfig

    class ReadsThePower(Encoder):
        def embed(self, x, **_):
            return x.var(-1).log()                 # each channel's power: what tells this corpus's states apart

    train, test = load("eeg", n=400, seed=0).split(0.5, seed=0)
    power = ReadsThePower(EncoderConfig(channels=19, length=512, patch_size=64))
    acc = under_noise(power, train, test, levels=(0.0, 3.0))
    assert acc[0.0] == linear_probe(power, train, test) > 0.6
    assert acc[3.0] < acc[0.0] - 0.1               # noise nine times the signal's power drowns the bands
    assert under_noise(power, train, test, levels=(3.0,)) == {3.0: acc[3.0]}   # one draw of noise, whatever the levels
    with pytest.raises(ValueError, match="levels >= 0"):
        under_noise(power, train, test, levels=(-1.0,))
