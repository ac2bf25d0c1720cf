"""What a frozen encoder's features are worth: linear probe, kNN, what they encode, and one table of it all.

    F = features(encoder, data)                  # [N, D], batched, on the encoder's device
    acc = linear_probe(encoder, train, test)     # logistic regression on standardised features
    table = latent_table({"mae": mae.encoder, "random init": enc}, train, test)   # a DataFrame, one row each
The label-free geometry of the features (effective rank, alignment, uniformity) is in evaluate_geometry.py.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .data.dataset import SignalDataset
from .evaluate_geometry import alignment, augmented_views, effective_rank, uniformity

ARTIFACTS = ("blink", "muscle", "line_noise", "pop")


def _name(data) -> str:
    return repr(data.name) if isinstance(data, SignalDataset) else "the input"


@torch.no_grad()
def features(encoder, data: SignalDataset | torch.Tensor, batch_size: int = 256,
             per_channel: bool = False, pool: str | None = None, depth: int | None = None) -> torch.Tensor:
    """Pooled features [N, D] of data.x [N, C, T] on the CPU (the encoder runs in eval mode on its own device).
    per_channel: each channel pooled on its own, side by side: [N, C * D]. pool: the encoder's own pooling by
    default; "mean+max" doubles D (the references' protocol, see Encoder.pool). A dataset of series of several
    lengths (``meta["length"]``, padded at the end) is encoded with its padding masked out. depth: the tokens after
    the first ``depth`` blocks (Encoder.forward), an earlier layer's features."""
    x = data.x if isinstance(data, SignalDataset) else data
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"features: expected a SignalDataset or a tensor [N, C, T], got {type(x).__name__} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if len(x) == 0:
        raise ValueError(f"features: {_name(data)} is empty (shape {tuple(x.shape)}); check the split or label "
                         f"budget that produced it")
    lengths = data.meta.get("length") if isinstance(data, SignalDataset) else None
    inner = getattr(encoder, "encoder", encoder)  # a Classifier passes for its encoder
    if pool is not None and inner is not encoder:
        raise ValueError(f"features(pool={pool!r}): pooling is chosen for a bare Encoder; a "
                         f"{type(encoder).__name__} pools as it was trained (pass pool=None)")
    inner.check_input(x[:1], None if lengths is None else lengths[:1])
    was_training = encoder.training
    encoder.eval()
    dev = next(encoder.parameters()).device
    kwargs = lambda i: ({} if lengths is None else {"lengths": lengths[i:i + batch_size].to(dev)}) | \
        ({} if pool is None else {"pool": pool}) | ({} if depth is None else {"depth": depth})
    try:
        out = [(inner.embed(x[i:i + batch_size].to(dev), per_channel=True, **kwargs(i)).flatten(1) if per_channel
                else encoder.embed(x[i:i + batch_size].to(dev), **kwargs(i))).float().cpu()
               for i in range(0, len(x), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(out)


def _check_pair(F: torch.Tensor, y: torch.Tensor, what: str) -> None:
    if len(F) != len(y):
        raise ValueError(f"{what}: {len(F)} feature rows but {len(y)} labels; they must describe the same samples "
                         f"(features(encoder, data) with data.y of the same dataset)")
    if len(F) == 0:
        raise ValueError(f"{what}: no samples; check the split or label budget that produced them")


def _logistic():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def probe_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor,
                   c: float = 1.0) -> float:
    """Logistic regression on standardised features [N, D]; accuracy on the test rows."""
    _check_pair(f_train, y_train, "linear_probe (train)")
    _check_pair(f_test, y_test, "linear_probe (test)")
    clf = _logistic().set_params(logisticregression__C=c)
    clf.fit(np.asarray(f_train), np.asarray(y_train))
    return float(clf.score(np.asarray(f_test), np.asarray(y_test)))


def linear_probe(encoder, train: SignalDataset, test: SignalDataset, c: float = 1.0) -> float:
    """Test accuracy of a logistic regression fit on the frozen encoder's features of ``train``."""
    return probe_accuracy(features(encoder, train), train.y.cpu(), features(encoder, test), test.y.cpu(), c)


def knn_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor,
                 k: int = 10) -> float:
    """Accuracy of a k-nearest-neighbour vote in cosine similarity of features [N, D]."""
    _check_pair(f_train, y_train, "knn (train)")
    _check_pair(f_test, y_test, "knn (test)")
    y_train, y_test = torch.as_tensor(y_train).long(), torch.as_tensor(y_test).long()
    f_train, f_test = (torch.nn.functional.normalize(torch.as_tensor(f).float(), dim=-1) for f in (f_train, f_test))
    nearest = (f_test @ f_train.T).topk(min(k, len(f_train)), dim=1).indices
    votes = torch.nn.functional.one_hot(y_train[nearest], int(max(y_train.max(), y_test.max())) + 1).sum(1)
    return float((votes.argmax(1) == y_test).float().mean())


def knn(encoder, train: SignalDataset, test: SignalDataset, k: int = 10) -> float:
    """Accuracy of a k-nearest-neighbour vote in cosine similarity of frozen features."""
    return knn_accuracy(features(encoder, train), train.y.cpu(), features(encoder, test), test.y.cpu(), k)


def neighbour_agreement(f: torch.Tensor, labels: torch.Tensor, k: int = 10) -> float:
    """Mean share of each sample's ``k`` nearest neighbours (cosine similarity of features f [N, D], itself
    left out) that carry its own value of ``labels`` [N]: how much the space *clusters* by it. Chance is the
    sum of squared shares of the values (0.2 for five equal subjects)."""
    _check_pair(f, labels, "neighbour_agreement")
    labels = torch.as_tensor(labels).cpu()
    z = torch.nn.functional.normalize(torch.as_tensor(f).float(), dim=-1)
    sim = (z @ z.T).fill_diagonal_(-float("inf"))
    nearest = sim.topk(min(k, len(z) - 1), dim=1).indices
    return float((labels[nearest] == labels[:, None]).float().mean())


def encoded_scores(f: torch.Tensor, data: SignalDataset, artifacts: tuple[str, ...] = ARTIFACTS,
                   seed: int = 0) -> dict[str, float]:
    """what_it_encodes on features f [N, D] already computed from ``data``."""
    from sklearn.metrics import balanced_accuracy_score
    _check_pair(f, data.y, "what_it_encodes")
    f = np.asarray(f)
    half = np.random.default_rng(seed).permutation(len(f)) < len(f) // 2
    targets = {"state": data.y.cpu().numpy()}
    if "subject" in data.meta:
        targets["subject"] = data.meta["subject"].cpu().numpy()
    present = [data.meta[k].bool() for k in artifacts if k in data.meta]
    if present:
        targets["artifact"] = torch.stack(present).any(0).cpu().numpy().astype(int)
    scores = {}
    for name, t in targets.items():
        if len(np.unique(t[half])) < 2:  # nothing to tell apart in the fitting half (e.g. no artifacts drawn)
            scores[name] = float("nan")
            continue
        pred = _logistic().fit(f[half], t[half]).predict(f[~half])
        scores[name] = float(balanced_accuracy_score(t[~half], pred) if name == "artifact" else (pred == t[~half]).mean())
    return scores


def what_it_encodes(encoder, data: SignalDataset, artifacts: tuple[str, ...] = ARTIFACTS,
                    seed: int = 0) -> dict[str, float]:
    """How well a linear probe on frozen features recovers the state (label), the subject and the
    presence of any artifact, on a random half / half split of ``data`` (so subjects appear on both
    sides: this asks what the features *contain*, not how they generalise). Accuracies; "artifact" is
    balanced accuracy, since most samples are clean (NaN when the fitting half has only one value). A good
    encoder for the state task scores high on "state" and low on "subject" and "artifact"."""
    return encoded_scores(features(encoder, data), data, artifacts, seed)


def latent_table(encoders: dict, probe_train: SignalDataset, probe_test: SignalDataset, k: int = 10,
                 pairs: int = 512, seed: int = 0, per_channel: bool = False):
    """One row per encoder {name: Encoder}, a pandas DataFrame with the columns
    linear_probe, knn     state accuracy on ``probe_test`` (unseen subjects, for fmlab corpora), fit on probe_train
    effective_rank        RankMe of the test features (1: collapsed onto a line; at most D)
    uniformity, alignment Wang & Isola on L2-normalised test features; lower is better for both. Alignment:
                          two default_augment views of up to ``pairs`` test signals (the same for every encoder)
    state, subject, artifact  what_it_encodes on probe_test (how much of each a linear probe can read)
    state_neighbours, subject_neighbours  neighbour_agreement on probe_test: does the space cluster by it?
    per_channel: each channel's tokens pooled on their own, side by side (features(per_channel=True)): how a
    channel-independent encoder (a reference) describes a multichannel signal."""
    import pandas as pd
    if not isinstance(encoders, dict) or not encoders:
        raise ValueError(f"latent_table: expected a dict {{name: encoder}}, got {type(encoders).__name__}")
    for part, data in (("probe_train", probe_train), ("probe_test", probe_test)):
        if not isinstance(data, SignalDataset) or len(data) == 0:
            raise ValueError(f"latent_table: {part} must be a non-empty SignalDataset, got {type(data).__name__} "
                             f"of length {len(data) if hasattr(data, '__len__') else '?'}")
    some = np.sort(np.random.default_rng(seed).permutation(len(probe_test))[:pairs])  # a mean over pairs: 512 is plenty
    x1, x2 = augmented_views(probe_test.take(torch.from_numpy(some)), seed=seed)
    rows = {}
    for name, enc in encoders.items():
        f_train, f_test = (features(enc, d, per_channel=per_channel) for d in (probe_train, probe_test))
        y_train, y_test = probe_train.y.cpu(), probe_test.y.cpu()
        rows[name] = {"linear_probe": probe_accuracy(f_train, y_train, f_test, y_test),
                      "knn": knn_accuracy(f_train, y_train, f_test, y_test, k),
                      "effective_rank": effective_rank(f_test), "uniformity": uniformity(f_test),
                      "alignment": alignment(*(features(enc, x, per_channel=per_channel) for x in (x1, x2))),
                      **encoded_scores(f_test, probe_test, seed=seed),
                      "state_neighbours": neighbour_agreement(f_test, y_test, k)}
        if "subject" in probe_test.meta:
            rows[name]["subject_neighbours"] = neighbour_agreement(f_test, probe_test.meta["subject"], k)
    return pd.DataFrame.from_dict(rows, orient="index")


def within_noise(n: int) -> float:
    """Two standard errors of an accuracy (or a share) measured on ``n`` samples, at worst (p = 0.5):
    a smaller difference between two encoders is a tie."""
    return 2 * math.sqrt(0.25 / max(1, n))


def verdict(gap: float, noise: float, want: str = "higher") -> str:
    """How a difference ``gap`` (ours minus theirs) reads against what we ``want`` ("higher"/"lower")."""
    if abs(gap) < noise:
        return "a tie (within noise)"
    return "as hoped" if (gap > 0) == (want == "higher") else "the OPPOSITE of what we hoped"


def majority_chance(data: SignalDataset, keys=("state", "subject")) -> dict[str, float]:
    """The accuracy of always guessing the most common value, for a SignalDataset's labels ("state")
    and meta keys; "artifact" is 0.5 (what_it_encodes scores it with balanced accuracy). "<key>_neighbours"
    is the chance of neighbour_agreement: the sum of the squared shares of the values."""
    out = {"artifact": 0.5}
    for k in keys:
        v = data.y if k == "state" else data.meta.get(k)
        if v is not None and len(v):
            share = torch.bincount(torch.as_tensor(v).long().flatten()).double() / len(v)
            out[k], out[f"{k}_neighbours"] = float(share.max()), float((share ** 2).sum())
    return out


def latent_sentences(table, probe_test: SignalDataset, baseline: str = "random init") -> list[str]:
    """What latent_table's ``table`` says, as lines of text: who reads the state of unseen subjects best, who
    encodes the subject and the artifacts most, what each encoder keeps more ("cares about") or less ("lets go
    of") than the ``baseline`` row, and the label-free geometry. Gaps under two standard errors (within_noise: the
    test set for the probes, its half for what_it_encodes) are called ties."""
    if baseline not in table.index or len(table) < 2:
        raise ValueError(f"latent_sentences: expected a latent_table with a {baseline!r} row and at least one "
                         f"other, got rows {list(table.index)}; pass baseline= the row to compare against")
    n, half = len(probe_test), len(probe_test) // 2
    noise = {"linear_probe": within_noise(n), "knn": within_noise(n), "state": within_noise(half),
             "subject": within_noise(half), "artifact": within_noise(half), "subject_neighbours": within_noise(n)}
    trained, base, chance = table.drop(index=baseline), table.loc[baseline], majority_chance(probe_test)
    lines = [f"ties: gaps under {noise['linear_probe']:.2f} (unseen subjects) or {noise['state']:.2f} "
             f"(what_it_encodes, {half} test signals)", ""]
    for col, question in (("linear_probe", "reads the state of unseen subjects best"),
                          ("subject", "encodes the subject most"), ("artifact", "encodes artifacts most"),
                          ("subject_neighbours", "clusters by subject most")):
        if col not in trained or trained[col].isna().all():
            lines.append(f"no {col} score in this run (too few samples)")
            continue
        top = trained[col].max()
        tied = [name for name in trained.index if abs(trained.loc[name, col] - top) < noise[col]]
        who = tied[0] if len(tied) == 1 else f"{', '.join(tied)} (tied within noise)"
        gap = top - base[col]
        versus = "a tie with" if abs(gap) < noise[col] else "above" if gap > 0 else "BELOW"
        lines.append(f"{question}: {who}, {col} {top:.2f}; {versus} {baseline} ({base[col]:.2f}); "
                     f"chance {chance.get(col, chance['state']):.2f}")
    lines.append("")
    cols = [c for c in ("state", "subject", "artifact", "subject_neighbours") if c in trained]
    for name, row in trained.iterrows():
        gaps = {c: row[c] - base[c] for c in cols}
        more = [c for c, g in gaps.items() if g >= noise[c]]
        less = [c for c, g in gaps.items() if g <= -noise[c]]
        lines.append(f"{name:>11} cares about: {', '.join(more) or 'nothing beyond random features'}; "
                     f"lets go of: {', '.join(less) or 'nothing'}  ("
                     + ", ".join(f"{c} {g:+.2f}" for c, g in gaps.items()) + f" vs {baseline})")
    r, a, un = trained["effective_rank"], trained["alignment"], trained["uniformity"]
    contrastive = [name for name in trained.index if str(name).startswith("contrastive")]
    closest = (": the objective that trains for exactly this" if a.idxmin() in contrastive else
               f"; {contrastive[0]}, trained for exactly this, has {a[contrastive[0]]:.3f}" if contrastive else "")
    lines += ["", f"most directions in use: {r.idxmax()} (effective rank {r.max():.1f}); fewest: {r.idxmin()} "
                  f"({r.min():.1f}); {baseline} {base['effective_rank']:.1f}",
              f"most evenly spread: {un.idxmin()} (uniformity {un.min():.2f}); least: {un.idxmax()} ({un.max():.2f}); "
              f"{baseline} {base['uniformity']:.2f}",
              f"two views of a signal land closest in {a.idxmin()}'s space (alignment {a.min():.3f}){closest}; "
              f"{baseline} {base['alignment']:.3f} (with uniformity {base['uniformity']:.2f})"]
    return lines


def online_probe(encoder, train: SignalDataset, test: SignalDataset, name: str = "probe_acc",
                 on_the_way: int | None = None) -> Callable:
    """An ``evaluate`` hook for fit(): the linear-probe accuracy of ``encoder`` as it trains. ``on_the_way``: the
    evaluations before the last use a fixed random ``on_the_way`` signals of each split (a cheaper, noisier curve:
    encoding the probe sets costs as much as dozens of training steps); the last one (fit's ``final``) uses all."""
    def few(d: SignalDataset) -> SignalDataset:
        if on_the_way is None or on_the_way >= len(d):
            return d
        pick = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))[:on_the_way]
        return d.take(pick.sort().values)

    quick = (few(train), few(test))

    def probe(_model, final: bool = True) -> dict[str, float]:
        return {name: linear_probe(encoder, *((train, test) if final else quick))}
    return probe


__all__ = ["alignment", "augmented_views", "effective_rank", "encoded_scores", "features", "knn", "knn_accuracy",
           "latent_table", "linear_probe", "neighbour_agreement", "online_probe", "probe_accuracy", "uniformity",
           "verdict", "what_it_encodes", "within_noise"]
