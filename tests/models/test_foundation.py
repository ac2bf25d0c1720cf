"""The shape-agnostic encoder, the pile and the committed references (issue 16)."""
import json

import pytest
import torch
from safetensors.torch import save_file

import fmlab
from fmlab import hub
from fmlab.data import load
from fmlab.data.pile import PILE_SIZES, build_pile, pile_sources, resample
from fmlab.data.synthetic import FAMILIES, generate, generate_mixture
from fmlab.evaluate import features
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import MAE, JEPA, Contrastive, MaskedSpectrum
from fmlab.pretrain.lengths import RandomLength, random_windows
from fmlab.pretrain.recipes import foundation_config


def any_shape(**overrides):
    torch.manual_seed(0)
    cfg = EncoderConfig.preset("tiny", channels=1, length=128, patch_size=8, channel_embed=False,
                               channel_independent=True, **overrides)
    return Encoder(cfg).eval()


# -- one encoder for any shape ---------------------------------------------------------------------
def test_one_encoder_takes_any_channel_count_and_length_up_to_its_maximum():
    enc = any_shape()
    for shape in [(3, 1, 128), (2, 6, 100), (4, 19, 64), (1, 2, 7)]:
        x = torch.randn(*shape)
        p = -(-shape[2] // 8)
        assert enc(x).shape == (shape[0], 1 + shape[1] * p, 64)
        assert enc.embed(x).shape == (shape[0], 64)
        assert enc.embed(x, per_channel=True).shape == (shape[0], shape[1], 64)
    with pytest.raises(ValueError, match=r"at most 128 samples.*resample it explicitly"):
        enc(torch.randn(1, 1, 136))


def test_channel_independent_means_each_channel_is_encoded_as_if_alone():
    enc, x = any_shape(), torch.randn(2, 3, 64)
    together = enc.embed(x, per_channel=True)
    alone = torch.stack([enc.embed(x[:, c:c + 1]) for c in range(3)], 1)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_instance_normalisation_ignores_each_channels_gain_and_offset():
    enc, x = any_shape(), torch.randn(2, 2, 64)
    moved = x * torch.tensor([[[12.0], [0.01]]]) + torch.tensor([[[100.0], [-3.0]]])
    torch.testing.assert_close(enc.embed(moved), enc.embed(x), atol=1e-4, rtol=1e-4)


def test_padding_is_invisible_whatever_it_holds():
    enc = any_shape()
    short = torch.randn(1, 2, 20)
    for fill, pool in ((0.0, None), (1e3, None), (1e3, "mean+max")):
        padded = torch.full((1, 2, 48), fill)
        padded[..., :20] = short
        for per_channel in (False, True):
            torch.testing.assert_close(enc.embed(padded, lengths=torch.tensor([20]), pool=pool, per_channel=per_channel),
                                       enc.embed(short, pool=pool, per_channel=per_channel), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="lengths must be"):
        enc(padded, lengths=torch.tensor([60]))


def test_adaptation_trains_and_predicts_with_the_padding_masked_out():
    from fmlab.adapt import lora
    from fmlab.data import SignalDataset
    from fmlab.train import fit
    torch.manual_seed(0)
    short, lengths = torch.randn(24, 2, 48), torch.randint(16, 49, (24,))
    y = torch.arange(24) % 2
    predictions = []
    for fill in (0.0, 1e3):  # what padding holds must change nothing, in training or in prediction
        x = short.clone()
        x[torch.arange(48) >= lengths[:, None, None].expand(-1, 2, 48)] = fill
        data = SignalDataset(x, y, ["a", "b"], 1.0, {"length": lengths}, name="ragged")
        clf = lora(any_shape(), num_classes=2)
        fit(clf, data, steps=4, batch_size=8, seed=0, progress=False)
        predictions.append((clf.head.linear.weight.detach().clone(), clf.predict(x, lengths=lengths),
                            clf.accuracy(data)))
    torch.testing.assert_close(predictions[0][0], predictions[1][0])
    assert torch.equal(predictions[0][1], predictions[1][1]) and predictions[0][2] == predictions[1][2]


def test_mean_max_pooling_puts_the_strongest_token_beside_the_mean():
    enc = any_shape().eval()
    x = torch.randn(3, 2, 40)
    tokens = enc(x)[:, 1:].reshape(3, 2, -1, enc.config.dim)               # [B, C, P, D]
    both = enc.embed(x, per_channel=True, pool="mean+max")
    torch.testing.assert_close(both, torch.cat([tokens.mean(2), tokens.amax(2)], -1))
    assert enc.embed(x, pool="mean+max").shape == (3, 2 * enc.config.dim)
    with pytest.raises(ValueError, match="CLS token is shared"):
        enc.embed(x, per_channel=True, pool="cls")
    with pytest.raises(ValueError, match="'mean', 'mean\\+max' or 'cls', got 'max'"):
        enc.embed(x, pool="max")


def test_a_joint_encoder_with_channel_embeddings_keeps_its_old_behaviour_and_refuses_more_channels():
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig.preset("tiny", channels=3, length=64)).eval()
    assert enc(torch.randn(2, 2, 32)).shape == (2, 1 + 2 * 4, 64)      # fewer channels, shorter: fine
    with pytest.raises(ValueError, match="at most 3 channels"):
        enc(torch.randn(2, 4, 64))


