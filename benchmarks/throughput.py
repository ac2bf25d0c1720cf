"""Training throughput of each objective at each encoder size: samples/s, tokens/s, FLOP/s and MFU.

    python benchmarks/throughput.py --profile cpu                 # tiny and small, the cpu profile's batches
    python benchmarks/throughput.py --profile gpu --compile       # small, medium, base on a GPU, torch.compile
    python benchmarks/throughput.py --profile gpu --sizes medium --objectives mae --batch-size 256 1024 4096
    torchrun is not needed: this measures one process (several GPUs scale it by about their number).

Each run is fmlab's own training loop (fit) on the synthetic eeg corpus generated on the training device: a
few warm-up steps (and compilation), then timed steps. FLOPs per step (forward and backward) are counted by
torch.utils.flop_counter on one step; MFU = achieved FLOP/s / the device's dense bf16 peak (known GPUs, or
--peak-tflops). Tokens are the signal's (channel, patch) tokens, masked ones included, as the data holds them.
Writes benchmarks/results/throughput-<profile>[-<gpu name>].json.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from fmlab.data import load
from fmlab.models import Encoder
from fmlab.pretrain.recipes import OBJECTIVES, encoder_config, make_objective, run_settings
from fmlab.profiles import PROFILES, get_profile
from fmlab.profiles import device as pick_device
from fmlab.train import compute_loss, fit

# dense bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets (the sparse figures are twice these)
PEAK_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H100 NVL": 835.0,
               "A100": 312.0, "L40S": 362.0, "L4": 121.0}


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{platform.processor() or 'cpu'} " \
        f"({torch.get_num_threads()} torch threads)"


def peak_tflops(name: str) -> float | None:
    """The dense bf16 peak of a known GPU (longest matching key first), else None."""
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key.lower() in name.lower():
            return PEAK_TFLOPS[key]
    return None


def flops_per_step(model, x: torch.Tensor, y: torch.Tensor) -> int:
    """Forward and backward FLOPs of one training step on the batch x [B, C, T]."""
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
        loss, _ = compute_loss(model, x, y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(objective: str, size: str, profile: str, dev: torch.device, batch_size: int | None, warmup: int,
            steps: int, compile: bool, peak: float | None) -> dict:
    s = run_settings(objective, "eeg", profile, batch_size=batch_size)
    b = s["batch_size"]
    data = load("eeg", n=max(4 * b, 256), seed=0, **({"device": dev} if dev.type == "cuda" else {}))
    torch.manual_seed(0)
    model = make_objective(objective, Encoder(encoder_config(size, data)), fs=data.fs).to(dev).train()
    flops = flops_per_step(model, data.x[:b].to(dev), data.y[:b].to(dev))
    run = dict(batch_size=b, lr=s["lr"], progress=False, device=dev, compile=compile)
    fit(model, data, steps=warmup, **run)  # kernels chosen, memory allocated, graphs compiled
    seconds = fit(model, data, steps=steps, **run).seconds
    cfg = model.encoder.config
    row = dict(objective=objective, size=size, params=model.encoder.num_parameters(), batch_size=b,
               tokens_per_sample=cfg.num_tokens, step_seconds=seconds / steps, samples_per_s=steps * b / seconds,
               tokens_per_s=steps * b * cfg.num_tokens / seconds, flops_per_step=flops,
               tflops=flops * steps / seconds / 1e12)
    row["mfu"] = row["tflops"] / peak if peak else None
    if dev.type == "cuda":
        row["peak_memory_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--sizes", nargs="+", help="encoder presets (default: the profile's throughput_sizes)")
    ap.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    ap.add_argument("--batch-size", type=int, nargs="+", default=[None],
                    help="per step, one or several to sweep (default: the profile's; contrastive halves it)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (CPU kernels warm up slowly)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--compile", action="store_true", help="torch.compile the training step")
    ap.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU on a device not in PEAK_TFLOPS")
    ap.add_argument("--out", help="result file (default benchmarks/results/throughput-<profile>-<device>.json)")
    args = ap.parse_args()
    dev = pick_device()
    name = device_name(dev)
    peak = args.peak_tflops or (peak_tflops(name) if dev.type == "cuda" else None)
    rows = []
    print(f"{'objective':<12} {'size':<7} {'params':>10} {'batch':>6} {'step ms':>9} {'samples/s':>10} "
          f"{'tokens/s':>11} {'TFLOP/s':>8} {'MFU':>6}")
    for size in args.sizes or get_profile(args.profile).throughput_sizes:
        for objective, batch_size in ((o, b) for o in args.objectives for b in args.batch_size):
            r = measure(objective, size, args.profile, dev, batch_size, args.warmup, args.steps, args.compile, peak)
            rows.append(r)
            mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
            print(f"{objective:<12} {size:<7} {r['params']:>10,} {r['batch_size']:>6} {1e3 * r['step_seconds']:>9.1f} "
                  f"{r['samples_per_s']:>10,.0f} {r['tokens_per_s']:>11,.0f} {r['tflops']:>8.3f} {mfu:>6}",
                  flush=True)
    gpu = "-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") if dev.type == "cuda" else ""
    out = Path(args.out or Path(__file__).parent / "results" / f"throughput-{args.profile}{gpu}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "command": "python " + " ".join(sys.argv), "device": name, "peak_tflops": peak, "profile": args.profile,
        "compile": args.compile, "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
