"""Latent-space measures (alignment, uniformity, the latent table) and pictures (UMAP with its cache,
static and interactive scatters, the click explorer), and the errors bad input gets."""
import math
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import fmlab
from fmlab import evaluate as E
from fmlab.data import SignalDataset
from fmlab.explore import LatentExplorer
from fmlab.viz import embedding, latent, offline
from toy import sine_classes


def toy(n=48, channels=2, length=64):
    """sine_classes with artifact flags: a blink on every 5th sample, a pop on every 7th."""
    ds = sine_classes(n, channels, length)
    i = torch.arange(n)
    return SignalDataset(ds.x, ds.y, ds.classes, ds.fs, name="toy",
                         meta={**ds.meta, "blink": i % 5 == 0, "pop": i % 7 == 0})


def tiny_encoder(channels=2, length=64):
    torch.manual_seed(0)
    return fmlab.models.Encoder(fmlab.models.EncoderConfig.preset("tiny", channels=channels, length=length))


# -- alignment, uniformity, effective rank -------------------------------------------------------
def test_alignment_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert E.alignment(a, a) == pytest.approx(0.0)
    assert E.alignment(a, -a) == pytest.approx(4.0)  # opposite directions: |u - v|^2 = 4
    # pair 1 orthogonal (|u - v|^2 = 2), pair 2 identical; features are normalised first, so scale is ignored
    assert E.alignment(5 * a, torch.tensor([[0.0, 3.0], [0.0, 1.0]])) == pytest.approx(1.0)
    assert E.alignment(a, -a, alpha=1) == pytest.approx(2.0)


def test_uniformity_by_hand():
    assert E.uniformity(torch.tensor([[1.0, 0.0], [0.0, 2.0]])) == pytest.approx(-4.0)  # log exp(-2 * 2)
    assert E.uniformity(torch.ones(3, 4)) == pytest.approx(0.0, abs=1e-6)  # collapsed: one point
    cross = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    # 4 neighbouring pairs at |u - v|^2 = 2, 2 opposite pairs at 4
    assert E.uniformity(cross) == pytest.approx(math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6), rel=1e-5)


def test_effective_rank_counts_directions():
    cross = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    assert E.effective_rank(cross) == pytest.approx(2.0, rel=1e-4)
    line = torch.arange(10.0)[:, None] * torch.tensor([[1.0, 2.0, 3.0]])
    assert E.effective_rank(line) == pytest.approx(1.0, rel=1e-4)


def test_neighbour_agreement_measures_clustering_by_a_label():
    f = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert E.neighbour_agreement(f, torch.tensor([0, 0, 1, 1]), k=1) == 1.0   # each one's nearest shares its label
    assert E.neighbour_agreement(f, torch.tensor([0, 1, 0, 1]), k=1) == 0.0   # ...or never does
    assert E.neighbour_agreement(f, torch.tensor([0, 0, 1, 1]), k=3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="4 feature rows but 3 labels"):
        E.neighbour_agreement(f, torch.tensor([0, 0, 1]))


def test_verdicts_call_small_gaps_ties():
    assert E.within_noise(100) == pytest.approx(0.1)
    assert E.verdict(0.05, 0.1) == "a tie (within noise)"
    assert E.verdict(0.2, 0.1, want="higher") == "as hoped"
    assert E.verdict(0.2, 0.1, want="lower") == "the OPPOSITE of what we hoped"
    assert E.verdict(-0.2, 0.1, want="lower") == "as hoped"


def test_augmented_views_are_seeded_and_leave_the_global_rng_alone():
    ds = toy()
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    x1, x2 = E.augmented_views(ds, seed=3)
    assert torch.equal(torch.rand(1), expected)
    assert x1.shape == x2.shape == ds.x.shape and not torch.equal(x1, x2)
    y1, y2 = E.augmented_views(ds, seed=3)
    assert torch.equal(x1, y1) and torch.equal(x2, y2)


# -- the table -------------------------------------------------------------------------------------
def test_latent_table_has_one_row_per_encoder_and_every_measure():
    train, test = toy(64), toy(40)
    table = E.latent_table({"a": tiny_encoder(), "b": tiny_encoder()}, train, test, pairs=16)
    assert list(table.index) == ["a", "b"]
    assert list(table.columns) == ["linear_probe", "knn", "effective_rank", "uniformity", "alignment",
                                   "state", "subject", "artifact", "state_neighbours", "subject_neighbours"]
    for col in ("linear_probe", "knn", "state", "subject", "artifact", "state_neighbours", "subject_neighbours"):
        assert table[col].between(0, 1).all(), col
    assert (table["effective_rank"] >= 1).all() and (table["uniformity"] <= 0).all()
    assert table.loc["a"].equals(table.loc["b"])  # the same weights and the same views: the same row


