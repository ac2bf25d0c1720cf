import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fmlab.data import augment as A
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import JEPA, MAE, Contrastive, MaskedSpectrum, nt_xent
from fmlab.pretrain.ema import momentum_at
from fmlab.pretrain.spectrum import patch_spectrum


def encoder(channels=3, length=64):
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", channels=channels, length=length))


def test_mae_loss_ignores_predictions_at_visible_tokens():
    mae, x = MAE(encoder()), torch.randn(4, 3, 64)
    keep, masked = mae.mask(x, generator=torch.Generator().manual_seed(0))
    base = mae(x, keep=keep, masked=masked)["loss"]
    decode = mae.decoder.forward
    mae.decoder.forward = lambda latent, keep_, *shape: decode(latent, keep_, *shape) + 50.0 * (~masked)[..., None]
    assert torch.equal(mae(x, keep=keep, masked=masked)["loss"], base)
    mae.decoder.forward = lambda latent, keep_, *shape: decode(latent, keep_, *shape) + 50.0 * masked[..., None]
    assert mae(x, keep=keep, masked=masked)["loss"] > base + 100


def test_mae_encoder_sees_only_visible_tokens():
    mae, x = MAE(encoder(), mask_ratio=0.75), torch.randn(2, 3, 64)
    out = mae(x)
    assert out["latent"].shape == (2, 1 + 6, 64) and out["masked"].sum(1).tolist() == [18, 18]


def test_mae_normalised_targets_are_standardised_patches():
    mae = MAE(encoder(), norm_target=True)
    t = mae.targets(torch.randn(2, 24, 8) * 5 + 3)
    torch.testing.assert_close(t.mean(-1), torch.zeros(2, 24), atol=1e-5, rtol=0)
    torch.testing.assert_close(t.std(-1), torch.ones(2, 24), atol=1e-4, rtol=0)


def test_reconstruction_keeps_visible_patches():
    mae, x = MAE(encoder()), torch.randn(2, 3, 64)
    r = mae.reconstruct(x)
    visible = ~r["masked"].view(2, 3, 8, 1).expand(2, 3, 8, 8).reshape(2, 3, 64)
    assert torch.equal(r["recon"][visible], x[visible])


def test_spectrum_target_is_numpys_fft():
    patches = torch.randn(2, 5, 16)
    ref = np.log(np.abs(np.fft.rfft(patches.numpy(), axis=-1)) + 1e-3)
    np.testing.assert_allclose(patch_spectrum(patches).numpy(), ref, atol=1e-5)
    with_phase = patch_spectrum(patches, phase=True)
    angle = np.angle(np.fft.rfft(patches.numpy(), axis=-1))
    np.testing.assert_allclose(with_phase[..., 9:18].numpy(), np.cos(angle), atol=1e-5)
    assert MaskedSpectrum(encoder(), phase=True)(torch.randn(2, 3, 64))["pred"].shape == (2, 24, 15)


def test_nt_xent_matches_a_hand_computed_case():
    z1, z2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = 0.5
    # row 0 (z1[0]): similarities to z1[1], z2[0], z2[1] = 0, 1, 0 -> positive is z2[0]
    expected = -math.log(math.exp(1 / t) / (math.exp(0) + math.exp(1 / t) + math.exp(0)))
    assert nt_xent(z1, z2, t).item() == pytest.approx(expected, rel=1e-6)  # all 4 rows alike by symmetry


def test_nt_xent_with_groups_competes_only_within_a_group():
    torch.manual_seed(0)
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    assert nt_xent(z1, z2, groups=torch.zeros(4, dtype=torch.long)).item() == pytest.approx(nt_xent(z1, z2).item())
    groups = torch.tensor([0, 1, 0, 1])  # every group holds 2 samples = 4 of the 8 rows, so the mean of the two
    per_group = [nt_xent(z1[groups == g], z2[groups == g]) for g in (0, 1)]
    assert nt_xent(z1, z2, groups=groups).item() == pytest.approx(float(sum(per_group) / 2), rel=1e-6)


def test_subject_negatives_need_the_subject():
    obj = Contrastive(encoder(), negatives="subject")
    assert obj.needs_meta == ("subject",)
    with pytest.raises(ValueError, match="meta"):
        obj(torch.randn(4, 3, 64))
    out = obj(torch.randn(4, 3, 64), meta={"subject": torch.tensor([0, 0, 1, 1])})
    assert torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match="negatives"):
        Contrastive(encoder(), method="byol", negatives="subject")


