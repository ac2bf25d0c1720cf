"""``fmlab pretrain``: the notebooks' pretraining from the command line, on one process or, under torchrun, many.

    fmlab pretrain --objective mae --data eeg --size medium --profile gpu --out runs/mae-medium
    torchrun --nproc_per_node=4 -m fmlab pretrain --objective mae --size medium --profile gpu --out runs/mae-4
    fmlab.hub.load("runs/mae-medium/encoder.safetensors")          # the encoder, in a notebook

Without --out the run lands in the cache entry that ``pretrained()`` in a notebook loads (same arguments, one
process). Interrupt it (Ctrl-C) and run the same command again: it resumes from run.pt in that folder.
"""
from __future__ import annotations

import argparse
import signal
import time

from .. import distributed
from .recipes import entry, pretrain_from, run_settings


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # fit() then saves the step it reached, as on Ctrl-C


def main(args: argparse.Namespace) -> int:
    # torchrun (and a cluster's scheduler) stop workers with SIGTERM: save the run as Ctrl-C would
    signal.signal(signal.SIGTERM, _interrupt)
    dev = distributed.init()
    main_process = distributed.is_main()
    extra = {} if args.lengths is None else {"lengths": list(args.lengths)}
    extra.update({"stream": True} if getattr(args, "stream", False) else {})  # only when set: old cache keys stay
    settings = run_settings(args.objective, args.data, args.profile, args.seed, args.steps, args.size,
                            args.batch_size, getattr(args, "patch_size", None), getattr(args, "pile", None), **extra)
    folder = args.out or entry(settings)
    t0 = time.perf_counter()
    try:
        _, hist = pretrain_from(settings, out=args.out, compile=args.compile, device=dev)
        world = distributed.world_size()
    except KeyboardInterrupt:  # fit() saved the run (rank 0); a traceback from every process would bury that
        if main_process:
            print(f"fmlab pretrain: interrupted; run the same command again to resume from {folder}/run.pt")
        return 130
    finally:
        distributed.close()
    if main_process:  # hist covers the whole run, resumed parts included
        samples = len(hist.loss) * settings["batch_size"] * world
        print(f"fmlab pretrain: {args.objective} on {args.data}, {settings['size']} encoder, {len(hist.loss)} steps on "
              f"{world} process{'es' if world > 1 else ''}: {hist.seconds:.0f} s of training "
              f"({samples / max(hist.seconds, 1e-9):,.0f} samples/s; this call {time.perf_counter() - t0:.0f} s). "
              f"Final loss {hist.final_loss():.4f}, online probe accuracy {hist.last('probe_acc'):.3f}.\n"
              f"encoder: {folder}/encoder.safetensors  (fmlab.hub.load)")
    return 0
