"""The GPU check (issue 22): one command that proves the gpu profile on a CUDA machine and measures it.

    python benchmarks/gpu_check.py               # on a CUDA machine: reports/gpu-check-<time>/ within --budget-s
    python benchmarks/gpu_check.py --dry-run     # the same code path on the CPU at smoke sizes, in under a minute
    make gpu-wheels                               # where PyPI is reachable: the notebook tier's wheels into wheels/
    make gpu-check                                # on the GPU machine: unpacks wheels/ (offline), then runs this

The core tier needs only what the GPU image holds (torch, numpy, scipy, scikit-learn, pandas, matplotlib,
safetensors, tqdm). Its parts, in order of worth:
  device     the device, torch / CUDA versions, the bf16 peak MFU is taken against and what a bf16 matmul reaches;
             one bf16-autocast training step of every objective; the encoder's attention on the flash kernel
  sweep      benchmarks/throughput.py's measure() for MAE at each size over the batches eager, then compiled at
             the largest batch (where MFU is decided) and the smallest (where launches bound the step); the other
             sizes compiled and the other objectives last, time permitting
  pretrain   one MAE of the first size pretrained for --pretrain-s of steps with the profile's recipe, and its
             linear probe against the cpu profile's small MAE and the committed mae-small reference, all on the
             same eeg split (the profile's corpus: unseen subjects in the test side)
  notebooks  the notebook tier, when papermill, nbconvert and ipykernel import: every notebook in the gpu profile
             through fmlab's course runner, each pretraining run cut to --quick steps
A part runs only while the time it is expected to take fits what is left of --budget-s, and a timer stops
whatever runs when the budget is spent; summary.md says what was skipped. The folder --out gets at most three
files, each under 16 MB: summary.md, results.json (every number, and the traceback of each failure) and
report.tar.gz (the notebooks' reports). The exit status is 0 when the check ran and wrote them: what failed is
in summary.md. With more device time than one budget, run the parts in turn, e.g. ``--parts device sweep`` and
then ``--parts pretrain notebooks``.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import signal
import sys
import tarfile
import tempfile
import time
import traceback
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    # fmlab from this checkout (the GPU image does not have it installed), and benchmarks/ off the front of the
    # path: its mnist1d.py would hide the mnist1d package
    sys.path[0] = str(REPO)

import torch  # noqa: E402

from fmlab import hub  # noqa: E402
from fmlab.data import load  # noqa: E402
from fmlab.evaluate import features, linear_probe, probe_accuracy  # noqa: E402
from fmlab.models import PRESETS, Encoder  # noqa: E402
from fmlab.pretrain.recipes import OBJECTIVES, corpus, encoder_config, make_objective, pretrain, pretrained  # noqa: E402
from fmlab.profiles import PROFILES  # noqa: E402
from fmlab.profiles import device as pick_device  # noqa: E402
from fmlab.train import compute_loss  # noqa: E402


def _benchmark(name: str):
    """A sibling benchmark loaded from its file, without putting benchmarks/ on sys.path."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


throughput = _benchmark("throughput")

PARTS = ("device", "sweep", "pretrain", "notebooks")
FILE_LIMIT = 16 * 2**20   # bytes, each file of the folder
RESERVE_S = 20.0           # of the budget, kept for packing and writing the folder
NOTEBOOK_MODULES = ("papermill", "nbformat", "nbconvert", "ipykernel")
# seconds a step of each kind is expected to take before one has run; later ones expect what the last one took
FIRST_GUESS = {"check": 10, "eager": 20, "compiled": 120, "probe": 20, "baseline": 60, "notebook": 20}


