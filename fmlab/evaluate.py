"""What a frozen encoder's features are worth: linear probe, kNN, effective rank.

    F = features(encoder, data)                  # [N, D], batched, on the encoder's device
    acc = linear_probe(encoder, train, test)     # logistic regression on standardised features
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .data.core import SignalDataset


@torch.no_grad()
def features(encoder, data: SignalDataset | torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Pooled features [N, D] on the CPU (the encoder runs in eval mode on its own device)."""
    x = data.x if isinstance(data, SignalDataset) else data
    if len(x) == 0:
        raise ValueError("features: the dataset is empty; check the split or label budget that produced it")
    was_training = encoder.training
    encoder.eval()
    dev = next(encoder.parameters()).device
    out = torch.cat([encoder.embed(x[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)])
    encoder.train(was_training)
    return out


def _check_pair(F: torch.Tensor, y: torch.Tensor, what: str) -> None:
    if len(F) != len(y):
        raise ValueError(f"{what}: {len(F)} feature rows but {len(y)} labels; they must describe the same samples")


def probe_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor,
                   c: float = 1.0) -> float:
    """Logistic regression on standardised features [N, D]; accuracy on the test rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    _check_pair(f_train, y_train, "linear_probe (train)")
    _check_pair(f_test, y_test, "linear_probe (test)")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    clf.fit(np.asarray(f_train), np.asarray(y_train))
    return float(clf.score(np.asarray(f_test), np.asarray(y_test)))


def linear_probe(encoder, train: SignalDataset, test: SignalDataset, c: float = 1.0) -> float:
    """Test accuracy of a logistic regression fit on the frozen encoder's features of ``train``."""
    return probe_accuracy(features(encoder, train), train.y.cpu(), features(encoder, test), test.y.cpu(), c)


def knn(encoder, train: SignalDataset, test: SignalDataset, k: int = 10) -> float:
    """Accuracy of a k-nearest-neighbour vote in cosine similarity of frozen features."""
    f_train = torch.nn.functional.normalize(features(encoder, train), dim=-1)
    f_test = torch.nn.functional.normalize(features(encoder, test), dim=-1)
    nearest = (f_test @ f_train.T).topk(min(k, len(f_train)), dim=1).indices
    votes = torch.nn.functional.one_hot(train.y.cpu()[nearest], train.num_classes).sum(1)
    return float((votes.argmax(1) == test.y.cpu()).float().mean())


def effective_rank(z: torch.Tensor) -> float:
    """RankMe: exp of the entropy of the normalised singular values of z [N, D] (1 = collapsed, D = full)."""
    s = torch.linalg.svdvals(z.float() - z.float().mean(0))
    p = s / s.sum().clamp_min(1e-12) + 1e-12
    return float(torch.exp(-(p * p.log()).sum()))


def what_it_encodes(encoder, data: SignalDataset, artifacts: tuple[str, ...] = ("blink", "muscle", "line_noise", "pop"),
                    seed: int = 0) -> dict[str, float]:
    """How well a linear probe on frozen features recovers the state (label), the subject and the
    presence of any artifact, on a random half / half split of ``data`` (so subjects appear on both
    sides: this asks what the features *contain*, not how they generalise). Accuracies; "artifact" is
    balanced accuracy, since most samples are clean. A good encoder for the state task scores high on
    "state" and low on "subject" and "artifact"."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    f = features(encoder, data).numpy()
    half = np.random.default_rng(seed).permutation(len(f)) < len(f) // 2
    targets = {"state": data.y.cpu().numpy()}
    if "subject" in data.meta:
        targets["subject"] = data.meta["subject"].cpu().numpy()
    present = [data.meta[k].bool() for k in artifacts if k in data.meta]
    if present:
        targets["artifact"] = torch.stack(present).any(0).cpu().numpy().astype(int)
    scores = {}
    for name, t in targets.items():
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(f[half], t[half])
        pred = clf.predict(f[~half])
        scores[name] = float(balanced_accuracy_score(t[~half], pred) if name == "artifact" else (pred == t[~half]).mean())
    return scores


def online_probe(encoder, train: SignalDataset, test: SignalDataset, name: str = "probe_acc") -> Callable:
    """An ``evaluate`` hook for fit(): the linear-probe accuracy of ``encoder`` as it trains."""
    return lambda _model: {name: linear_probe(encoder, train, test)}
