"""Make the reference encoders the kit ships (fmlab/references/*.safetensors, fmlab.hub.reference(name)).

    python benchmarks/references.py make --objective contrastive --steps 2500 --batch-size 256   # pretrain, publish
    python benchmarks/references.py publish RUN_DIR --name contrastive-small --command "..."   # publish a finished run
    python benchmarks/references.py time              # how long fmlab.hub.reference(name) takes (median of 7)

A reference is the kit's own pretraining run on the pile (`fmlab pretrain --data pile`, datasets/pile.md): the
shape-agnostic encoder (fmlab.pretrain.recipes.foundation_config), one objective, the size's preset. Publishing
writes its weights in half precision with what made it in the metadata: the exact command, steps, batch, wall
time, corpus and its sources, final loss and the online eeg probe, versions; for MAE and masked spectrum also the
decoder (fmlab/references/decoders/, fmlab.pretrain.reference_objective(name)). `make` runs the command (it resumes
an interrupted run from its checkpoint) and publishes it; run it with OMP_NUM_THREADS=1 beside other jobs.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fmlab import hub
from fmlab.data.pile import PILE_SIZES, pile_sources
from fmlab.train import History


def publish(run: Path, name: str, command: str, threads: int | None = None, note: str = "") -> Path:
    """Write the finished run in ``run`` (encoder.safetensors + history.json) as reference ``name``."""
    if not (run / "history.json").exists():
        raise ValueError(f"publish: {run} holds no finished run (no history.json); finish it first "
                         f"(the same fmlab pretrain command resumes it)")
    encoder = hub.load(run / "encoder.safetensors")
    _, settings = hub.read_config(run / "encoder.safetensors")
    hist = History.from_dict(json.loads((run / "history.json").read_text()))
    pile = settings.get("pile", "cpu")  # the cpu profile's pile unless the run chose one (--pile)
    info = dict(objective=settings["objective"], size=settings["size"], steps=settings["steps"],
                batch_size=settings["batch_size"], lr=settings["lr"], seed=settings["seed"],
                objective_args=settings.get("objective_args", {}),
                wall_time_s=round(hist.seconds, 1), final_loss=round(hist.final_loss(), 4),
                eeg_probe_acc=settings.get("probe_acc"), command=command,
                corpus={"name": f"pile-{pile}", "card": "datasets/pile.md", "series_per_source": PILE_SIZES[pile],
                        "sources": pile_sources(pile)},
                parameters=encoder.num_parameters(), torch=torch.__version__, threads=threads or torch.get_num_threads(),
                note=note,
                machine=f"{platform.machine()} {platform.processor()}".strip(), made=time.strftime("%Y-%m-%d"))
    path = hub.save_reference(encoder, name, **info)
    if settings["objective"] in ("mae", "spectrum"):  # the decoder too, so reconstructions can be shown
        state = load_file(str(run / "objective.safetensors"))
        decoder = {k.split("decoder.", 1)[1]: v.half() for k, v in state.items() if ".decoder." in f".{k}"}
        (hub.REFERENCES / "decoders").mkdir(exist_ok=True)
        with hub.atomic_path(hub.REFERENCES / "decoders" / f"{name}.safetensors") as tmp:
            save_file(decoder, tmp, metadata={"format": "fmlab.decoder/1", "objective": settings["objective"]})
    print(f"published {name}: {path} ({path.stat().st_size / 1e6:.1f} MB), {info['steps']} steps in "
          f"{info['wall_time_s'] / 60:.0f} min, final loss {info['final_loss']}")
    return path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    mk = sub.add_parser("make", help="pretrain one reference on the pile and publish it")
    mk.add_argument("--objective", required=True, choices=["mae", "spectrum", "contrastive", "jepa", "next-patch"])
    mk.add_argument("--size", default="small")
    mk.add_argument("--steps", type=int, required=True)
    mk.add_argument("--batch-size", type=int, default=256)
    mk.add_argument("--lengths", type=int, nargs="+", help="window lengths of pretraining (fmlab pretrain --lengths)")
    mk.add_argument("--stream", action="store_true",
                    help="draw the generated families anew every step (fmlab pretrain --stream)")
    mk.add_argument("--pile", help="the pile's size (fmlab pretrain --pile; default: the cpu profile's, cpu)")
    mk.add_argument("--patch-size", type=int, help="samples per token (fmlab pretrain --patch-size; default 8)")
    mk.add_argument("--name", help="the reference's name (default: OBJECTIVE-SIZE)")
    mk.add_argument("--runs", default="runs", help="where the run's folder goes (its checkpoint resumes from there)")
    pub = sub.add_parser("publish", help="publish a finished run folder")
    pub.add_argument("run")
    pub.add_argument("--name", required=True)
    pub.add_argument("--command", required=True, help="the command that made the run")
    pub.add_argument("--threads", type=int, help="torch threads the run used (default: this process's)")
    pub.add_argument("--note", default="", help="anything else about how it was made")
    sub.add_parser("time", help="time fmlab.hub.reference(name) for every committed reference")
    args = ap.parse_args(argv)
    if args.what == "time":
        for name in hub.references():
            seconds = []
            for _ in range(7):
                t0 = time.perf_counter()
                hub.reference(name)
                seconds.append(time.perf_counter() - t0)
            seconds.sort()
            print(f"fmlab.hub.reference({name!r}): median {1000 * seconds[3]:.0f} ms (min {1000 * seconds[0]:.0f}, "
                  f"max {1000 * seconds[-1]:.0f}); {(hub.REFERENCES / f'{name}.safetensors').stat().st_size / 1e6:.1f} MB")
        return
    if args.what == "publish":
        publish(Path(args.run), args.name, args.command, args.threads, args.note)
        return
    name = args.name or f"{args.objective}-{args.size}"
    run = Path(args.runs) / name
    cmd = ["fmlab", "pretrain", "--objective", args.objective, "--data", "pile", "--size", args.size,
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--out", str(run)]
    cmd += ["--lengths", *map(str, args.lengths)] if args.lengths else []
    cmd += ["--patch-size", str(args.patch_size)] if args.patch_size else []
    cmd += ["--pile", args.pile] if args.pile else []
    cmd += ["--stream"] if args.stream else []
    subprocess.run([sys.executable, "-m", *cmd], check=True)
    publish(run, name, shlex.join(cmd))


if __name__ == "__main__":
    main()