def test_nt_xent_is_lower_for_matching_views():
    z = torch.randn(16, 8)
    assert nt_xent(z, z + 0.01 * torch.randn(16, 8)) < nt_xent(z, torch.randn(16, 8))


def test_jepa_target_gets_no_gradient_and_moves_by_the_ema_rule():
    jepa = JEPA(encoder(), mask_ratio=0.5)
    opt = torch.optim.SGD([p for p in jepa.parameters() if p.requires_grad], lr=0.1)
    before_t = [p.clone() for p in jepa.target_encoder.parameters()]
    jepa(torch.randn(8, 3, 64))["loss"].backward()
    assert all(p.grad is None for p in jepa.target_encoder.parameters())
    opt.step()
    online = [p.detach().clone() for p in jepa.encoder.parameters()]
    jepa.after_step(10, 100)
    m = momentum_at(10, 100)
    for t, t0, o in zip(jepa.target_encoder.parameters(), before_t, online):
        torch.testing.assert_close(t, m * t0 + (1 - m) * o, rtol=0, atol=1e-7)


def test_momentum_schedule_rises_from_0996_to_1():
    assert momentum_at(0, 100) == pytest.approx(0.996) and momentum_at(100, 100) == pytest.approx(1.0)
    assert all(momentum_at(s, 100) <= momentum_at(s + 1, 100) for s in range(100))


def test_byol_target_has_no_gradient_and_tracks_the_online_branch():
    c = Contrastive(encoder(), method="byol", fs=64.0)
    c(torch.randn(8, 3, 64))["loss"].backward()
    assert all(p.grad is None for p in c.target.parameters())


@pytest.mark.parametrize("make", [lambda e: MAE(e, mask_ratio=1.0), lambda e: MAE(e, mask_ratio=0.0),
                                  lambda e: MaskedSpectrum(e, mask_ratio=-0.1), lambda e: JEPA(e, mask_ratio=1.2)])
def test_ratio_outside_open_interval_is_refused(make):
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        make(encoder())


def test_ratio_leaving_no_visible_token_is_refused():
    with pytest.raises(ValueError, match="leaving none visible"):
        MAE(encoder(channels=1, length=16), mask_ratio=0.99)  # 1 channel x 8 patches: 0.99 hides all 8


def test_data_that_does_not_fit_the_encoder_is_refused():
    with pytest.raises(ValueError, match=r"at most 3 channels"):
        MAE(encoder())(torch.randn(2, 19, 64))


@pytest.mark.parametrize("aug", [A.Jitter(), A.Scale(), A.TimeShift(), A.CropResize(), A.TimeMask(),
                                 A.ChannelDropout(), A.BandStop(64.0)], ids=lambda a: type(a).__name__)
def test_augmentations_keep_shape_and_change_the_signal(aug):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 64)
    y = aug(x)
    assert y.shape == x.shape and torch.isfinite(y).all() and not torch.allclose(x, y)


def test_bandstop_removes_the_band():
    t = torch.arange(256) / 64.0
    x = torch.sin(2 * math.pi * 10 * t).repeat(1, 1, 1)
    y = A.BandStop(64.0, width=4.0, low=8.0, high=12.0)(x)
    assert y.abs().max() < 1e-4


@pytest.mark.parametrize("objective", ["mae", "spectrum", "contrastive", "jepa"])
def test_gpu_profile_settings_build_and_take_a_step(objective):
    """The gpu profile's run (encoder size, batch, steps) is wired for every objective; CPU, one step."""
    from fmlab.pretrain.recipes import make_objective, run_settings
    from fmlab.train import fit
    from fmlab.data import SignalDataset
    s = run_settings(objective, profile="gpu")
    assert s["size"] == "medium" and s["steps"] >= 1000, s
    torch.manual_seed(0)
    data = SignalDataset(torch.randn(4, 19, 512), torch.arange(4) % 2, ["a", "b"], fs=128.0)
    enc = Encoder(EncoderConfig.preset(s["size"], channels=19, length=512))
    obj = make_objective(objective, enc, fs=128.0)
    hist = fit(obj, data, steps=1, batch_size=4, lr=s["lr"], progress=False, device="cpu")
    assert math.isfinite(hist.loss[0])