@dataclass
class Plan:
    """What one check runs: on the GPU, or its dry run on the CPU at smoke sizes."""
    dry_run: bool
    device: torch.device
    profile: str            # the sweep's first batch, the pretraining recipe, the notebooks' profile
    baseline: str           # the profile of the small MAE that the pretrained one is probed against
    sizes: list[str]        # MAE sizes of the sweep; the first is pretrained and sweeps the other objectives
    batches: list[int]
    compile: bool | str     # fit(compile=...): inductor on a GPU; dynamo's eager backend in the dry run (seconds)
    warmup: int
    steps: int
    pretrain_s: float
    quick: int
    reference: str | None
    others: list[str]       # objectives swept last
    notebooks: list[str] | None  # by name or prefix; None: the whole course (the dry run: a wiring notebook)
    parts: list[str]
    budget_s: float
    out: Path
    peak: float | None      # dense bf16 TFLOP/s that MFU is taken against


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="on the CPU at smoke sizes: the code path, not the numbers")
    ap.add_argument("--budget-s", type=float, default=450.0, help="stop before this many seconds (default 450)")
    ap.add_argument("--out", help="a new or empty folder (default reports/gpu-check[-dry]-<time>)")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--sizes", nargs="+", help="MAE sizes to sweep (default medium base; dry run tiny)")
    ap.add_argument("--batches", nargs="+", type=int,
                    help="default: the profile's, 1024, 4096, 8192 (dry run: the profile's)")
    ap.add_argument("--pretrain-s", type=float, help="seconds of pretraining steps (default 90; dry run 1)")
    ap.add_argument("--quick", type=int, help="steps of a notebook's pretraining run (default 300; dry run 10)")
    ap.add_argument("--notebooks", nargs="+", help="course notebooks by name or prefix (default: all)")
    ap.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, where throughput.py knows none")
    return ap.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    """The plan of a run from its arguments; a ValueError for what cannot run."""
    dev = torch.device("cpu") if args.dry_run else pick_device()
    if dev.type != "cuda" and not args.dry_run:
        raise ValueError(f"gpu_check: expected a CUDA device, found {dev.type}; run it on the GPU machine, or add "
                         f"--dry-run to check its code path on the CPU")
    if args.budget_s < RESERVE_S + 10:
        raise ValueError(f"gpu_check: expected --budget-s of at least {RESERVE_S + 10:.0f} ({RESERVE_S:.0f} of it are "
                         f"kept to write the results), got {args.budget_s:g}; e.g. --budget-s 450")
    for name in ("pretrain_s", "quick"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"gpu_check: expected --{name.replace('_', '-')} > 0, got {value:g}; leave it out for "
                             f"the default")
    unknown = [s for s in args.sizes or [] if s not in PRESETS]
    if unknown:
        raise ValueError(f"gpu_check: unknown --sizes {unknown}; choose from {', '.join(PRESETS)}")
    if any(b < 1 for b in args.batches or []):
        raise ValueError(f"gpu_check: expected --batches of positive whole numbers, got {args.batches}; e.g. 256 1024")
    if args.notebooks:
        from fmlab.course import notebooks
        notebooks(only=args.notebooks)  # a name that matches none fails now, not after the sweep
    profile = "smoke" if args.dry_run else "gpu"
    out = Path(args.out or REPO / "reports" / f"gpu-check{'-dry' if args.dry_run else ''}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        held = f"holds {len(list(out.iterdir()))} entries" if out.is_dir() else "is a file"
        raise ValueError(f"gpu_check: expected a new or empty folder for --out, {out} {held}; pass another --out")
    name = throughput.device_name(dev)
    return Plan(
        dry_run=args.dry_run, device=dev, profile=profile, baseline="smoke" if args.dry_run else "cpu",
        sizes=args.sizes or (["tiny"] if args.dry_run else ["medium", "base"]),
        batches=args.batches or [PROFILES[profile].batch_size] + ([] if args.dry_run else [1024, 4096, 8192]),
        compile="eager" if args.dry_run else True, warmup=1 if args.dry_run else 10, steps=2 if args.dry_run else 20,
        pretrain_s=args.pretrain_s or (1.0 if args.dry_run else 90.0), quick=args.quick or (10 if args.dry_run else 300),
        reference=None if args.dry_run else "mae-small",
        others=[] if args.dry_run else [o for o in OBJECTIVES if o != "mae"],
        notebooks=args.notebooks, parts=args.parts, budget_s=args.budget_s, out=out,
        peak=args.peak_tflops or (throughput.peak_tflops(name) if dev.type == "cuda" else None))


class OutOfTime(BaseException):
    """Raised by the timer when the budget is spent. A BaseException, so that the course runner's
    ``except Exception`` (a failing notebook must not stop the course) lets it through."""


def _out_of_time(signum, frame):
    raise OutOfTime


class Budget:
    """The seconds left of --budget-s, what each kind of step took last, and what was skipped or failed."""

    def __init__(self, seconds: float, reserve: float):
        self.start = time.monotonic()
        self.end = self.start + seconds - reserve
        self.taken: dict[str, float] = {}
        self.skipped: list[str] = []
        self.failures: list[dict] = []

    def left(self) -> float:
        return self.end - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def arm(self) -> None:
        """From now on, whatever runs when the budget is spent is stopped by OutOfTime (main thread only)."""
        signal.signal(signal.SIGALRM, _out_of_time)
        signal.setitimer(signal.ITIMER_REAL, max(self.left(), 0.01))

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)

    def attempt(self, what: str, kind: str, fn: Callable, guess: float | None = None):
        """``fn()`` if a step of this ``kind`` fits what is left, else None (and it is listed as skipped). A step
        that fails is listed with its traceback and gives None: the next step still runs."""
        need = self.taken.get(kind, FIRST_GUESS.get(kind, 0) if guess is None else guess)
        if need > self.left():
            self.skipped.append(f"{what}: needs ~{need:.0f} s, {max(0.0, self.left()):.0f} s left")
            return None
        print(f"[{self.elapsed():5.0f} s] {what}", flush=True)
        t0 = time.monotonic()
        try:
            return fn()
        except OutOfTime:
            self.skipped.append(f"{what}: stopped when the budget was spent")
            return None
        except Exception as e:  # noqa: BLE001 - one failing step must not lose the others' results
            self.fail(what, e)
            return None
        finally:
            self.taken[kind] = time.monotonic() - t0

    def fail(self, what: str, error: BaseException) -> None:
        line = f"{type(error).__name__}: {error}".splitlines()[0][:400]
        self.failures.append({"step": what, "error": line, "traceback": "".join(traceback.format_exception(error))})
        print(f"        FAILED {line}", flush=True)


