"""End-to-end benchmark: wall time of `make deploy BOARD=mps2-an386`, cold and warm.

``make deploy`` is ``python3 -m pipeline setup`` (idempotent) followed by ``python -m pipeline
deploy --board mps2-an386 --config configs/fashion_glt.yaml``. Cold: the deploy into a fresh
build folder (``build/bench/e2e/build``, wiped first), so every stage runs, training included.
Warm: the same command again, every stage found up to date. The setup step is timed once on
its own. The cold build is kept: its model is the default model, trained the same seeded way as
``make deploy`` trains it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import RESULTS_DIR, ROOT, WORK_DIR, BenchError, machine, read_json, today, write_json

BOARD = "mps2-an386"
CONFIG = ROOT / "configs" / "fashion_glt.yaml"
BUILD_DIR = WORK_DIR / "e2e" / "build"


def deploy_command(build_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline", "deploy", "--board", BOARD,
            "--config", str(CONFIG), "--build-dir", str(build_dir)]


def timed(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` from the repository root, its output to ``log``; wall seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return round(seconds, 1)


def report_summary(build_dir: Path) -> dict:
    """The headline numbers of the deploy's report.json (accuracy, memory, instructions)."""
    name = CONFIG.stem
    report = read_json(build_dir / name / BOARD / "report.json")
    if report is None:
        raise BenchError(f"deploy wrote no report under {build_dir / name / BOARD}")
    keep = ("model_bits", "flash_bytes", "ram_bytes", "ram_static_bytes", "ram_stack_used_bytes",
            "instructions_per_inference", "vectors", "mismatches", "accuracy", "gamma_accuracy")
    return {k: report.get(k) for k in keep}


def run_e2e(out: Path = RESULTS_DIR / "e2e.json", cold: bool = True) -> dict:
    """Time setup, a cold deploy (unless ``cold`` is False: then the kept cold build is reused
    and only the warm time is measured again) and a warm deploy."""
    logs = WORK_DIR / "e2e"
    previous = read_json(out) or {}
    setup_s = timed(["python3", "-m", "pipeline", "setup"], logs / "setup.log")
    if cold:
        shutil.rmtree(BUILD_DIR, ignore_errors=True)
        print(f"[e2e] cold deploy into {BUILD_DIR} (trains the default model)", flush=True)
        cold_s = timed(deploy_command(BUILD_DIR), logs / "cold.log")
    elif not (BUILD_DIR / CONFIG.stem).is_dir():
        raise BenchError(f"no earlier cold build in {BUILD_DIR}: run without --warm-only")
    else:
        cold_s = previous.get("cold_seconds")
    print("[e2e] warm deploy (every stage cached)", flush=True)
    warm_s = timed(deploy_command(BUILD_DIR), logs / "warm.log")
    doc = {
        "benchmark": "e2e", "date": today(), "machine": machine(), "board": BOARD,
        "config": str(CONFIG.relative_to(ROOT)),
        "command": "python -m pipeline deploy --board mps2-an386 --config configs/fashion_glt.yaml "
                   "--build-dir <fresh folder>",
        "setup_seconds": setup_s, "cold_seconds": cold_s, "warm_seconds": warm_s,
        "cold_date": today() if cold else previous.get("cold_date"),
        "note": "make deploy = setup + deploy: add setup_seconds to each; wall times depend on "
                "the load of the machine (other jobs slow torch's threads several-fold)",
        "report": report_summary(BUILD_DIR),
    }
    write_json(out, doc)
    return doc
