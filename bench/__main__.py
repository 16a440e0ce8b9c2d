"""`python -m bench [kernels|accuracy|agreement|e2e|docs|all] [--quick]` (default: all).

all runs kernels, e2e, agreement, accuracy, then regenerates docs/benchmarks.md. A benchmark
that cannot run here (no trained model) says why and is skipped; one that finds a wrong result
(a kernel or a firmware that disagrees with the oracle) fails the command (exit 1).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import BenchError, BenchSkipped

COMMANDS = ("kernels", "accuracy", "agreement", "e2e", "docs", "all")
ALL_ORDER = ("kernels", "e2e", "agreement", "accuracy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", choices=COMMANDS, default="all")
    ap.add_argument("--quick", action="store_true",
                    help="small variants: accuracy on seed 0, M=8, short schedules; "
                         "agreement on 1000 images")
    ap.add_argument("--runs", nargs="+", metavar="PATTERN",
                    help="accuracy: only runs whose id matches (shell patterns, e.g. 'glt-m8-*')")
    ap.add_argument("--list-runs", action="store_true", help="accuracy: print the run ids and exit")
    ap.add_argument("--boards", nargs="+", metavar="BOARD", help="kernels: only these boards")
    ap.add_argument("--ir", type=Path, help="agreement: the model.ir.json to check "
                                            "(default: the trained default model)")
    ap.add_argument("--batch", type=int, default=500, help="agreement: vectors per firmware")
    ap.add_argument("--warm-only", action="store_true",
                    help="e2e: keep the earlier cold build and time only the warm deploy")
    return ap.parse_args(argv)


def run_one(name: str, args: argparse.Namespace) -> None:
    if name == "kernels":
        from . import kernels
        kernels.run_kernels(tuple(args.boards) if args.boards else kernels.BOARDS)
    elif name == "accuracy":
        from . import accuracy
        accuracy.run_accuracy(quick=args.quick, patterns=args.runs)
    elif name == "agreement":
        from . import agreement
        agreement.run_agreement(args.ir or agreement.default_ir(), quick=args.quick,
                                batch=args.batch)
    elif name == "e2e":
        from . import e2e
        e2e.run_e2e(cold=not args.warm_only)
    elif name == "docs":
        from . import docs
        print(f"[docs] wrote {docs.write_docs()}")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the deploy's LCE export needs Keras 2
    args = parse_args(argv)
    if args.list_runs:
        from . import accuracy
        for run in accuracy.plan_runs(args.quick):
            print(run.run_id)
        return 0
    names = ALL_ORDER if args.command == "all" else (args.command,)
    failed = []
    for name in names:
        try:
            run_one(name, args)
        except BenchSkipped as exc:
            print(f"[{name}] skipped: {exc}", flush=True)
        except BenchError as exc:
            print(f"[{name}] FAILED: {exc}", flush=True)
            failed.append(name)
    if args.command in ("all", "kernels", "accuracy", "agreement", "e2e"):
        from . import docs
        print(f"[docs] wrote {docs.write_docs()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