def _how(compile: bool | str) -> str:
    return "eager" if compile is False else "compiled" if compile is True else f"compiled ({compile} backend)"


def _num(value, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


# --- device ---------------------------------------------------------------------------------------------------

def matmul_tflops(dev: torch.device) -> float:
    """What one square matmul reaches (bf16 8192 x 8192 on a GPU, float32 512 x 512 on a CPU), in TFLOP/s."""
    n, dtype, reps = (8192, torch.bfloat16, 20) if dev.type == "cuda" else (512, torch.float32, 5)
    a, b = (torch.randn(n, n, device=dev, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def bf16_step(objective: str, size: str, dev: torch.device) -> None:
    """One forward and backward of ``objective`` on 8 eeg signals [8, 19, 512] under bf16 autocast, as fit() runs
    a step on a GPU. On a CPU it is CPU autocast, which casts linear layers to bf16 as CUDA's does, so a dtype
    clash of the GPU path shows before a GPU is lent."""
    data = load("eeg", n=64, seed=0)
    torch.manual_seed(0)
    model = make_objective(objective, Encoder(encoder_config(size, data)), fs=data.fs).to(dev).train()
    with torch.autocast(dev.type, dtype=torch.bfloat16):
        loss, _ = compute_loss(model, data.x[:8].to(dev), data.y[:8].to(dev))
    loss.backward()


def flash_attention(size: str, dev: torch.device) -> None:
    """The encoder of ``size`` on eeg [4, 19, 512] with scaled_dot_product_attention held to the flash kernel under
    bf16 autocast: raises where SDPA would have to fall back to another kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    data = load("eeg", n=64, seed=0)
    encoder = Encoder(encoder_config(size, data)).to(dev).eval()
    with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION), torch.autocast(dev.type, dtype=torch.bfloat16):
        encoder(data.x[:4].to(dev))


def outcome(budget: Budget, what: str, check: Callable[[], None]) -> str:
    """The check's outcome: "ok", the error it raised, or "skipped"."""
    failed = len(budget.failures)
    done = budget.attempt(what, "check", lambda: check() or "ok")
    return done or (budget.failures[-1]["error"] if len(budget.failures) > failed else "skipped")


def device_part(plan: Plan, budget: Budget, results: dict) -> None:
    dev = plan.device
    info = {"device": throughput.device_name(dev), "type": dev.type, "torch": torch.__version__,
            "cuda": torch.version.cuda, "python": platform.python_version(), "peak_tflops": plan.peak}
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        info.update(devices=torch.cuda.device_count(), capability=f"{p.major}.{p.minor}", sms=p.multi_processor_count,
                    memory_gb=round(p.total_memory / 2**30, 1), cudnn=torch.backends.cudnn.version())
    results["device"] = info
    info["matmul_tflops"] = budget.attempt("matmul rate", "check", lambda: matmul_tflops(dev))
    info["bf16_step"] = {o: outcome(budget, f"bf16 step: {o}", lambda: bf16_step(o, plan.sizes[0], dev))
                         for o in OBJECTIVES}
    info["flash_attention"] = {s: outcome(budget, f"flash attention: {s}", lambda: flash_attention(s, dev))
                               for s in plan.sizes}
    peak = f"{plan.peak:g} TFLOP/s (dense bf16, data sheet)" if plan.peak else "none known (MFU left out)"
    print(f"        {info['device']}, torch {info['torch']}, CUDA {info['cuda']}; MFU against {peak}; "
          f"matmul {_num(info['matmul_tflops'], '.3g')} TFLOP/s", flush=True)


# --- throughput sweep -------------------------------------------------------------------------------------------

def sweep_groups(plan: Plan, late: bool) -> list[tuple[str, str, bool | str, list[int]]]:
    """(objective, size, compile, batches) in the order they run: early, eager MAE at every size and the first size
    compiled; late, the other sizes compiled and the other objectives eager. A compiled size runs the largest batch,
    then the smallest: each compilation takes a minute or more."""
    ends = sorted({min(plan.batches), max(plan.batches)}, reverse=True)
    if not late:
        return [("mae", s, False, plan.batches) for s in plan.sizes] + [("mae", plan.sizes[0], plan.compile, ends)]
    return ([("mae", s, plan.compile, ends) for s in plan.sizes[1:]]
            + [(o, plan.sizes[0], False, plan.batches) for o in plan.others])


def measure_row(plan: Plan, objective: str, size: str, batch: int, compile: bool | str) -> dict:
    """One row of benchmarks/throughput.py's measure(); a batch that does not fit in memory is a row too."""
    try:
        row = throughput.measure(objective, size, plan.profile, plan.device, batch, plan.warmup, plan.steps, compile,
                                 plan.peak)
    except torch.cuda.OutOfMemoryError:
        row = {"objective": objective, "size": size, "batch_size": batch, "error": "out of memory"}
    finally:
        if compile:
            torch._dynamo.reset()  # the compiled graphs hold the model, and so its memory
        gc.collect()
        if plan.device.type == "cuda":
            torch.cuda.empty_cache()
    return {**row, "compile": compile}


def sweep_part(plan: Plan, budget: Budget, results: dict, late: bool) -> None:
    rows = results.setdefault("throughput", [])
    for objective, size, compile, batches in sweep_groups(plan, late):
        too_big = None
        for batch in batches:
            what = f"throughput {objective} {size} batch {batch} {_how(compile)}"
            if too_big is not None and batch >= too_big:
                budget.skipped.append(f"{what}: batch {too_big} ran out of memory")
                continue
            row = budget.attempt(what, "compiled" if compile else "eager",
                                 lambda: measure_row(plan, objective, size, batch, compile))
            if row is None:
                continue
            rows.append(row)
            if row.get("error"):
                too_big = batch
                print(f"        {row['error']}", flush=True)
            else:
                mfu = f", MFU {row['mfu']:.1%}" if row["mfu"] is not None else ""
                print(f"        {1e3 * row['step_seconds']:.1f} ms a step, {row['samples_per_s']:,.0f} samples/s{mfu}",
                      flush=True)


# --- pretraining for a fixed wall clock ------------------------------------------------------------------------

def pretrain_part(plan: Plan, budget: Budget, results: dict, scratch: Path) -> None:
    """Steps for --pretrain-s at the sweep's eager step time (measured here if the sweep did not), then the run and
    the probes, each on the pretraining corpus's split: fit on up to 1000 signals, tested on unseen subjects."""
    size, batch, dev = plan.sizes[0], PROFILES[plan.profile].batch_size, plan.device
    row = next((r for r in results.get("throughput", []) if (r["objective"], r["size"], r["batch_size"], r["compile"])
                == ("mae", size, batch, False) and not r.get("error")), None)
    if row is None:
        row = budget.attempt(f"step time of the {size} MAE at batch {batch}", "eager",
                             lambda: measure_row(plan, "mae", size, batch, False))
    if row is None or row.get("error"):
        budget.skipped.append(f"pretraining the {size} MAE: its step time could not be measured")
        return
    steps = max(10, int(plan.pretrain_s / row["step_seconds"]))
    out = {"size": size, "batch_size": batch, "steps": steps, "target_seconds": plan.pretrain_s}
    results["pretrain"] = out

    def run() -> dict:
        t0 = time.perf_counter()
        obj, hist = pretrain("mae", data="eeg", profile=plan.profile, steps=steps, size=size, progress=False,
                             out=scratch / "mae", device=dev)
        return {"train_seconds": round(hist.seconds, 1), "wall_seconds": round(time.perf_counter() - t0, 1),
                "loss_first": hist.loss[0], "loss_last": hist.final_loss(), "params": obj.encoder.num_parameters(),
                "probe_curve": hist.metrics.get("probe_acc", []), "encoder": obj.encoder}

    done = budget.attempt(f"pretrain the {size} MAE for {plan.pretrain_s:g} s ({steps} steps of batch {batch})",
                          "pretrain", run, guess=1.3 * plan.pretrain_s + 20)
    if done is None:
        return
    encoder = done.pop("encoder")
    out.update(done)
    c = corpus("eeg", n=PROFILES[plan.profile].n, seed=0, device=dev if dev.type == "cuda" else None)
    out["split"] = {"n": PROFILES[plan.profile].n, "probe_train": len(c.probe_train), "probe_test": len(c.probe_test)}
    probes = out["probe_acc"] = {}
    probes[f"mae {size} ({plan.profile} profile, {steps} steps)"] = budget.attempt(
        f"probe the {size} MAE", "probe", lambda: linear_probe(encoder, c.probe_train, c.probe_test))
    small = f"mae {PROFILES[plan.baseline].size} ({plan.baseline} profile)"
    probes[small] = budget.attempt(f"pretrain (or load) and probe the {small}", "baseline", lambda: linear_probe(
        pretrained("mae", data="eeg", profile=plan.baseline, progress=False)[0].encoder, c.probe_train, c.probe_test))
    if plan.reference is None:
        budget.skipped.append("probe of the mae-small reference: not in the dry run (it reads 19 x 64 tokens a "
                              "signal, slow on a CPU)")
        return

    def reference() -> float:  # channel-independent: each channel's features side by side, as eeg_reference.py does
        enc = hub.reference(plan.reference, device=dev)
        f = [features(enc, d, per_channel=True) for d in (c.probe_train, c.probe_test)]
        return probe_accuracy(f[0], c.probe_train.y.cpu(), f[1], c.probe_test.y.cpu())

    probes[f"{plan.reference} reference (committed)"] = budget.attempt(f"probe the {plan.reference} reference",
                                                                       "probe", reference)


# --- the notebook tier -------------------------------------------------------------------------------------------

# An IPython startup file in the kernels' IPYTHONDIR: the notebooks read the profile's step budget from
# fmlab.profiles, so shortening it there runs them unchanged. The recorded value shows in each notebook's
# metrics that the budget reached its kernel.
QUICK_HOOK = """\
# written by benchmarks/gpu_check.py: every pretraining run of this course run takes {steps} steps, and notebook
# 10's scaling grid {steps} / 2 / 4 steps (its larger check run twice {steps}), its widths as the profile's
import dataclasses, fmlab.profiles, fmlab.report
fmlab.profiles.PROFILES[{profile!r}] = dataclasses.replace(
    fmlab.profiles.PROFILES[{profile!r}], steps={steps}, scaling_steps=({steps} // 4, {steps} // 2, {steps}),
    scaling_check=(fmlab.profiles.PROFILES[{profile!r}].scaling_check[0], 2 * {steps}))
fmlab.report.record("quick_steps", {steps})
"""
# The dry run's course: one notebook that records what its kernel sees (the runner, the hook and the packing
# run as they do on the GPU, in seconds).
WIRING = {"nbformat": 4, "nbformat_minor": 4,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None,
                     "outputs": [], "source": 'profile = "cpu"\n'},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": "import fmlab\n"
                               "fmlab.report.record('steps', fmlab.profiles.get_profile(profile).steps)\n"
                               "fmlab.report.record('device', str(fmlab.profiles.device()))\n"}]}


