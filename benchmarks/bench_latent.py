"""What each encoder's latent space encodes: notebook 05's table, and notebook 03's augmentation pitfall, as numbers.

    python benchmarks/bench_latent.py --profile cpu [--seed 0] [--variants objectives pitfall]

For a randomly initialised encoder and each pretrained one (fmlab.pretrain.pretrained, cached in FMLAB_CACHE; a
first run pretrains), fmlab.evaluate.latent_table on the corpus's labelled probe split (fit) and its unseen
subjects (test): linear probe and kNN state accuracy, effective rank, uniformity, alignment, how much of the
state / subject / artifact a probe recovers, and how often a signal's nearest neighbours share its state / subject.

Variants: "objectives" = the four objectives of notebooks 01-04; "pitfall" = contrastive with weak views (keep
the subject signature and the artifacts), with subject-aware negatives, and JEPA at a lower EMA momentum.
Writes benchmarks/results/latent-<profile>.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fmlab.evaluate import latent_table
from fmlab.models import Encoder
from fmlab.pretrain.recipes import OBJECTIVES, benchmark_steps, corpus, encoder_config, pretrained, run_settings

VARIANTS = {
    "objectives": {name: (name, {}) for name in OBJECTIVES},
    "pitfall": {"contrastive, weak views": ("contrastive", {"augment": "weak"}),
                "contrastive, subject negatives": ("contrastive", {"negatives": "subject"}),
                "jepa, momentum 0.99": ("jepa", {"momentum": 0.99})},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    s = run_settings("mae", "eeg", args.profile, args.seed)
    data = corpus("eeg", n=s["n"], seed=args.seed)
    torch.manual_seed(args.seed)
    encoders, pretrain_s = {"random init": Encoder(encoder_config(s["size"], data.unlabelled))}, {}
    for variant in args.variants:
        for name, (objective, kwargs) in VARIANTS[variant].items():
            t0 = time.perf_counter()
            encoders[name] = pretrained(objective, profile=args.profile, seed=args.seed, **kwargs,
                                         steps=benchmark_steps(objective, args.profile))[0].encoder.cpu()
            pretrain_s[name] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    table = latent_table(encoders, data.probe_train, data.probe_test, seed=args.seed)
    print(f"eeg ({args.profile} profile, seed {args.seed}): probes fit on {len(data.probe_train)}, tested on "
          f"{len(data.probe_test)} signals of unseen subjects ({time.perf_counter() - t0:.0f} s)")
    print(table.round(3).to_string())
    out = Path(__file__).parent / "results" / f"latent-{args.profile}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"profile": args.profile, "seed": args.seed, "torch": torch.__version__,
                               "probe_train": len(data.probe_train), "probe_test": len(data.probe_test),
                               "pretrain_or_load_s": pretrain_s, "table": table.to_dict(orient="index")}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
