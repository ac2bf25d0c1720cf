import pytest
import torch

from fmlab.masking import (MASK_KINDS, block_mask, channel_mask, make_mask, patchify, random_token_mask,
                           unpatchify)


def test_patchify_roundtrip_and_channel_major_order():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    p = patchify(x, 4)
    assert p.shape == (2, 6, 4)
    assert torch.equal(p[0, 2], x[0, 1, :4])  # token c*P + p: channel 1, patch 0
    assert torch.equal(unpatchify(p, 3), x)


def test_patchify_says_how_to_fix_a_bad_length():
    with pytest.raises(ValueError, match="crop or pad to 8 or 12"):
        patchify(torch.zeros(1, 1, 10), 4)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.75, 0.9])
def test_random_mask_hides_exactly_the_share(ratio):
    keep, masked = random_token_mask(16, 4, 10, ratio, generator=torch.Generator().manual_seed(0))
    assert (masked.sum(1) == round(ratio * 40)).all()
    assert keep.shape == (16, 40 - round(ratio * 40))
    # keep lists exactly the visible tokens, in order
    for k, m in zip(keep, masked):
        assert torch.equal(k, (~m).nonzero().flatten())


def test_masks_differ_between_samples_and_follow_the_generator():
    _, a = random_token_mask(8, 2, 8, 0.5, generator=torch.Generator().manual_seed(0))
    _, b = random_token_mask(8, 2, 8, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not all(torch.equal(a[0], r) for r in a[1:])


def test_block_mask_hides_one_span_of_time_in_every_channel():
    keep, masked = block_mask(32, 3, 10, 0.4, generator=torch.Generator().manual_seed(0))
    grid = masked.view(32, 3, 10)
    assert (grid == grid[:, :1]).all()  # the same time patches in every channel
    cols = grid[:, 0].int()
    assert (cols.sum(1) == 4).all() and ((cols.diff(dim=1) != 0).sum(1) <= 2).all()  # one contiguous span


def test_channel_mask_hides_whole_channels():
    _, masked = channel_mask(32, 6, 5, 0.5, generator=torch.Generator().manual_seed(0))
    grid = masked.view(32, 6, 5)
    assert (grid == grid[:, :, :1]).all() and (grid[:, :, 0].sum(1) == 3).all()


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2, 1.5])
def test_ratio_outside_open_interval_is_refused(ratio):
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        make_mask("random", 1, 2, 4, ratio)


def test_ratio_that_hides_everything_is_refused():
    with pytest.raises(ValueError, match="leaving none visible"):
        make_mask("random", 1, 1, 4, 0.95)
    with pytest.raises(ValueError, match="hides all 1 channels"):
        make_mask("channel", 1, 1, 8, 0.75)
    with pytest.raises(ValueError, match="hides all 1 channels"):  # 0.4 rounds to 0, but a mask hides >= 1
        make_mask("channel", 1, 1, 8, 0.4)


def test_unknown_kind_lists_kinds():
    with pytest.raises(ValueError, match=", ".join(MASK_KINDS)):
        make_mask("stripes", 1, 2, 4, 0.5)