def kernel_environment(plan: Plan, scratch: Path) -> dict[str, str]:
    """What the kernels need beyond ours: the quick hook (IPYTHONDIR), and fmlab from this checkout."""
    startup = scratch / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-fmlab-quick.py").write_text(QUICK_HOOK.format(profile=plan.profile, steps=plan.quick))
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {"IPYTHONDIR": str(scratch / "ipython"), "PYTHONPATH": path}


def importable(module: str) -> bool:
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def notebooks_part(plan: Plan, budget: Budget, results: dict, scratch: Path) -> Path | None:
    """Each notebook through run_course into its own report folder under scratch/reports (so a budget spent
    mid-course keeps the reports of those that ran); returns that folder."""
    missing = [m for m in NOTEBOOK_MODULES if not importable(m)]
    if missing:
        budget.skipped.append(f"notebook tier: {', '.join(missing)} not importable (make gpu-wheels where PyPI is "
                              f"reachable, carry wheels/ along: make gpu-check unpacks them)")
        return None
    from fmlab.course import notebooks, run_course
    directory = REPO / "notebooks"
    if plan.dry_run and plan.notebooks is None:
        directory = scratch / "course"
        directory.mkdir()
        (directory / "00_wiring.ipynb").write_text(json.dumps(WIRING))
    reports, ran = scratch / "reports", results.setdefault("notebooks", [])
    saved = {k: os.environ.get(k) for k in ("IPYTHONDIR", "PYTHONPATH")}
    os.environ.update(kernel_environment(plan, scratch))  # the kernels inherit our environment
    try:
        for nb in notebooks(directory, only=plan.notebooks):
            def run(nb=nb) -> dict:
                folder = run_course(plan.profile, only=[nb.stem], out=reports / nb.stem, progress=False,
                                    timeout=max(10, int(budget.left())), directory=directory)
                return json.loads((folder / "summary.json").read_text())["notebooks"][0]

            r = budget.attempt(f"notebook {nb.stem} ({plan.profile} profile, {plan.quick} steps a run)", "notebook", run)
            if r is None:
                continue
            ran.append(r)
            print(f"        {r['status']} in {r['seconds']:.0f} s", flush=True)
            if r["status"] != "ok":
                budget.failures.append({"step": f"notebook {nb.stem}", "error": r.get("error", ""),
                                        "traceback": r.get("traceback", ""), "cell": r.get("cell")})
            elif r["metrics"].get("quick_steps") != plan.quick:
                budget.failures.append({"step": f"notebook {nb.stem}", "error": "the --quick step budget did not "
                                        "reach its kernel (no quick_steps in its metrics)", "traceback": ""})
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return reports if reports.exists() else None


