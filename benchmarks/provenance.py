"""What made a benchmark's result: the command line, the device and the package versions, written beside the figures,
and the two options every script takes (--threads, --out).

    from provenance import command, device_info, parse, versions   # after the sys.path line the scripts share
    args = parse(ap, argv, "benchmarks/results/ucr-<profile>.json")   # ap: the script's own ArgumentParser

The scripts of benchmarks/ import this after moving their own folder to the end of sys.path (run as a script, the
folder leads it, where benchmarks/mnist1d.py would hide the mnist1d package).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch

from fmlab.profiles import device

PACKAGES = ("torch", "numpy", "scikit-learn", "aeon", "mnist1d")


def versions() -> dict:
    """{"python": version, package: version or None where it is not installed} for the packages in PACKAGES."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def device_info() -> str:
    """The device fmlab picks (fmlab.profiles.device), in words: the GPU's name, or how many CPU cores this
    process may use and the processor."""
    dev = device()
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name()})"
    return f"{dev.type}, {len(os.sched_getaffinity(0))} CPU cores, {platform.processor() or platform.machine()}"


def command(script: str, argv) -> str:
    """The command line that gave these results: ``script``'s file name under benchmarks/, then ``argv`` (a list of
    arguments, or None for the ones this process was started with)."""
    return " ".join(["python", f"benchmarks/{Path(script).name}", *(sys.argv[1:] if argv is None else argv)])


def parse(ap: argparse.ArgumentParser, argv, default_out: str) -> argparse.Namespace:
    """``ap``'s options and --threads / --out, parsed from ``argv`` (None: this process's); torch then uses
    --threads threads where it is given. ``default_out``: where the result goes without --out, for the help."""
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--out", help=f"result file (default: {default_out})")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args
