"""The shape of a cloud of features, without labels: effective rank, alignment and uniformity.

    effective_rank(F)              # F [N, D]: how many directions the features really use (RankMe)
    x1, x2 = augmented_views(data)  # two views of every signal, [N, C, T] each
    alignment(features(enc, x1), features(enc, x2))   # do the two views of a signal land together?
    uniformity(F)                  # are the features spread over the unit sphere?
Alignment and uniformity are Wang & Isola (2020), on L2-normalised features; lower is better for both.
What features hold on to: follows_the_mark (a mark a signal carries, not the signal) and under_noise (the state
probe on signals with noise added that its training never saw).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data.dataset import SignalDataset


def _matrix(z, what: str, min_rows: int = 1) -> torch.Tensor:
    z = torch.as_tensor(z)
    if z.dim() != 2 or len(z) < min_rows:
        raise ValueError(f"{what}: expected features [N, D] with N >= {min_rows}, got shape {tuple(z.shape)}; "
                         f"compute them with fmlab.evaluate.features(encoder, data)")
    return z.float()


def effective_rank(z: torch.Tensor) -> float:
    """RankMe: exp of the entropy of the normalised singular values of z [N, D] (1 = collapsed, D = full)."""
    z = _matrix(z, "effective_rank", min_rows=2)
    s = torch.linalg.svdvals(z - z.mean(0))
    p = s / s.sum().clamp_min(1e-12) + 1e-12
    return float(torch.exp(-(p * p.log()).sum()))


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> float:
    """Mean ||u - v||^alpha over positive pairs: row i of z1 [N, D] and row i of z2, both L2-normalised.
    0 when the two views of every sample map to the same direction; 4 (alpha = 2) when they point opposite ways."""
    z1, z2 = _matrix(z1, "alignment (z1)"), _matrix(z2, "alignment (z2)")
    if z1.shape != z2.shape:
        raise ValueError(f"alignment: z1 {tuple(z1.shape)} and z2 {tuple(z2.shape)} must have the same shape: "
                         f"row i of each is a view of the same sample (see augmented_views)")
    return float((F.normalize(z1, dim=-1) - F.normalize(z2, dim=-1)).norm(dim=1).pow(alpha).mean())


def uniformity(z: torch.Tensor, t: float = 2.0) -> float:
    """log of the mean Gaussian potential exp(-t ||u - v||^2) over all pairs of L2-normalised rows of z [N, D].
    0 when every sample maps to one point (collapse); lower (down to about -2t in many dimensions) when the
    features spread evenly over the sphere."""
    u = F.normalize(_matrix(z, "uniformity", min_rows=2), dim=-1)
    return float(torch.pdist(u).pow(2).mul(-t).exp().mean().log())


def augmented_views(data: SignalDataset, augment=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views x1, x2 [N, C, T] of every signal in data.x, row i of each a positive pair.
    ``augment``: a callable on batches [B, C, T] (default: the contrastive views, default_augment(data.fs)).
    The views are drawn from ``seed`` and the global random state is left as it was."""
    if not isinstance(data, SignalDataset) or len(data) == 0:
        raise ValueError(f"augmented_views: expected a non-empty SignalDataset, got "
                         f"{type(data).__name__} of length {len(data) if hasattr(data, '__len__') else '?'}")
    if augment is None:
        from .data.augment import default_augment
        augment = default_augment(data.fs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return augment(data.x), augment(data.x)


def collapse_verdict(hist, dim: int, probe_gap: float, noise: float) -> str:
    """The collapse rule of notebook 04 applied to a run: its History's per-step ``emb_std`` and ``eff_rank`` and
    its probe's gap to random init (``probe_gap``, with the test set's ``noise``). Collapsing: emb_std ends below
    half its start, or eff_rank below half its start, while the probe is not above random init."""
    (_, std0), (_, std1) = hist.metrics["emb_std"][0], hist.metrics["emb_std"][-1]
    rank0, rank1 = hist.metrics["eff_rank"][0][1], hist.metrics["eff_rank"][-1][1]
    shrank = [f"emb_std fell from {std0:.3f} to {std1:.3f} (spread evenly: {dim ** -0.5:.3f})"] if std1 < std0 / 2 else []
    shrank += [f"eff_rank fell from {rank0:.1f} to {rank1:.1f}"] if rank1 < rank0 / 2 else []
    probe = ("above" if probe_gap > noise else "below" if probe_gap < -noise else "within noise of") + " random init"
    if shrank and probe_gap <= noise:
        return f"by the rule above this run IS collapsing: {' and '.join(shrank)}, and its probe is {probe}"
    if shrank:
        return f"the monitors sank ({' and '.join(shrank)}) but the probe is {probe}: a near miss, not a collapse"
    return f"by the rule above this run is not collapsing: both monitors held, and its probe is {probe}"


def follows_the_mark(encoder, data: SignalDataset, mark: str = "offset", n: int | None = None, seed: int = 0) -> float:
    """Does the encoder recognise a signal by a mark it carries (meta[``mark``] [N, C]: a constant per channel, e.g.
    the electrode offsets of "eeg-offsets") rather than by the signal? For each signal (the first ``n``), compare its
    features with (a) the same signal under another recording's mark and (b) another signal under its own mark; the
    share of signals closer to (b). Random features sit well under 0.5; an encoder that matches by the mark nears 1."""
    from .evaluate import features
    if not isinstance(data, SignalDataset) or mark not in data.meta or data.meta[mark].shape != data.x.shape[:2]:
        raise ValueError(f"follows_the_mark: expected a SignalDataset whose meta[{mark!r}] is [N, C] (a constant per "
                         f"channel, as load('eeg-offsets') gives), got "
                         f"{type(data).__name__} with meta {sorted(getattr(data, 'meta', {}))}")
    m = len(data) if n is None else min(n, len(data))
    if m < 2:
        raise ValueError(f"follows_the_mark: needs at least 2 signals, got {len(data)}")
    g = torch.Generator().manual_seed(seed)
    other = lambda: (torch.arange(m) + torch.randint(1, m, (m,), generator=g)) % m   # noqa: E731 (never itself)
    j, k = other(), other()
    x, o = data.x[:m], data.meta[mark][:m, :, None].to(data.x)
    clean = x - o
    own, moved, swapped = (F.normalize(features(encoder, v), dim=-1) for v in (x, clean + o[k], clean[j] + o))
    return float(((own * swapped).sum(-1) > (own * moved).sum(-1)).float().mean())


def under_noise(encoder, train: SignalDataset, test: SignalDataset, levels=(0.0, 0.5, 1.0),
                seed: int = 0) -> dict[float, float]:
    """How the state probe holds up on noisier signals than it learned from: a logistic regression fit on the clean
    ``train`` features, scored on ``test`` signals plus white noise of ``level`` x the test signals' std on every
    sample (one draw, from ``seed``, for every level and encoder): {level: accuracy}. Level 0 is linear_probe."""
    from .evaluate import features, probe_accuracy
    bad = [v for v in levels if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0]
    if not levels or bad:
        raise ValueError(f"under_noise: expected noise levels >= 0 (multiples of the test signals' std), got "
                         f"{list(levels)}; pass e.g. (0.0, 0.5, 1.0)")
    if not (isinstance(train, SignalDataset) and isinstance(test, SignalDataset)):
        raise ValueError(f"under_noise: expected two SignalDatasets (train, test), got {type(train).__name__}, "
                         f"{type(test).__name__}")
    noise = torch.randn(test.x.shape, generator=torch.Generator().manual_seed(seed)) * test.x.std()
    f_train = features(encoder, train)
    return {float(v): probe_accuracy(f_train, train.y.cpu(), features(encoder, test.x + v * noise), test.y.cpu())
            for v in levels}