def pack(folder: Path, archive: Path, limit: int = FILE_LIMIT) -> list[str]:
    """``folder`` as a .tar.gz under ``limit`` bytes: the summaries and indexes first, then each notebook's HTML,
    then the executed notebooks, each while it still fits. Returns what was left out."""
    rank = {".json": 0, ".html": 1, ".ipynb": 2}
    files = sorted((p for p in folder.rglob("*") if p.is_file()),
                   key=lambda p: (0 if p.name == "index.html" else rank.get(p.suffix, 3), str(p)))
    kept, left_out, total = [], [], 0
    for p in files:
        size = len(zlib.compress(p.read_bytes(), 6)) + 1024  # gzip's deflate, plus the tar header
        if total + size > 0.95 * limit:
            left_out.append(str(p.relative_to(folder)))
            continue
        kept.append(p)
        total += size
    with tarfile.open(archive, "w:gz") as tar:
        for p in kept:
            tar.add(p, arcname=f"report/{p.relative_to(folder)}")
    return left_out


# --- the folder ------------------------------------------------------------------------------------------------

def summary_md(r: dict) -> str:
    """summary.md: what a person reads first."""
    d, plan = r.get("device", {}), r["plan"]
    title = "dry run (CPU, smoke sizes)" if plan["dry_run"] else d.get("device", plan["device"])
    lines = [f"# GPU check: {title}", "",
             f"`{r['command']}` on {r['date']}: {r['elapsed_s']:.0f} s of a {plan['budget_s']:.0f} s budget; "
             f"{len(r['failures'])} failed, {len(r['skipped'])} skipped.", ""]
    if d:
        peak = f"{d['peak_tflops']:g} TFLOP/s (dense bf16, data sheet)" if d["peak_tflops"] else "none known"
        lines += ["## Device", "", "| | |", "|---|---|",
                  *(f"| {k} | {d[k]} |" for k in ("device", "torch", "cuda", "cudnn", "python", "capability", "sms",
                                                  "memory_gb", "devices") if d.get(k) is not None),
                  f"| MFU against | {peak} |", f"| one matmul reaches | {_num(d.get('matmul_tflops'), '.3g')} TFLOP/s |",
                  *(f"| bf16 autocast step: {o} | {v} |" for o, v in d.get("bf16_step", {}).items()),
                  *(f"| flash attention: {s} | {v} |" for s, v in d.get("flash_attention", {}).items()), ""]
    rows = r.get("throughput", [])
    if rows:
        lines += [f"## Throughput (benchmarks/throughput.py, {plan['warmup']} warm-up + {plan['steps']} timed steps)", "",
                  "| objective | size | compile | batch | step ms | samples/s | tokens/s | TFLOP/s | MFU | peak MB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for x in rows:
            head = f"| {x['objective']} | {x['size']} | {_how(x['compile'])} | {x['batch_size']} |"
            if x.get("error"):
                lines.append(f"{head} {x['error']} | | | | | |")
                continue
            lines.append(f"{head} {1e3 * x['step_seconds']:.1f} | {x['samples_per_s']:,.0f} | {x['tokens_per_s']:,.0f} "
                         f"| {x['tflops']:.2f} | {_num(x['mfu'], '.1%')} | {_num(x.get('peak_memory_mb'), ',.0f')} |")
        lines.append("")
        for size in plan["sizes"]:
            best = max((x for x in rows if x["objective"] == "mae" and x["size"] == size and x.get("mfu")),
                       key=lambda x: x["mfu"], default=None)
            if best:
                lines += [f"- best MFU of the {size} MAE: {best['mfu']:.1%} at batch {best['batch_size']} "
                          f"({_how(best['compile'])}); the target is 40 %", ""]
    p = r.get("pretrain")
    if p:
        lines += [f"## The {p['size']} MAE pretrained for a fixed wall clock", "",
                  f"{p['steps']} steps of batch {p['batch_size']} (for {p['target_seconds']:g} s at the sweep's step "
                  f"time): {_num(p.get('train_seconds'), '.0f')} s training, {_num(p.get('wall_seconds'), '.0f')} s "
                  f"in all; loss {_num(p.get('loss_first'))} -> {_num(p.get('loss_last'))}.", ""]
        if p.get("split"):
            s = p["split"]
            lines += [f"Linear probe on one eeg split (n = {s['n']}, seed 0: fit on {s['probe_train']} signals, "
                      f"tested on {s['probe_test']} of unseen subjects; chance 0.25):", "", "| encoder | probe accuracy |",
                      "|---|---|", *(f"| {k} | {_num(v)} |" for k, v in p["probe_acc"].items()), ""]
    nbs = r.get("notebooks", [])
    if nbs:
        lines += [f"## Notebooks ({plan['profile']} profile, {plan['quick']} steps a pretraining run)", "",
                  "| notebook | status | seconds | metrics |", "|---|---|---|---|"]
        for n in nbs:
            m = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in n["metrics"].items() if isinstance(v, (int, float, str)))
            status = n["status"] if n["status"] == "ok" else f"**{n['status']}** (cell {n.get('cell', '?')})"
            lines.append(f"| {n['notebook']} | {status} | {n['seconds']:.0f} | {m[:400]} |")
        lines.append("")
        if r.get("left_out_of_archive"):
            lines += [f"Left out of report.tar.gz (16 MB): {', '.join(r['left_out_of_archive'])}", ""]
    for name, items in (("Failed", [f"{f['step']}: {f['error']}" for f in r["failures"]]), ("Skipped", r["skipped"])):
        if items:
            lines += [f"## {name}", "", *(f"- {i}" for i in items), ""]
    return "\n".join(lines)


