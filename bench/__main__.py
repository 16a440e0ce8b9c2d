"""`python -m bench [kernels|accuracy|agreement|e2e|docs|paper|peers|m55|flash|int8|all] [--quick]` (default: all).

all runs kernels, e2e, agreement, accuracy, then regenerates docs/benchmarks.md. `paper` (the
study of issue 15, about 2 hours on 2 cores; not part of all) runs its grid, or with --report
regenerates docs/paper.md from bench/results/paper.json. `m55` (not part of all; about 10
minutes on 2 cores) compares every layer of random IRs on Cortex-M55 and Cortex-M4
(bench/m55_vs_m4.py, bench/results/m55_vs_m4.json). `peers` (not part of all; about 12 CPU
minutes, cached under build/bench/peers/) trains float and int8 Keras CNNs at the zoo's weight
budgets, runs them in the TFLite Micro interpreter and writes bench/results/peers.json (needs the
[peers] extra: tflite-micro). `flash` (not part of all; about a minute per model and board)
deploys each zoo model and measures the bytes its firmware reads from flash per inference, run
again in Unicorn (bench/flash_reads.py, bench/results/flash_reads.json; needs the [bench]
extra: unicorn). `int8 --cmsis-nn PATH` (not part of all; a few minutes) measures each zoo
model's first layer against CMSIS-NN's int8 convolution of the same width on Cortex-M4 and M55
(bench/int8_first_layer.py; PATH is a CMSIS-NN checkout, which this project does not ship). A
benchmark
that cannot run here (no trained model) says why and is skipped; one that finds a wrong result
(a kernel or a firmware that disagrees with the oracle) fails the command (exit 1). A bad
argument or a problem the user can fix (a named PipelineError) is one line and exit 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import BenchError, BenchSkipped

COMMANDS = ("kernels", "accuracy", "agreement", "e2e", "docs", "paper", "peers", "m55", "flash",
            "int8", "all")
ALL_ORDER = ("kernels", "e2e", "agreement", "accuracy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", choices=COMMANDS, default="all")
    ap.add_argument("--quick", action="store_true",
                    help="small variants: accuracy on seed 0, M=8, short schedules; "
                         "agreement on 1000 images; paper: a tiny grid (minutes; not results); "
                         "peers: 1 epoch on 2000 images, 500 test images, results under "
                         "build/bench/peers-quick/ (checks the harness; not results)")
    ap.add_argument("--runs", nargs="+", metavar="PATTERN",
                    help="accuracy, paper: only runs whose id matches (shell patterns, e.g. "
                         "'glt-m8-*', 'enc-raw-*')")
    ap.add_argument("--list-runs", action="store_true",
                    help="accuracy, paper: print the run ids (paper: those defined so far) and exit")
    ap.add_argument("--data", metavar="KIND=PATH",
                    help="paper: run the grid on stl10=PATH (binary files) or vww=PATH (person/, "
                         "non_person/ folders) instead of Fashion-MNIST")
    ap.add_argument("--workers", type=int, default=2,
                    help="paper: runs in parallel (processes, one torch thread each); m55: cases "
                         "built and run in parallel")
    ap.add_argument("--prune-planes", type=int, metavar="M",
                    help="paper: planes of the pruning arm (default: the best small M of the "
                         "encoding arm)")
    ap.add_argument("--report", action="store_true",
                    help="paper: only regenerate docs/paper.md and its plots from the results")
    ap.add_argument("--boards", nargs="+", metavar="BOARD",
                    help="kernels: only these boards; flash: these boards (default mps2-an386 "
                         "microbit)")
    ap.add_argument("--no-cycle-model", action="store_true",
                    help="kernels: skip the traced run that models Cortex-M4 cycles of the "
                         "default model's layers (bench/cycles.py; about 30 s)")
    ap.add_argument("--ir", type=Path,
                    help="agreement: the model.ir.json to check; peers: the default model's IR "
                         "(default: the trained default model)")
    ap.add_argument("--batch", type=int, default=500, help="agreement: vectors per firmware")
    ap.add_argument("--warm-only", action="store_true",
                    help="e2e: keep the earlier cold build and time only the warm deploy")
    ap.add_argument("--epochs", type=int, default=None,
                    help="peers: training epochs of each CNN (default 30, as the zoo's binary "
                         "models)")
    ap.add_argument("--models", type=int, default=None,
                    help="m55: random models besides the issue's fixed cases (default 64, as "
                         "in bench/results/m55_vs_m4.json; the random-IR firmware tests draw the "
                         "first 20)")
    ap.add_argument("--zoo", type=Path,
                    help="peers, flash, int8: the zoo folder (default: zoo/)")
    ap.add_argument("--cmsis-nn", type=Path, metavar="PATH",
                    help="int8: a checkout of https://github.com/ARM-software/CMSIS-NN")
    ap.add_argument("--binary-only", action="store_true",
                    help="peers: refresh only the binary rows (zoo, default model) of "
                         "bench/results/peers.json; the peers keep their earlier rows")
    ap.add_argument("--no-deploy", action="store_true",
                    help="peers: do not deploy the binary models to read their instruction counts")
    return ap.parse_args(argv)


def run_one(name: str, args: argparse.Namespace) -> None:
    if name == "kernels":
        from . import kernels
        kernels.run_kernels(tuple(args.boards) if args.boards else kernels.BOARDS,
                            cycle_model=not args.no_cycle_model)
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
    elif name == "peers":
        from . import peers
        kw = peers.QUICK if args.quick else {}
        kw = {**kw, **({"epochs": args.epochs} if args.epochs else {})}
        if args.binary_only:
            doc = peers.refresh_binary_rows(zoo_dir=args.zoo or peers.ZOO_DIR,
                                            default_ir=args.ir, deploy=not args.no_deploy)
        else:
            doc = peers.run_peers(default_ir=args.ir, deploy=not args.no_deploy,
                                  zoo_dir=args.zoo or peers.ZOO_DIR, **kw)
        print(f"[peers] wrote {doc['written']}")
    elif name == "m55":
        from . import m55_vs_m4
        m55_vs_m4.run_m55(m55_vs_m4.DEFAULT_MODELS if args.models is None else args.models,
                          workers=args.workers)
    elif name == "flash":
        from . import flash_reads
        doc = flash_reads.run_flash(tuple(args.boards) if args.boards
                                    else flash_reads.DEFAULT_BOARDS,
                                    zoo_dir=args.zoo or flash_reads.ZOO_DIR)
        print(f"[flash] wrote {flash_reads.RESULT} ({len(doc['results'])} model x board rows)")
    elif name == "int8":
        from . import int8_first_layer
        doc = int8_first_layer.run_int8(args.cmsis_nn, zoo_dir=args.zoo or
                                        int8_first_layer.ZOO_DIR)
        print(f"[int8] wrote {int8_first_layer.RESULT} ({len(doc['results'])} models)")
    elif name == "docs":
        from . import docs
        print(f"[docs] wrote {docs.write_docs()}")


def run_paper(args: argparse.Namespace) -> int:
    from . import paper, paper_report
    kind, path = paper.parse_data(args.data)
    if args.workers < 1:
        raise paper.PaperArgumentError(f"--workers {args.workers}: must be >= 1")
    study = paper.Study(kind, path, quick=args.quick, prune_planes=args.prune_planes)
    if args.prune_planes is not None and args.prune_planes not in study.grid["planes"]:
        raise paper.PaperArgumentError(f"--prune-planes {args.prune_planes}: one of the grid's "
                                       f"planes {list(study.grid['planes'])}")
    if args.list_runs:
        for run in paper.select(paper.plan(study, paper.load_records(study)), args.runs):
            print(run.run_id)
        return 0
    if not args.report:
        paper.run_study(study, workers=args.workers, patterns=args.runs)
    for written in paper_report.write_report(study):
        print(f"[paper] wrote {written}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the deploy's LCE export needs Keras 2
    args = parse_args(argv)
    if args.command == "paper":
        from pipeline.errors import PipelineError
        try:
            return run_paper(args)
        except PipelineError as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    if args.command in ("int8", "flash"):  # arguments checked before any build
        from pipeline.errors import PipelineError
        try:
            if args.command == "int8":
                from . import int8_first_layer
                int8_first_layer.check_cmsis(args.cmsis_nn)
                int8_first_layer.check_zoo(args.zoo or int8_first_layer.ZOO_DIR)
            else:
                from . import flash_reads
                for b in args.boards or flash_reads.DEFAULT_BOARDS:
                    flash_reads.check_board(b)
                flash_reads.check_zoo(args.zoo or flash_reads.ZOO_DIR)
        except (BenchError, PipelineError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "peers":
        from . import peers
        try:
            peers.check_requirements()
        except peers.PeersMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
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
    if args.command in ("all", "kernels", "accuracy", "agreement", "e2e", "m55", "flash",
                        "int8") or (
            args.command == "peers" and not args.quick):
        from . import docs
        print(f"[docs] wrote {docs.write_docs()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