def test_latent_sentences_read_the_table_with_its_noise():
    import pandas as pd
    test = toy(400)  # within_noise: 0.05 on 400 test signals, 0.07 on their half
    row = dict(linear_probe=0.60, knn=0.6, effective_rank=5.0, uniformity=-2.0, alignment=0.5, state=0.60,
               subject=0.30, artifact=0.50, state_neighbours=0.5, subject_neighbours=0.30)
    table = pd.DataFrame.from_dict({"random init": row,
                                    "mae": {**row, "subject": 0.80, "state": 0.62, "effective_rank": 9.0},
                                    "contrastive": {**row, "linear_probe": 0.62, "subject": 0.10, "alignment": 0.1}},
                                   orient="index")
    lines = E.latent_sentences(table, test)
    said = "\n".join(lines)
    assert "ties: gaps under 0.05 (unseen subjects) or 0.07" in said
    assert "reads the state of unseen subjects best: mae, contrastive (tied within noise), linear_probe 0.62; " \
           "a tie with random init (0.60)" in said
    assert "encodes the subject most: mae, subject 0.80; above random init (0.30)" in said
    mae = next(line for line in lines if line.strip().startswith("mae cares about"))
    assert "cares about: subject; lets go of: nothing" in mae and "state +0.02" in mae  # +0.02 < 0.07: a tie
    assert "contrastive cares about: nothing beyond random features; lets go of: subject" in said
    assert "most directions in use: mae (effective rank 9.0)" in said
    assert "closest in contrastive's space (alignment 0.100): the objective that trains for exactly this" in said
    with pytest.raises(ValueError, match="'random init' row.*pass baseline="):
        E.latent_sentences(table.drop(index="random init"), test)


# -- bad input ------------------------------------------------------------------------------------
def test_features_and_labels_of_different_lengths():
    f, y = torch.randn(10, 4), torch.arange(10) % 2
    with pytest.raises(ValueError, match="10 feature rows but 9 labels"):
        E.probe_accuracy(f, y[:9], f, y)
    with pytest.raises(ValueError, match="knn.*10 feature rows but 8 labels"):
        E.knn_accuracy(f, y, f, y[:8])
    with pytest.raises(ValueError, match="same shape"):
        E.alignment(f, f[:5])


def test_empty_data():
    enc, empty = tiny_encoder(), toy().take(torch.tensor([], dtype=torch.int64))
    with pytest.raises(ValueError, match="'toy' is empty"):
        E.features(enc, empty)
    with pytest.raises(ValueError, match="probe_test must be a non-empty SignalDataset"):
        E.latent_table({"a": enc}, toy(), empty)
    with pytest.raises(ValueError, match=r"N >= 2"):
        E.uniformity(torch.randn(1, 4))


def test_encoder_for_fewer_channels_names_both_shapes_and_the_fix():
    E.features(tiny_encoder(channels=3), toy())  # fewer channels than the encoder knows are fine
    with pytest.raises(ValueError, match=r"at most 1 channels.*\(\d+, 2, 64\).*channel_embed=False"):
        E.features(tiny_encoder(channels=1), toy())
    with pytest.raises(ValueError, match=r"at most 1 channels"):
        E.linear_probe(tiny_encoder(channels=1), toy(), toy())


def test_pictures_reject_mismatched_or_unknown_input():
    ds = toy(20)
    with pytest.raises(ValueError, match="20 samples"):
        latent.plot_embedding(np.zeros((19, 2)), ds)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        latent.interactive_scatter(np.zeros((20, 3)), ds)
    with pytest.raises(ValueError, match="color_by.*'blink', 'pop', 'subject'"):
        latent.plot_embedding(np.zeros((20, 2)), ds, color_by="age")
    with pytest.raises(ValueError, match="color_by"):
        latent.plot_embedding(np.zeros((48, 2)), sine_classes(48), color_by="artifact")  # no artifact flags
    with pytest.raises(ValueError, match=r"features \[N, D\]"):
        embedding.umap_embedding(np.zeros(10))


# -- UMAP and its cache ------------------------------------------------------------------------------
def test_umap_cache_reuses_the_result_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(embedding, "_MEMORY", {})
    calls = []

    def fake_umap(f, seed, n_neighbors, min_dist, metric):
        calls.append((seed, n_neighbors))
        return np.random.default_rng(seed).normal(size=(len(f), 2)).astype(np.float32)

    monkeypatch.setattr(embedding, "_fit_umap", fake_umap)
    f = torch.randn(30, 8)
    first = embedding.umap_embedding(f)
    first[0] = 99.0  # the caller's copy: must not change what the cache holds
    again = embedding.umap_embedding(f.clone())
    assert len(calls) == 1 and again.shape == (30, 2) and again[0, 0] != 99.0
    embedding._MEMORY.clear()  # a new session: the result comes from FMLAB_CACHE/umap
    assert np.array_equal(embedding.umap_embedding(f), again) and len(calls) == 1
    assert len(list((tmp_path / "umap").glob("*.npy"))) == 1
    embedding.umap_embedding(f, seed=1)
    embedding.umap_embedding(f + 1e-3)
    assert len(calls) == 3  # another seed, other features: computed again
    assert calls[0][1] == 15 and embedding.umap_embedding(f[:6], seed=2) is not None and calls[-1][1] == 5  # < N


