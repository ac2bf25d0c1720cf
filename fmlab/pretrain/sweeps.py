"""Sweeps over a pretraining setting, each point a cached ``pretrained`` run scored by a linear probe.

    accs = mask_ratio_sweep((0.25, 0.5, 0.75, 0.9), profile="gpu")   # one MAE per ratio
    fmlab.viz.reconstruction.plot_ratio_sweep((0.25, 0.5, 0.75, 0.9), accs)
    sweep = read_sweep("benchmarks/results/ratio-sweep-cpu.json")     # one benchmarks/ratio_sweep.py wrote
    describe_sweep(sweep), sweep_sentences(sweep), sweep_means(sweep)  # how it was made, what it says, its means
"""
from __future__ import annotations

import inspect

from ..evaluate import linear_probe
from ..masking import MASK_KINDS, make_mask
from ..profiles import get_profile
from .mae import MAE
from .recipes import corpus, encoder_config, pretrained


def mask_ratio_sweep(ratios=(0.25, 0.5, 0.75, 0.9), data: str = "eeg", profile: str | None = None,
                     kind: str = "random", seed: int = 0, steps: int | None = None,
                     progress: bool = True, size: str | None = None) -> list[float]:
    """Pretrain (or load) one MAE per masking ratio on ``data`` and return the linear-probe accuracy of
    each frozen encoder on the corpus's held-out probe split, in the order of ``ratios``. ``size``: the
    encoder preset (default: the profile's; benchmarks/ratio_sweep.py runs the cpu profile's sweep "tiny")."""
    ratios = list(ratios) if not isinstance(ratios, (int, float)) else [ratios]
    if not ratios or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < 1 for r in ratios):
        raise ValueError(f"mask_ratio_sweep: expected ratios in (0, 1), e.g. (0.25, 0.5, 0.75, 0.9), got {ratios}")
    if kind not in MASK_KINDS:
        raise ValueError(f"mask_ratio_sweep: unknown mask kind {kind!r}; choose one of {', '.join(MASK_KINDS)}")
    p = get_profile(profile)
    c = corpus(data, n=p.n, seed=seed)
    cfg = encoder_config(size or p.size, c.unlabelled)
    for r in ratios:  # refuse a ratio that hides everything before the first run trains, not after
        make_mask(kind, 1, cfg.channels, cfg.patches, r)
    defaults = {k: v.default for k, v in inspect.signature(MAE).parameters.items() if k in ("mask_ratio", "mask_kind")}
    accuracies = []
    for r in ratios:
        # the default settings are left out, so that point reuses the plain pretrained("mae") cache entry
        args = {k: v for k, v in dict(mask_ratio=r, mask_kind=kind).items() if v != defaults[k]}
        mae, _ = pretrained("mae", data=data, profile=p.name, seed=seed, steps=steps, size=size, progress=progress,
                            **args)
        accuracies.append(linear_probe(mae.encoder, c.probe_train, c.probe_test))
    return accuracies


def read_sweep(path) -> dict:
    """A sweep benchmarks/ratio_sweep.py wrote: {"command", "ratios", "kinds": {kind: [[acc per seed] per ratio]},
    "random_init": [acc per seed], "test_size", ...}; a ValueError says how to make a missing one."""
    import json
    from pathlib import Path
    path = Path(path)
    if not path.exists():
        raise ValueError(f"read_sweep: no sweep at {path}; make it with python benchmarks/ratio_sweep.py --profile cpu")
    return json.loads(path.read_text())


def sweep_sentences(sweep: dict) -> list[str]:
    """What a sweep (read_sweep) says, one sentence per mask kind: the best ratio, the next best, and whether it
    is beyond the noise against that one and against random init. Both are compared seed by seed (a seed is its
    own corpus, so the seeds differ more than the ratios do): beyond the noise means a mean difference over
    twice the larger of its standard error across seeds and the test set's noise on a difference (sqrt 2 x)."""
    import statistics
    out, ratios, base = [], sweep["ratios"], sweep["random_init"]

    def versus(a, b) -> tuple[float, bool]:
        diffs = [x - y for x, y in zip(a, b)]
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
        mean = statistics.mean(diffs)
        return mean, abs(mean) > 2 * max(se, 2 ** 0.5 * sweep["noise"])
    for kind, per_ratio in sweep["kinds"].items():
        means = [statistics.mean(a) for a in per_ratio]
        order = sorted(range(len(ratios)), key=lambda i: means[i], reverse=True)
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        gap, gap_real = versus(per_ratio[best], per_ratio[second])
        over, over_real = versus(per_ratio[best], base)
        word = lambda real: "beyond" if real else "within"
        out.append(f"{kind} masks: best at ratio {ratios[best]:g} ({means[best]:.3f}, mean of {len(per_ratio[best])} "
                   f"seeds), next {ratios[second]:g} ({means[second]:.3f}): {gap:+.3f}, {word(gap_real)} the noise; "
                   f"{over:+.3f} against random init ({statistics.mean(base):.3f}), {word(over_real)} the noise")
    return out


_NEEDS = ("command", "size", "steps", "batch_size", "seeds", "test_size", "ratios", "kinds", "random_init")


def _check_sweep(sweep, what: str) -> None:
    missing = [k for k in _NEEDS if k not in sweep] if isinstance(sweep, dict) else list(_NEEDS)
    if missing:
        raise ValueError(f"{what}: expected a sweep dict as read_sweep returns it, with {', '.join(_NEEDS)}; got "
                         f"{type(sweep).__name__} lacking {', '.join(missing)}; read it with read_sweep(path) from a "
                         f"file python benchmarks/ratio_sweep.py wrote")
    bad = [kind for kind, per_ratio in sweep["kinds"].items()
           if len(per_ratio) != len(sweep["ratios"]) or not all(per_ratio)]
    if bad or not sweep["random_init"]:
        raise ValueError(f"{what}: expected one non-empty list of accuracies (one per seed) for each of the "
                         f"{len(sweep['ratios'])} ratios of every kind, and for random_init; "
                         f"{', '.join(bad) or 'random_init'} do not have it; rerun benchmarks/ratio_sweep.py")


def describe_sweep(sweep: dict) -> list[str]:
    """How a sweep (read_sweep) was computed, two lines: the command that made it, and the encoder size, steps,
    batch size, seeds and test-set size of its runs."""
    _check_sweep(sweep, "describe_sweep")
    return [f"computed by: {sweep['command']}",
            f"({sweep['size']} encoder, {sweep['steps']} steps of batch {sweep['batch_size']}, seeds "
            f"{sweep['seeds']}, {sweep['test_size']} test signals of unseen subjects)"]


def sweep_means(sweep: dict) -> tuple[dict[str, dict[str, float]], float]:
    """The mean over seeds of a sweep (read_sweep): ({kind: {str(ratio): mean accuracy}}, the mean accuracy of
    random init), e.g. ({"random": {"0.25": 0.458, ...}, "block": {...}}, 0.430)."""
    _check_sweep(sweep, "sweep_means")
    mean = lambda accs: sum(accs) / len(accs)
    per_kind = {kind: dict(zip(map(str, sweep["ratios"]), map(mean, per_ratio)))
                for kind, per_ratio in sweep["kinds"].items()}
    return per_kind, mean(sweep["random_init"])
