"""JEPA variants at cpu size, for issue 19 item 2 (BENCHMARKS.md, "JEPA at cpu size: what was tried"): one run of
fmlab's JEPA with another target, mask or a variance floor, its online probe (state of unseen subjects) every
``--curve`` steps, appended to benchmarks/results/jepa-variants-cpu.json.

    python benchmarks/jepa_variants.py NAME '{"steps": 300, "curve": 50, "target": "mean-of-blocks", "var": 1.0}'

Keys: steps (100), batch (128), lr (1e-3), curve (0: probe at the end only), target ("layer-norm": fmlab's, the last
block's tokens layer-normalised; "standardised": the last block before its norm, standardised per feature over
the batch; "mean-of-blocks": every block's tokens so standardised, averaged, standardised again; "raw": MAE's raw
patches), centre (subtract each token's mean over the batch first: the part every signal shares at that channel
and time, its position and channel embeddings, is no target), pool (predict each channel's mean latent over its
hidden span instead of every hidden token), var (weight of a VICReg variance floor on the context tokens), layers
(also probe every block's tokens, before and after training, and the EMA target encoder), objective ("jepa", or
"mae" for the shape of MAE's curve), seed (of the encoder and the run; the corpus is always seed 0), and any
argument of fmlab.pretrain.JEPA / MAE (mask_kind, mask_ratio, momentum, predictor_depth, ...). The small encoder on the cpu profile's eeg corpus (4,000 signals).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.append(sys.path.pop(0))  # this folder last: benchmarks/mnist1d.py must not hide the mnist1d package
from provenance import command, device_info  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from fmlab.evaluate import features, linear_probe, online_probe, probe_accuracy  # noqa: E402
from fmlab.masking import make_mask  # noqa: E402
from fmlab.models import Encoder  # noqa: E402
from fmlab.pretrain.jepa import JEPA, standardise  # noqa: E402
from fmlab.pretrain.mae import MAE, MaskedDecoder  # noqa: E402
from fmlab.pretrain.recipes import corpus, encoder_config  # noqa: E402
from fmlab.train import fit, seeded  # noqa: E402

RESULT = Path(__file__).parent / "results" / "jepa-variants-cpu.json"


class Variant(JEPA):
    """fmlab's JEPA with the variant's target and loss; the JEPA arguments not given are I-JEPA's (mask 0.5), as when
    these runs were made, not fmlab's defaults of today."""

    def __init__(self, encoder, target: str = "layer-norm", var: float = 0.0, centre: bool = False,
                 pool: bool = False, **kwargs):
        super().__init__(encoder, **{"mask_ratio": 0.5, **kwargs})
        self.target_kind, self.var, self.centre, self.pool_span = target, var, centre, pool
        if target == "raw":
            c = encoder.config
            self.predictor = MaskedDecoder(encoder, c.patch_size, kwargs.get("predictor_dim"),
                                           kwargs.get("predictor_depth", 2))

    @torch.no_grad()
    def targets(self, x: torch.Tensor) -> torch.Tensor:
        t = self.latents(x)
        if self.centre:  # what every signal's token at this channel and time shares (its embeddings) is no target
            t = standardise(t - t.mean(0, keepdim=True))
        return t

    @torch.no_grad()
    def latents(self, x: torch.Tensor) -> torch.Tensor:
        if self.target_kind == "raw":
            return self.target_encoder.patches(x)
        if self.target_kind in ("layer-norm", "mean-of-blocks"):  # fmlab's target="last" and target="blocks"
            self.target = "last" if self.target_kind == "layer-norm" else "blocks"
            return super().targets(x)
        outs = []  # "standardised": the last block's tokens before the final norm
        hook = self.target_encoder.blocks[-1].register_forward_hook(lambda m, i, o: outs.append(o))
        self.target_encoder(x)
        hook.remove()
        return standardise(standardise(outs[0][:, 1:].float()))

    def forward(self, x: torch.Tensor) -> dict:
        x = self.encoder.fold(x)
        ch, p = x.shape[1], self.encoder.num_patches(x.shape[-1])
        keep, masked = make_mask(self.mask_kind, len(x), ch, p, self.mask_ratio, device=x.device)
        ctx = self.encoder(x, keep=keep)
        pred = self.predictor(ctx, keep, ch, p)
        target = self.targets(x)
        if self.pool_span:  # one target per channel: its hidden tokens' mean (a rhythm's phase averages out)
            m = masked.reshape(len(x), ch, p, 1).float()
            span = lambda t: (t.reshape(len(x), ch, p, -1) * m).sum(2) / m.sum(2).clamp(min=1)  # noqa: E731
            loss = F.smooth_l1_loss(span(pred.float()), span(target))
        else:
            loss = F.smooth_l1_loss(pred.float()[masked], target[masked])
        if self.var:  # VICReg's variance floor: every feature of the context tokens keeps a std of at least 1
            loss = loss + self.var * F.relu(1 - ctx[:, 1:].float().reshape(-1, ctx.shape[-1]).std(0)).mean()
        return {"loss": loss}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(__doc__)
    name, cfg = argv[0], json.loads(argv[1])
    steps, batch, lr, curve = cfg.pop("steps", 100), cfg.pop("batch", 128), cfg.pop("lr", 1e-3), cfg.pop("curve", 0)
    objective, layers, seed = cfg.pop("objective", "jepa"), cfg.pop("layers", False), cfg.pop("seed", 0)
    c = corpus("eeg", n=4000, seed=0)
    with seeded(seed):
        encoder = Encoder(encoder_config("small", c.unlabelled))
        obj = Variant(encoder, **cfg) if objective == "jepa" else MAE(encoder, **cfg)
    by_depth = lambda enc: {d: round(probe_accuracy(features(enc, c.probe_train, depth=d), c.probe_train.y,
                                                    features(enc, c.probe_test, depth=d), c.probe_test.y), 4)
                            for d in range(1, enc.config.depth + 1)}
    before = by_depth(encoder) if layers else None
    t0 = time.perf_counter()
    hist = fit(obj, c.unlabelled, steps=steps, batch_size=batch, lr=lr, seed=seed, progress=False,
               eval_every=curve or steps, evaluate=online_probe(encoder, c.probe_train, c.probe_test) if curve else None)
    row = {"name": name, "objective": objective, "seed": seed, "steps": steps, "batch": batch, "lr": lr, "args": cfg,
           "probe": round(linear_probe(encoder, c.probe_train, c.probe_test), 4),
           "curve": hist.metrics.get("probe_acc") if curve else None, "seconds": round(time.perf_counter() - t0, 1),
           **({"layers": by_depth(encoder), "layers_random_init": before,
               "target_probe": round(linear_probe(obj.target_encoder, c.probe_train, c.probe_test), 4)}
              if layers and objective == "jepa" else {}),
           "device": device_info(), "command": command(__file__, argv)}
    doc = json.loads(RESULT.read_text()) if RESULT.exists() else {"benchmark": "jepa_variants", "runs": []}
    doc["runs"].append(row)
    RESULT.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