def test_pile_pretraining_draws_the_lengths_it_is_given():
    from fmlab.cli import build_parser
    from fmlab.pretrain.lengths import RandomLength
    from fmlab.pretrain.recipes import make_objective, run_settings
    args = build_parser().parse_args(["pretrain", "--data", "pile", "--lengths", "16", "24", "--steps", "3"])
    assert args.lengths == [16, 24]
    s = run_settings("mae", "pile", "smoke", lengths=list(args.lengths))
    assert s["objective_args"] == {"lengths": [16, 24]}, "the lengths are part of the run (its cache key, metadata)"
    enc = Encoder(EncoderConfig.preset("tiny", channels=1, length=64, patch_size=8, channel_embed=False,
                                       channel_independent=True))
    obj = make_objective("mae", enc, data="pile", lengths=[16, 24])
    assert isinstance(obj, RandomLength) and obj.lengths == (16, 24) and obj.weights == (1.0, 1.0)
    seen = set()
    obj.objective.forward = lambda x, **kw: seen.add(x.shape[-1]) or {"loss": x.sum()}
    for _ in range(40):
        obj(torch.randn(4, 1, 64))
    assert seen == {16, 24}
    with pytest.raises(ValueError, match="data='pile'"):
        make_objective("mae", enc, data="eeg", lengths=[16])


def test_describe_says_the_steps_and_batch_a_run_really_uses():
    from fmlab.pretrain.recipes import describe, run_settings
    s = run_settings("contrastive", profile="cpu", augment="weak")
    text = describe(s)
    assert f"{s['steps']} steps of batch {s['batch_size']}" in text and "augment=weak" in text
    assert s["steps"] != 600, "contrastive divides the profile's 600 steps by its cost: the profile is not the run"


def test_benchmarks_pretrain_with_the_budget_their_committed_results_were_made_with():
    from fmlab.pretrain.recipes import BENCHMARK_STEP_COST, STEP_COST, benchmark_steps, run_settings
    made_with = {"mae": 600, "spectrum": 600, "contrastive": 150, "jepa": 200, "next-patch": 300}
    for objective in STEP_COST:   # the budgets of benchmarks/results/*-cpu.json
        assert benchmark_steps(objective, "cpu") == made_with[objective] == 600 // BENCHMARK_STEP_COST[objective]
        assert run_settings(objective, profile="cpu")["steps"] == 300 // STEP_COST[objective]   # a notebook's
    with pytest.raises(ValueError, match="unknown objective 'mea'"):
        benchmark_steps("mea", "cpu")
    root = Path(__file__).resolve().parents[2] / "benchmarks"
    for script in ("bench_adapt", "bench_latent", "bench_pretrain", "eeg_reference", "mnist1d", "ucr"):
        text = (root / f"{script}.py").read_text()
        assert "benchmark_steps(" in text, f"benchmarks/{script}.py pretrains with the notebooks' budget"


def test_jepa_blocks_target_and_variance_floor():
    """target="blocks": every block's tokens standardised and averaged, [B, N, D] at mean 0 and std 1 per feature;
    the variance floor adds a positive term exactly when context features spread less than a std of 1."""
    x = torch.randn(8, 3, 64)
    plain = JEPA(encoder(), mask_ratio=0.5, target="last", variance_floor=0.0)   # I-JEPA's recipe
    blocks = JEPA(encoder(), mask_ratio=0.5, target="blocks")
    t = blocks.targets(x)
    assert t.shape == plain.targets(x).shape == (8, 3 * 8, blocks.encoder.dim)
    assert torch.allclose(t.mean((0, 1)), torch.zeros(t.shape[-1]), atol=1e-4)
    assert torch.allclose(t.std((0, 1)), torch.ones(t.shape[-1]), atol=1e-3)
    floored = JEPA(encoder(), mask_ratio=0.5, target="last", variance_floor=1.0)
    floored.load_state_dict(plain.state_dict())
    torch.manual_seed(0); base = plain(x)["loss"]
    torch.manual_seed(0); more = floored(x)["loss"]
    assert more > base  # a fresh encoder's features spread far less than a std of 1
    for bad, says in (({"target": "mean"}, "'last'"), ({"variance_floor": -1.0}, ">= 0")):
        with pytest.raises(ValueError, match=says):
            JEPA(encoder(), **bad)
