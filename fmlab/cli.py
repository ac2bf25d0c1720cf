"""Command line:
``fmlab report --profile smoke|cpu|gpu [--only NB] [--param k=v] [--out DIR]``: the course as an HTML report;
``fmlab explore [--port N] [--profile P] [--template T]``: the explorer notebook (07) as a Voila page on 127.0.0.1;
``fmlab pretrain --objective mae --data eeg --size medium [--steps N] [--out DIR]``: one pretraining run
(under ``torchrun --nproc_per_node=N`` it trains on N processes with DistributedDataParallel);
``fmlab labs build --out DIR [--force]``: the student versions of the notebooks.
An error prints one line saying what went wrong and how to fix it; ``--debug`` prints the traceback too."""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from .profiles import PROFILES, QUIET_ENV, get_profile

EXPLORER = "07_explorer.ipynb"
DEFAULT_PORT = 8866  # Voila's own default
TEMPLATES = Path(__file__).resolve().parent / "share"  # share/voila/templates/fmlab: Voila's lab, no CDN request


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _whole(text: str) -> int:
    """argparse type: a whole number >= 1 (so --steps 0 cannot quietly mean "the profile's default")."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}; leave the option out for "
                                         f"the profile's default")
    return value


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def explore_command(port: int, profile: str, template: str = "fmlab") -> tuple[list[str], dict]:
    """The Voila command line that serves the explorer notebook on 127.0.0.1:``port`` (only there: nothing
    outside this machine reaches it), and its environment: FMLAB_PROFILE picks the size, as the notebook has
    no parameters under Voila. ``template``: fmlab (shipped in fmlab/share, on JUPYTER_PATH here) is Voila's lab
    template without its stylesheets from a CDN, so the page needs no internet; or any Voila template by name."""
    from .course import REPO
    argv = [sys.executable, "-m", "voila", str(REPO / "notebooks" / EXPLORER), "--no-browser",
            "--Voila.ip=127.0.0.1", f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True",
            f"--template={template}"]
    env = {**os.environ, "FMLAB_PROFILE": profile, QUIET_ENV: "1",   # a page for students: no narration
           "JUPYTER_PATH": os.pathsep.join(filter(None, [str(TEMPLATES), os.environ.get("JUPYTER_PATH")]))}
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "fmlab" / "numba"))  # UMAP's compiled code
    return argv, env


def explore(port: int | None, profile: str | None, template: str = "fmlab") -> int:
    """Print the address, then become the Voila server (Ctrl-C stops it)."""
    profile = get_profile(profile).name
    if port is None:
        port = next(p for p in range(DEFAULT_PORT, DEFAULT_PORT + 100) if port_is_free(p))
    elif not port_is_free(port):
        print(f"fmlab explore: port {port} on 127.0.0.1 is in use; pick another with --port, or leave --port out "
              f"to take the first free one from {DEFAULT_PORT}", file=sys.stderr)
        return 2
    argv, env = explore_command(port, profile, template)
    print(f"fmlab explore: http://127.0.0.1:{port}/ serves notebooks/{EXPLORER} ({profile} profile). Opening it "
          f"runs the notebook, so the page takes a while (longer if the models must be trained first); "
          f"Ctrl-C stops the server.", flush=True)
    os.execve(argv[0], argv, env)
    return 0  # not reached: the process is Voila now


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on an error, print the full traceback")
    parser = argparse.ArgumentParser(prog="fmlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", parents=[common], help="execute the notebooks with papermill into an HTML report")
    rep.add_argument("--profile", default="cpu", choices=list(PROFILES))
    rep.add_argument("--only", action="append", help="a notebook name or prefix (repeatable), e.g. 00")
    rep.add_argument("--param", action="append", type=_param, default=[], help="key=value injected into notebooks")
    rep.add_argument("--out", help="report folder (default reports/<profile>-<timestamp>)")
    rep.add_argument("--timeout", type=_whole, default=1800, help="seconds allowed per cell")
    rep.add_argument("--notebooks", help="folder of NN_name.ipynb notebooks (default: the course's)")
    exp = sub.add_parser("explore", parents=[common],
                         help="serve the explorer notebook (07) as a Voila page on 127.0.0.1")
    exp.add_argument("--port", type=int, help=f"port (default: the first free one from {DEFAULT_PORT})")
    exp.add_argument("--profile", choices=list(PROFILES),
                     help="model size (default: FMLAB_PROFILE, else cpu)")
    exp.add_argument("--template", default="fmlab",
                     help="Voila template (default fmlab: Voila's lab template with nothing fetched from a CDN)")
    pre = sub.add_parser("pretrain", parents=[common], help="pretrain one encoder (torchrun: several processes, DDP)")
    pre.add_argument("--objective", default="mae", help="mae | spectrum | contrastive | jepa | next-patch")
    pre.add_argument("--data", default="eeg", help="eeg | mnist1d | ucr:NAME | pile (the broad corpus of datasets/pile.md)")
    pre.add_argument("--profile", choices=list(PROFILES), help="default: FMLAB_PROFILE, else cpu")
    pre.add_argument("--size", help="encoder preset: tiny | small | medium | base (default: the profile's)")
    pre.add_argument("--steps", type=_whole, help="optimisation steps (default: the profile's)")
    pre.add_argument("--batch-size", type=_whole, help="samples per step on each process (default: the profile's)")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--patch-size", type=_whole, help="--data pile: samples per token of the shape-agnostic encoder "
                     "(default 8; 4 gives short series twice the tokens, at about twice the compute)")
    pre.add_argument("--pile", help="--data pile: the pile's size, smoke | cpu | wide (datasets/pile.md; default: "
                     "the profile's)")
    pre.add_argument("--stream", action="store_true", help="--data pile: draw the generated families anew every "
                     "step (fmlab.pretrain.stream.FreshSeries) instead of cycling the pile's fixed draws")
    pre.add_argument("--lengths", type=_whole, nargs="+",
                     help="--data pile: the window lengths to pretrain on, drawn equally often "
                          "(default: 32 64 128 256 512, weighted to the middle)")
    pre.add_argument("--compile", action="store_true", help="torch.compile the model (saved keys stay clean)")
    pre.add_argument("--out", help="folder for the run (default: the cache entry notebooks load from)")
    labs = sub.add_parser("labs", help="course-lab mode: the student versions of the notebooks")
    labs_sub = labs.add_subparsers(dest="labs_command", required=True)
    build = labs_sub.add_parser("build", parents=[common],
                                help="write the student notebooks (solutions replaced by exercises)")
    build.add_argument("--out", required=True, help="folder to write the student notebooks into")
    build.add_argument("--notebooks", help="folder of the instructor notebooks (default: the course's)")
    build.add_argument("--force", action="store_true",
                       help="overwrite student notebooks in --out that differ from the build (their edits are lost)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except Exception as e:  # noqa: BLE001 - one clear line for the person at the terminal; --debug for the rest
        if args.debug:
            raise
        print(f"fmlab {args.command}: {e if isinstance(e, ValueError) else f'{type(e).__name__}: {e}'}\n"
              f"(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """Do what the parsed command line ``args`` asks; returns the exit status."""
    if args.command == "explore":
        return explore(args.port, args.profile, args.template)
    if args.command == "pretrain":
        from .pretrain.run import main as pretrain_main
        return pretrain_main(args)
    if args.command == "labs":
        from .course.labs import main as labs_main
        return labs_main(args)

    from .course import run_course
    from .course.results import summary_table
    out = run_course(args.profile, only=args.only, params=dict(args.param), out=args.out, timeout=args.timeout,
                     directory=args.notebooks)
    summary = json.loads((out / "summary.json").read_text())
    print(summary_table(summary["notebooks"]))
    print(f"report: {out / 'index.html'}")
    return 1 if any(r["status"] != "ok" for r in summary["notebooks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