@pytest.mark.parametrize("make", [MAE, MaskedSpectrum, JEPA, lambda e: Contrastive(e, augment="shape")],
                         ids=["mae", "spectrum", "jepa", "contrastive"])
def test_every_objective_trains_the_shape_agnostic_encoder_on_multichannel_data(make):
    obj = make(any_shape())
    out = obj(torch.randn(4, 3, 64))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and obj.encoder.patch_embed.weight.grad.abs().sum() > 0


def test_mae_reconstructs_in_signal_units_at_any_length():
    mae = MAE(any_shape())
    x = 50 + 8 * torch.randn(2, 3, 100)                      # 100 samples: the last patch is padded
    r = mae.reconstruct(x)
    assert r["recon"].shape == x.shape and r["masked"].shape == (2, 3 * 13)
    hidden = r["masked"].view(2, 3, 13, 1).expand(2, 3, 13, 8).reshape(2, 3, 104)[..., :100]
    assert torch.equal(r["recon"][~hidden], x[~hidden])      # visible samples exactly
    assert abs(float(r["recon"][hidden].mean()) - 50) < 10   # predictions come back in the signal's units


def test_an_encoder_file_of_the_old_format_is_converted(tmp_path):
    old = {"channels": 3, "length": 64, "patch_size": 8, "dim": 64, "depth": 2, "heads": 4, "mlp_ratio": 4.0,
           "dropout": 0.0, "pool": "mean", "input_scale": 12.0}
    torch.manual_seed(0)
    new = Encoder(EncoderConfig(**old, norm="scale"))
    save_file({k: v.contiguous() for k, v in new.state_dict().items()}, str(tmp_path / "old.safetensors"),
              metadata={"format": "fmlab.encoder/1", "config": json.dumps(old), "info": "{}"})
    loaded = hub.load(tmp_path / "old.safetensors")
    assert loaded.config.norm == "scale" and loaded.config.input_scale == 12.0
    x = torch.randn(2, 3, 64)
    torch.testing.assert_close(loaded.eval()(x), new.eval()(x))


# -- the pile --------------------------------------------------------------------------------------
def test_every_family_is_seeded_finite_and_normalised():
    for family in FAMILIES:
        x = generate(family, 16, 256, seed=3)
        assert x.shape == (16, 1, 256) and torch.isfinite(x).all()
        torch.testing.assert_close(x.std(-1, unbiased=False), torch.ones(16, 1), atol=1e-4, rtol=0)
        assert torch.equal(x, generate(family, 16, 256, seed=3)) and not torch.equal(x, generate(family, 16, 256, 4))
    x, family = generate_mixture(15, 64)
    assert x.shape == (15, 1, 64) and torch.bincount(family).tolist() == [3, 2, 2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="unknown family 'sine'"):
        generate("sine", 4)


def test_the_pile_holds_generated_families_and_train_splits_only():
    pile = build_pile("smoke")
    s, names = PILE_SIZES["smoke"], pile_sources("smoke")
    counts = torch.bincount(pile.meta["source"], minlength=len(names)).tolist()
    assert pile.x.shape[1:] == (1, 512) and len(counts) == len(names)
    assert counts[:len(FAMILIES)] == [s["per_family"]] * len(FAMILIES)
    assert counts[names.index("ucr:GunPoint")] == len(load("ucr:GunPoint", split="train"))  # 50, never the 150 test
    with pytest.raises(ValueError, match="unknown size"):
        build_pile("huge")


