"""Scaling laws at laptop scale: how the pretraining loss falls with parameters N, data D and compute C.

    runs = grid("mae", profile="cpu")               # one pretraining run per (width, steps), cached
    law = fit_law(runs)                             # L(N, D) = E + A / N**alpha + B / D**beta
    law.alpha, law.interval("alpha")                # an exponent and its 90 % bootstrap interval
    law.predict(n, d), law.optimal(flops)           # a run not yet trained; the best size for a budget
As Kaplan et al. (2020) and Hoffmann et al. (2022, "Chinchilla", their third approach) on language models:
N counts the encoder's parameters outside its embeddings, D the patch tokens it trained on (fresh generated
series every step: no token is seen twice), C the FLOPs that torch's counter measures for a training step,
times the steps; L is the objective's loss on a fixed held-out set. Every run gets its own cosine schedule.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from . import hub
from .atomic import atomic_path
from .data import SignalDataset
from .data.synthetic import generate_mixture
from .models import Encoder, EncoderConfig
from .profiles import cache_dir, get_profile
from .progress import progress_bar
from .train import fit, seeded

LENGTH, PATCH = 128, 8            # every series: 16 tokens of 8 samples
DEPTH_HEADS = {8: (1, 2), 16: (1, 2), 24: (2, 2), 32: (2, 2), 48: (2, 4), 64: (3, 4), 96: (3, 4), 128: (4, 4),
               192: (5, 6), 256: (6, 8), 384: (8, 8), 512: (8, 8)}   # width -> depth, heads: deeper as it widens
HELD_OUT = 512                    # held-out series the loss is measured on (another seed of the generator)


def config(width: int, objective: str = "mae") -> EncoderConfig:
    """The encoder of one grid row: series of 128 samples (each channel on its own), ``width`` wide (causal for
    next-patch)."""
    if width not in DEPTH_HEADS:
        raise ValueError(f"scaling: expected a width in {sorted(DEPTH_HEADS)}, got {width!r}")
    depth, heads = DEPTH_HEADS[width]
    return EncoderConfig(channels=1, length=LENGTH, patch_size=PATCH, dim=width, depth=depth, heads=heads,
                         channel_embed=False, channel_independent=True, causal=objective == "next-patch")


def non_embedding_parameters(encoder: Encoder) -> int:
    """N: the parameters of the blocks and the final norm (Kaplan's count; embeddings left out)."""
    return sum(p.numel() for name, p in encoder.named_parameters() if name.startswith(("blocks.", "norm.")))


def series(n: int, seed: int) -> torch.Tensor:
    """[n, 1, 128]: the first n of a shuffled pool of generated series of every family of the pile
    (fmlab.data.synthetic); the pool is 4,096 series or the next power of two above n, kept for the grid."""
    return _pool(max(4096, 1 << (n - 1).bit_length()), seed)[:n]


@lru_cache(maxsize=2)
def _pool(size: int, seed: int) -> torch.Tensor:
    x = generate_mixture(size, LENGTH, seed)[0]                       # family by family: shuffle them together
    return x[torch.randperm(size, generator=torch.Generator().manual_seed(seed))]


def objective_for(name: str, encoder: Encoder):
    from .pretrain.recipes import make_objective
    # MAE's decoder at half the width: at width 16 the default 32-wide decoder would outweigh the encoder
    extra = {"decoder_dim": max(8, encoder.dim // 2), "decoder_heads": 2} if name in ("mae", "spectrum") else {}
    return make_objective(name, encoder, data="scaling", **extra)


@torch.no_grad()
def held_out_loss(objective, held: torch.Tensor) -> float:
    """The objective's mean loss on ``held`` [M, 1, T] in batches, with the same random masks every time."""
    objective.eval()
    with seeded(0):
        dev = next(objective.parameters()).device
        losses = [float(objective(held[i:i + 128].to(dev))["loss"]) * len(held[i:i + 128])
                  for i in range(0, len(held), 128)]
    return sum(losses) / len(held)


def step_flops(objective, batch: torch.Tensor) -> int:
    """FLOPs of one training step (forward and backward) on ``batch``, as torch's counter measures them."""
    from torch.utils.flop_counter import FlopCounterMode
    objective.train()
    with FlopCounterMode(display=False) as counter:
        objective(batch)["loss"].backward()
    objective.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def run(objective: str, width: int, steps: int, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
        progress: bool = False, device=None) -> dict:
    """Pretrain one grid cell (or read it from the cache): {"objective", "width", "steps", "parameters" N,
    "tokens" D, "flops" C, "loss" held-out, "train_loss", "seconds"}. ``device``: where it trains (default: the
    best there is, fmlab.profiles.device; FLOPs are counted on the CPU first)."""
    settings = dict(objective=objective, width=width, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    folder = entry(settings)
    if not (folder / "result.json").exists():
        from .pretrain import committed   # the cpu grid ships with the kit (benchmarks/course_runs.py makes it)
        committed.install_grid_run(folder)
    if (folder / "result.json").exists():
        return json.loads((folder / "result.json").read_text())
    with seeded(seed):
        encoder = Encoder(config(width, objective))
        obj = objective_for(objective, encoder)
        data = series(steps * batch_size, seed + 1)                   # each series once: D fresh tokens
        flops = step_flops(obj, data[:batch_size])
    with contextlib.nullcontext() if progress else contextlib.redirect_stdout(io.StringIO()):  # a grid: one bar
        hist = fit(obj, SignalDataset(data, torch.zeros(len(data), dtype=torch.long), ["series"], fs=1.0),
                   steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress, live=False, device=device)
    result = dict(settings, parameters=non_embedding_parameters(encoder), all_parameters=encoder.num_parameters(),
                  tokens=steps * batch_size * LENGTH // PATCH, flops=flops * steps,
                  loss=held_out_loss(obj, series(HELD_OUT, 10_000 + seed)), train_loss=hist.final_loss(),
                  seconds=round(hist.seconds, 2))
    hub.save(encoder, folder / "encoder.safetensors", **settings, length=LENGTH)
    with atomic_path(folder / "result.json") as tmp:                  # written last: marks the entry complete
        open(tmp, "w").write(json.dumps(result))
    return result


def grid(objective: str, widths=None, steps=None, profile: str | None = None, batch_size: int | None = None,
         progress: bool = True) -> list[dict]:
    """Every (width, steps) cell of the profile's grid (or the ones given), with a progress bar."""
    p = get_profile(profile)
    widths, steps = widths or p.scaling_widths, steps or p.scaling_steps
    cells = [(w, s) for w in widths for s in steps]
    bar = progress_bar(total=len(cells), desc=f"scaling grid ({objective})", disable=not progress)
    out = []
    for w, s in cells:
        out.append(run(objective, w, s, batch_size or p.scaling_batch_size))
        bar.update(1)
    bar.close()
    return out


def entry(settings: dict):
    """The cache folder of one run: its settings and what they are measured against."""
    name = f"{settings['objective']}-w{settings['width']}-s{settings['steps']}"
    return cache_dir("scaling") / hub.cache_key(name, **settings, length=LENGTH, patch=PATCH, held_out=HELD_OUT,
                                                format=1)


def entry_of(result: dict):
    """The cache folder of a grid run (a result of ``run``)."""
    return entry({k: result[k] for k in ("objective", "width", "steps", "batch_size", "lr", "seed")})


def encoder_of(result: dict) -> Encoder:
    """The trained encoder of a grid run (a result of ``run``), e.g. for a probe."""
    return hub.load(entry_of(result) / "encoder.safetensors")


# -- the law ---------------------------------------------------------------------------------------------------
def _law(theta, n, d):
    log_e, log_a, alpha, log_b, beta = theta
    return np.exp(log_e) + np.exp(log_a) / n ** alpha + np.exp(log_b) / d ** beta


def _fit(n, d, loss, starts) -> np.ndarray:
    """Hoffmann et al.'s fit: minimise the Huber loss (delta 1e-3) of log-loss residuals, from several starts."""
    from scipy.optimize import minimize

    def objective(theta):  # the Huber loss and its gradient (analytic: 6x fewer law evaluations than differences)
        log_e, log_a, alpha, log_b, beta = theta
        terms = np.exp(log_a) / n ** alpha, np.exp(log_b) / d ** beta
        law = np.exp(log_e) + terms[0] + terms[1]
        r = np.log(law) - np.log(loss)
        a = np.abs(r)
        huber = np.where(a < 1e-3, 0.5 * r ** 2, 1e-3 * (a - 0.5e-3)).sum()
        slope = np.clip(r, -1e-3, 1e-3) / law          # d huber / d law, per run
        dlaw = np.stack([np.full_like(law, np.exp(log_e)), terms[0], -terms[0] * np.log(n),
                         terms[1], -terms[1] * np.log(d)])   # d law / d theta: [5, runs]
        return huber, dlaw @ slope
    fits = [minimize(objective, s, method="L-BFGS-B", jac=True,
                     bounds=[(-5, 3), (-5, 15), (0.0, 2.0), (-5, 15), (0.0, 2.0)]) for s in starts]
    return min(fits, key=lambda f: f.fun).x


@dataclass
class Law:
    """L(N, D) = E + A / N**alpha + B / D**beta, the fit on every run and ``samples`` refitted on bootstrap
    resamples of the runs (their spread is the uncertainty). ``flops_per_nd``: C = k N D, from the runs."""
    E: float
    A: float
    alpha: float
    B: float
    beta: float
    flops_per_nd: float
    samples: np.ndarray = field(repr=False)      # [S, 5]: log E, log A, alpha, log B, beta

    def predict(self, n, d) -> np.ndarray:
        return _law([math.log(self.E), math.log(self.A), self.alpha, math.log(self.B), self.beta],
                    np.asarray(n, float), np.asarray(d, float))

    def interval(self, what: str = "alpha", n=None, d=None, level: float = 0.9) -> tuple[float, float]:
        """The bootstrap interval of an exponent ("alpha", "beta") or, given n and d, of the predicted loss."""
        if what in ("alpha", "beta"):
            values = self.samples[:, 2 if what == "alpha" else 4]
        elif what == "loss" and n is not None and d is not None:
            values = np.array([_law(s, float(n), float(d)) for s in self.samples])
        else:
            raise ValueError(f"Law.interval: expected 'alpha', 'beta', or 'loss' with n= and d=, got {what!r}")
        lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def optimal(self, flops: float) -> dict:
        """The compute-optimal split of a budget of ``flops``: {"parameters", "tokens", "loss"} minimising
        L(N, C / (k N)) over N."""
        n = np.logspace(2, 9, 400)
        d = flops / (self.flops_per_nd * n)
        loss = self.predict(n, d)
        i = int(np.argmin(loss))
        return {"parameters": float(n[i]), "tokens": float(d[i]), "loss": float(loss[i])}


def fit_law(runs: list[dict], bootstrap: int = 200, seed: int = 0) -> Law:
    """Fit L(N, D) to grid runs ({"parameters", "tokens", "loss", "flops"} each); at least 5 runs."""
    if len(runs) < 5:
        raise ValueError(f"fit_law: expected at least 5 runs for 5 parameters (E, A, alpha, B, beta), got "
                         f"{len(runs)}; run a bigger grid (e.g. 3 widths x 2 budgets)")
    n, d, loss = (np.array([r[k] for r in runs], float) for k in ("parameters", "tokens", "loss"))
    starts = [[math.log(0.5 * loss.min()), a, al, b, be] for a in (0.0, 4.0) for b in (2.0, 6.0)
              for al, be in ((0.2, 0.5), (0.6, 0.2))]
    theta = _fit(n, d, loss, starts)
    rng = np.random.default_rng(seed)  # every resample from every start too: one start would stay where theta is
    samples = np.array([_fit(n[i], d[i], loss[i], [theta, *starts[::2]]) for i in
                        (rng.integers(0, len(runs), len(runs)) for _ in range(bootstrap))])
    k = float(np.median([r["flops"] / (r["parameters"] * r["tokens"]) for r in runs]))
    e, a, alpha, b, beta = theta
    return Law(math.exp(e), math.exp(a), float(alpha), math.exp(b), float(beta), k, samples)


# -- reading a grid ----------------------------------------------------------------------------------------------
def describe(law: Law, name: str) -> str:
    """One sentence: the fitted law, its exponents and their intervals."""
    (alo, ahi), (blo, bhi) = law.interval("alpha"), law.interval("beta")
    return (f"{name}: L(N, D) = {law.E:.3f} + {law.A:.3g} / N^{law.alpha:.2f} + {law.B:.3g} / D^{law.beta:.2f}; "
            f"alpha = {law.alpha:.2f} (90 % interval {alo:.2f} to {ahi:.2f}), beta = {law.beta:.2f} "
            f"({blo:.2f} to {bhi:.2f}); C = {law.flops_per_nd:.1f} N D FLOPs")


def check_prediction(law: Law, check: dict) -> dict:
    """The law's prediction for the run ``check`` (trained after the fit) against what it measured."""
    predicted = float(law.predict(check["parameters"], check["tokens"]))
    lo, hi = law.interval("loss", n=check["parameters"], d=check["tokens"])
    return dict(predicted=predicted, low=lo, high=hi, measured=check["loss"], inside=lo <= check["loss"] <= hi,
                error_pct=100 * (check["loss"] - predicted) / predicted)


def prediction_sentence(name: str, p: dict) -> str:
    where = "inside" if p["inside"] else ("above" if p["measured"] > p["high"] else "below")
    return (f"{name}: predicted {p['predicted']:.3f} (90 % interval {p['low']:.3f} to {p['high']:.3f}), measured "
            f"{p['measured']:.3f}, {p['error_pct']:+.1f} %: {where} the interval")


def falls(runs: list[dict]) -> dict:
    """How much the loss falls across the grid, in %: from the smallest to the largest model at the largest
    budget ("with N"), and from the smallest to the largest budget for the largest model ("with D")."""
    top_n, top_s = max(r["parameters"] for r in runs), max(r["steps"] for r in runs)
    at = lambda key, value, other: sorted((r for r in runs if r[key] == value), key=lambda r: r[other])
    by_n, by_d = at("steps", top_s, "parameters"), at("parameters", top_n, "steps")
    pct = lambda rows: 100 * (rows[0]["loss"] - rows[-1]["loss"]) / rows[0]["loss"]
    return {"with N": pct(by_n), "with D": pct(by_d)}


def equal_compute(grids: dict[str, list[dict]]) -> dict[str, dict]:
    """For each objective the run with the lowest held-out loss within the largest compute every objective's grid
    reaches: the runs to compare at equal compute (for a probe)."""
    budget = min(max(r["flops"] for r in runs) for runs in grids.values())
    return {name: min((r for r in runs if r["flops"] <= budget), key=lambda r: r["loss"])
            for name, runs in grids.items()}


def probe(result: dict, train: SignalDataset, test: SignalDataset) -> float:
    """Linear-probe accuracy of a grid run's frozen encoder on a labelled task: every series resampled to the
    grid's 128 samples (explicitly: its encoders read no more), each channel's tokens mean-pooled, the channels
    side by side, logistic regression (fmlab.evaluate.probe_accuracy)."""
    from .data import resample
    from .evaluate import features, probe_accuracy
    encoder = encoder_of(result)
    f = [features(encoder, resample(d, LENGTH), per_channel=True) for d in (train, test)]
    return probe_accuracy(f[0], train.y, f[1], test.y)