@pytest.mark.slow
def test_umap_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("FMLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(embedding, "_MEMORY", {})
    f = torch.randn(60, 8)
    a = embedding.umap_embedding(f, seed=0)
    b = embedding._fit_umap(f.numpy(), 0, 15, 0.1, "cosine")
    assert a.shape == (60, 2) and np.isfinite(a).all() and np.allclose(a, b)


def test_cosine_neighbours_are_exact():
    f = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    idx, dist = embedding.cosine_knn(f, 5)
    u = f / np.linalg.norm(f, axis=1, keepdims=True)
    brute = 1 - u @ u.T
    assert (idx[:, 0] == np.arange(50)).all() and np.allclose(dist[:, 0], 0, atol=1e-6)  # itself first
    assert np.array_equal(idx, np.argsort(brute, axis=1)[:, :5])
    assert np.allclose(dist, np.sort(brute, axis=1)[:, :5], atol=1e-5)


# -- pictures ---------------------------------------------------------------------------------------
def test_plot_embedding_draws_every_sample():
    ds = toy(30)
    emb = np.random.default_rng(0).normal(size=(30, 2))
    for color_by in latent.COLOR_BY:
        fig = latent.plot_embedding(emb, ds, color_by)
        assert isinstance(fig, Figure)
        assert fig.axes[0].collections[0].get_offsets().shape == (30, 2)
    legend = [t.get_text() for t in latent.plot_embedding(emb, ds, "artifact").axes[0].get_legend().get_texts()]
    assert legend == ["none", "blink", "pop", "several"]  # sample 0 has both, so "several" is there


def test_latent_grid_is_encoders_by_colourings():
    ds = toy(30)
    embs = {name: np.random.default_rng(i).normal(size=(30, 2)) for i, name in enumerate(("a", "b"))}
    fig = latent.plot_latent_grid(embs, ds)
    assert len(fig.axes) == 2 * 3
    assert all(ax.collections[0].get_offsets().shape == (30, 2) for ax in fig.axes)
    assert fig.axes[3].get_ylabel() == "b"
    with pytest.raises(ValueError, match="encoder name"):
        latent.plot_latent_grid({}, ds)


def test_interactive_scatter_hover_names_subject_and_artifacts():
    ds = toy(30)
    fig = latent.interactive_scatter(np.random.default_rng(0).normal(size=(30, 2)), ds, color_by="subject")
    assert sum(len(t.x) for t in fig.data) == 30
    assert sorted(i for t in fig.data for i in t.customdata) == list(range(30))
    text = {int(i): s for t in fig.data for i, s in zip(t.customdata, t.text)}
    assert text[0] == "#0<br>state: slow<br>subject: 0<br>artifacts: blink, pop"
    assert text[1].endswith("artifacts: none") and "subject: 1" in text[1]
    assert all(t.hovertemplate == "%{text}<extra></extra>" for t in fig.data)


def test_plotly_offline_embeds_plotly_js_once(monkeypatch):
    monkeypatch.setattr(offline, "_PLOTLYJS_SENT", False)
    fig = latent.interactive_scatter(np.zeros((30, 2)), toy(30))
    first = offline.plotly_offline(fig)._repr_mimebundle_()
    second = offline.plotly_offline(fig)._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in first
    assert len(first["text/html"]) > 1_000_000 > len(second["text/html"])  # plotly.js only in the first
    assert "<script" in second["text/html"]
    # plotly.js mentions cdn.plot.ly (a default URL for map data), but nothing may load from it
    assert not re.search(r"(src=|import\s*)[\"']https?://cdn\.plot\.ly", first["text/html"])


# -- the explorer ----------------------------------------------------------------------------------
def test_explorer_select_redraws_the_signal_panel():
    from plotly.callbacks import Points
    ds = toy(30)
    ex = LatentExplorer(np.random.default_rng(0).normal(size=(30, 2)), ds)
    ex.widget  # build the live panel
    assert ex.selected == 0 and ex.signal.layout.title.text.startswith("#0 ")
    before = np.array(ex.signal.data[0].y)
    ex.select(7)
    assert ex.selected == 7 and ex.signal.layout.title.text.startswith("#7 ")
    assert not np.allclose(before, ex.signal.data[0].y)
    assert np.allclose(np.array(ex.signal.data[0].y) + 0, ds.x[7, 0].numpy() - ds.x[7, 0].numpy().mean(), atol=1e-5)
    trace = ex.scatter.data[1]  # a click on a point of the second trace selects that sample
    trace._dispatch_on_click(Points(point_inds=[2], trace_index=1), None)
    assert ex.selected == int(trace.customdata[2])
    with pytest.raises(ValueError, match="out of range for 30 samples"):
        ex.select(30)
    with pytest.raises(ValueError, match="channel index 5 is out of range for 2 channels"):
        LatentExplorer(np.zeros((30, 2)), ds, channels=[5])


def test_explorer_has_a_static_copy_for_reports():
    ex = LatentExplorer(np.zeros((30, 2)), toy(30))
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs a live Jupyter kernel" in bundle["text/html"] and bundle["text/html"].count("plotly-graph-div") >= 2
