"""Benchmarks of the GLT-BNN toolchain:
``python -m bench [kernels|accuracy|agreement|e2e|docs|paper|peers|all]``.

Each benchmark writes one small JSON file under ``bench/results/`` (committed with the code), and
``bench.docs`` renders ``docs/benchmarks.md`` from those files. Benchmarks are not tests: they
measure and record, they assert no timings. What they do check is correctness (a kernel whose
output differs from the oracle, or a firmware that disagrees with it, reports no number).
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
WORK_DIR = ROOT / "build" / "bench"  # scratch space: firmware builds, per-run results


class BenchError(Exception):
    """A benchmark found a wrong result (e.g. a kernel or firmware that disagrees with the oracle)."""


class BenchSkipped(Exception):
    """A benchmark cannot run here (a missing input); the message says how to provide it."""


def machine() -> dict:
    """Where a result was measured."""
    return {"host": platform.node(), "cpus": os.cpu_count(), "accelerator": "none (CPU only)",
            "python": platform.python_version(), "system": platform.platform()}


def today() -> str:
    return datetime.date.today().isoformat()


def write_json(path: Path, doc: dict) -> Path:
    """Write ``doc`` atomically (temp file, then rename): a crash leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def deploy_ir(ir_path: Path, board: str, build_dir: Path, tag: str, log=print) -> dict:
    """``python -m pipeline deploy --ir ir_path --board board --build-dir build_dir`` in a
    subprocess (stage-cached: a rerun is quick), its output in ``build_dir/<model>-<board>.log``.
    Returns the deploy's ``report.json`` (its folder is ``build_dir/<model>/<board>/``).
    :class:`BenchError` naming the log when the deploy fails or its firmware disagrees with the
    oracle (then its numbers mean nothing)."""
    from pipeline.render import name_from_ir_path
    name = name_from_ir_path(ir_path)
    build_dir.mkdir(parents=True, exist_ok=True)
    logfile = build_dir / f"{name}-{board}.log"
    cmd = [sys.executable, "-m", "pipeline", "deploy", "--ir", str(ir_path), "--board", board,
           "--build-dir", str(build_dir)]
    log(f"[{tag}] deploy {ir_path} on {board} (log: {logfile})")
    with open(logfile, "w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    report = read_json(build_dir / name / board / "report.json") or {}
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {logfile}")
    if report.get("mismatches") != 0:
        raise BenchError(f"{name} on {board}: no report, or the firmware disagrees with the "
                         f"oracle; see {logfile}")
    return report