def test_random_windows_crop_and_resample_every_series():
    x = torch.arange(64.0).expand(3, 2, 64)
    w = random_windows(x, 16)
    assert w.shape == (3, 2, 16)
    steps = w.diff(dim=-1)
    assert (steps > 0).all() and torch.allclose(steps, steps[..., :1].expand_as(steps), atol=1e-4)  # linear zoom
    torch.testing.assert_close(random_windows(x, 64), x)


def test_random_length_feeds_the_objective_lengths_that_fit():
    seen = []

    class Spy(torch.nn.Module):
        encoder = None

        def forward(self, x):
            seen.append(x.shape[-1])
            return {"loss": x.sum()}
    obj = RandomLength(Spy(), lengths=(16, 32, 128), weights=(1, 1, 1))
    for _ in range(20):
        obj(torch.randn(2, 1, 64))
    assert set(seen) == {16, 32}


@pytest.mark.slow
def test_pretraining_on_the_pile_with_random_lengths_learns_more_than_the_mean():
    # Every series is z-normalised, so predicting 0 for a hidden patch scores about 1: learning is below it.
    pile = build_pile("smoke")
    torch.manual_seed(0)
    obj = RandomLength(MAE(Encoder(foundation_config("tiny")), mask_ratio=0.5), lengths=(64, 128), weights=(1, 1))
    hist = fmlab.train.fit(obj, pile, steps=150, batch_size=128, lr=1e-3, progress=False, device="cpu")
    assert hist.final_loss(30) < 0.95 < sum(hist.loss[:5]) / 5   # measured: 1.30 -> 0.89


def test_resample_is_explicit_and_keeps_labels():
    ds = load("ucr:GunPoint", split="test", pad=True)
    r = resample(ds, 512)
    assert r.x.shape == (150, 1, 512) and torch.equal(r.y, ds.y) and r.name == "ucr:GunPoint@512"


# -- the references ---------------------------------------------------------------------------------
def test_the_kit_ships_references_with_how_they_were_made():
    refs = hub.references()
    assert {"mae-small", "spectrum-small", "contrastive-small"} <= set(refs)
    total = sum((hub.REFERENCES / f"{n}.safetensors").stat().st_size for n in refs)
    assert total < 25e6
    for info in refs.values():
        assert info["command"].startswith("fmlab pretrain") and "--data pile" in info["command"]
        assert info["steps"] > 0 and info["wall_time_s"] > 0 and info["corpus"]["name"] in ("pile-cpu", "pile-wide")
        assert info["corpus"]["sources"] == pile_sources(info["corpus"]["name"].removeprefix("pile-"))
    with pytest.raises(ValueError, match="no reference called 'mae-huge'.*mae-small"):
        hub.reference("mae-huge")


def test_one_reference_embeds_every_shape_without_retraining_or_resampling():
    enc = hub.reference("contrastive-small")
    data = [load("eeg", n=4, seed=0), load("ucr:GunPoint", split="test", pad=True),
            load("ucr:BasicMotions", split="test", pad=True), load("ucr:JapaneseVowels", split="test", pad=True)]
    assert [tuple(d.x.shape[1:]) for d in data] == [(19, 512), (1, 150), (6, 100), (12, 29)]
    assert "length" in data[3].meta and len(set(data[3].meta["length"].tolist())) > 1    # variable length
    for d in data:
        f = features(enc, d, per_channel=True)
        assert f.shape == (len(d), d.x.shape[1] * enc.dim) and torch.isfinite(f).all()


def test_a_pile_run_takes_a_patch_size_and_earlier_runs_keep_their_cache_keys():
    from fmlab.pretrain.recipes import entry, pretrain_from, run_settings
    plain = run_settings("contrastive", data="pile", profile="smoke", steps=2, batch_size=8)
    assert "patch_size" not in plain                       # a run made before the option keeps its cache entry
    fine = run_settings("contrastive", data="pile", profile="smoke", steps=2, batch_size=8, patch_size=4)
    assert entry(fine) != entry(plain)
    obj, _ = pretrain_from(fine, progress=False, out=None, device="cpu")
    assert obj.encoder.config.patch_size == 4
