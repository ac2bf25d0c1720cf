"""Command line: ``fmlab report --profile smoke|cpu|gpu [--only NB] [--param k=v] [--out DIR]``."""
from __future__ import annotations

import argparse
import json
import sys


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fmlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="execute the notebooks with papermill into an HTML report")
    rep.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"])
    rep.add_argument("--only", action="append", help="a notebook name or prefix (repeatable), e.g. 00")
    rep.add_argument("--param", action="append", type=_param, default=[], help="key=value injected into notebooks")
    rep.add_argument("--out", help="report folder (default reports/<profile>-<timestamp>)")
    rep.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    rep.add_argument("--notebooks", help="folder of NN_name.ipynb notebooks (default: the course's)")
    args = parser.parse_args(argv)

    from .report import run_course
    out = run_course(args.profile, only=args.only, params=dict(args.param), out=args.out, timeout=args.timeout,
                     directory=args.notebooks)
    summary = json.loads((out / "summary.json").read_text())
    for r in summary["notebooks"]:
        extra = f"  {r.get('error', '')}" if r["status"] != "ok" else ""
        print(f"{r['notebook']:<24} {r['status']:<7} {r['seconds']:>7.1f} s{extra}")
    print(f"report: {out / 'index.html'}")
    return 1 if any(r["status"] != "ok" for r in summary["notebooks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