def write_folder(plan: Plan, results: dict, reports: Path | None) -> None:
    """report.tar.gz (packed under the limit), results.json and summary.md in --out."""
    plan.out.mkdir(parents=True, exist_ok=True)
    if reports is not None:
        results["left_out_of_archive"] = pack(reports, plan.out / "report.tar.gz")
    (plan.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (plan.out / "summary.md").write_text(summary_md(results))


def main(argv: list[str] | None = None) -> int:
    plan = make_plan(parse_args(argv))
    if plan.dry_run:
        os.environ["FMLAB_DEVICE"] = "cpu"  # fmlab's own choices (the baseline, the kernels) stay on the CPU too
    budget = Budget(plan.budget_s, RESERVE_S)
    results = {"command": " ".join(["python benchmarks/gpu_check.py", *(sys.argv[1:] if argv is None else argv)]),
               "date": time.strftime("%Y-%m-%d %H:%M"),
               "plan": {**asdict(plan), "device": str(plan.device), "out": str(plan.out)}}
    reports = None
    with tempfile.TemporaryDirectory(prefix="fmlab-gpu-check-") as tmp:
        scratch = Path(tmp)
        parts = [("device", lambda: device_part(plan, budget, results)),
                 ("sweep", lambda: sweep_part(plan, budget, results, late=False)),
                 ("pretrain", lambda: pretrain_part(plan, budget, results, scratch)),
                 ("notebooks", lambda: notebooks_part(plan, budget, results, scratch)),
                 ("sweep", lambda: sweep_part(plan, budget, results, late=True))]
        budget.arm()
        try:
            for part, run in (p for p in parts if p[0] in plan.parts):
                try:
                    reports = run() or reports  # only the notebook tier returns something: its reports' folder
                except OutOfTime:
                    budget.skipped.append(f"the rest of the {part} part: stopped when the budget was spent")
                except Exception as e:  # noqa: BLE001 - a part failed outside its steps; the next one still runs
                    budget.fail(f"the {part} part", e)
        finally:
            budget.disarm()
        results.update(elapsed_s=round(budget.elapsed(), 1), failures=budget.failures, skipped=budget.skipped)
        write_folder(plan, results, reports)
    print("\n" + (plan.out / "summary.md").read_text())
    print(f"wrote {plan.out} ({', '.join(sorted(p.name for p in plan.out.iterdir()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
