"""Accuracy benchmark: GLT vs uniform thermometer vs base-2 input encodings on Fashion-MNIST.

The sweep is built from ``configs/fashion_glt_dense.yaml`` (BASE_CONFIG, the previous default)
by config overrides: encoding kind x planes M (4, 8, 16; base-2 stops at 8, the bits of a uint8
pixel) x compression (none: no distillation, no pruning; block pruning + knowledge distillation
to 1 Mbit and to 0.5 Mbit)
x seeds (0, 1, 2), plus the long config ``configs/fashion_glt_full.yaml`` as it is. Every run
trains (:func:`pipeline.train.train`), lowers to the integer IR and evaluates with
:func:`pipeline.evaluate.evaluate_model` (torch and oracle accuracy on the test split, which
must agree exactly, and accuracy on gamma/exposure-shifted test images).

The full sweep takes hours on 2 cores, so it is resumable: each finished run leaves
``build/bench/accuracy/<mode>/<run>.json`` and is skipped next time while its config is
unchanged; an interrupted run resumes from its last training checkpoint. ``--quick`` runs a
small variant (seed 0, M = 8, a training subset, short schedules, the first 1000 test images)
whose numbers say that the sweep works end to end, not what the methods reach.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import shutil
import time
from pathlib import Path

import numpy as np
import yaml

from pipeline.errors import PipelineError

from . import RESULTS_DIR, ROOT, WORK_DIR, machine, read_json, today, write_json

BASE_CONFIG = ROOT / "configs" / "fashion_glt_dense.yaml"  # the config its results were measured on
FULL_CONFIG = ROOT / "configs" / "fashion_glt_full.yaml"
ENCODINGS = ("glt", "uniform", "base2")
PLANES = (4, 8, 16)
SEEDS = (0, 1, 2)
COMPRESSION = {  # name: (distillation + block pruning, bit budget)
    "none": (False, None),
    "1mbit": (True, 1_000_000),
    "0.5mbit": (True, 500_000),
}
BASE2_MAX_PLANES = 8
# --quick: a smoke-sized sweep; its accuracies are far below what the full schedules reach.
QUICK = {"seeds": (0,), "planes": (8,), "train_limit": 6000, "test_limit": 1000,
         "teacher_epochs": 1, "epochs": 1, "prune_steps": 1, "finetune_epochs": 0.25}


@dataclasses.dataclass(frozen=True)
class Run:
    run_id: str
    encoding: str
    planes: int
    compression: str
    seed: int
    config: dict  # the full config document the run trains

    def key(self) -> dict:
        return {"encoding": self.encoding, "planes": self.planes,
                "compression": self.compression}


def _base_doc(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("name", path.stem)
    return doc


def sweep_config(doc: dict, encoding: str, planes: int, compression: str, seed: int,
                 quick: bool) -> dict:
    """The base config document with this run's overrides (a modified copy)."""
    doc = yaml.safe_load(yaml.safe_dump(doc))  # deep copy
    enc = doc["model"]["encoding"]
    if encoding != enc.get("kind"):  # the GLT-only keys do not apply to the fixed encodings
        enc = {"kind": encoding}
    doc["model"]["encoding"] = {**enc, "planes": planes}
    distill_prune, budget = COMPRESSION[compression]
    doc.setdefault("distill", {})["enabled"] = distill_prune
    doc.setdefault("prune", {})["enabled"] = distill_prune
    if budget is not None:
        doc["prune"]["budget_bits"] = budget
    doc["seed"] = seed
    if quick:
        _shorten(doc)
    return doc


def _shorten(doc: dict) -> None:
    doc["data"].update(train_limit=QUICK["train_limit"], test_limit=QUICK["test_limit"])
    doc.setdefault("teacher", {})["epochs"] = QUICK["teacher_epochs"]
    doc.setdefault("train", {})["epochs"] = QUICK["epochs"]
    # one pruning step after the single epoch, then a short fine-tune
    doc["prune"].update(steps=QUICK["prune_steps"], finetune_epochs=QUICK["finetune_epochs"],
                        at_epochs=[])


def plan_runs(quick: bool = False) -> list[Run]:
    """Every run of the sweep (or of the quick variant), in a fixed order."""
    base = _base_doc(BASE_CONFIG)
    seeds = QUICK["seeds"] if quick else SEEDS
    planes_list = QUICK["planes"] if quick else PLANES
    runs = []
    for seed in seeds:
        for planes in planes_list:
            for encoding in ENCODINGS:
                if encoding == "base2" and planes > BASE2_MAX_PLANES:
                    continue
                for compression in COMPRESSION:
                    run_id = f"{encoding}-m{planes}-{compression}-s{seed}"
                    doc = sweep_config(base, encoding, planes, compression, seed, quick)
                    doc["name"] = run_id
                    runs.append(Run(run_id, encoding, planes, compression, seed, doc))
    if not quick:
        full = _base_doc(FULL_CONFIG)
        runs.append(Run("full-glt-m8-1mbit-s0", "glt", full["model"]["encoding"]["planes"],
                        "1mbit-full-config", int(full.get("seed", 0)), full))
    return runs


def select(runs: list[Run], patterns: list[str] | None) -> list[Run]:
    """Runs whose id matches any of the shell-style patterns (all when none are given)."""
    if not patterns:
        return runs
    return [r for r in runs if any(fnmatch.fnmatch(r.run_id, p) for p in patterns)]


# --- one run -------------------------------------------------------------------------------------

def execute(run: Run, mode_dir: Path) -> dict:
    """Train, lower and evaluate one run; returns (and stores) its record. Skips a finished run."""
    from pipeline.config import config_from_dict
    from pipeline.evaluate import evaluate_model
    from pipeline.lower import lower_checkpoint
    from pipeline.train import train

    record_path = mode_dir / f"{run.run_id}.json"
    done = _finished(run, mode_dir)
    if done is not None:
        print(f"[accuracy] {run.run_id}: finished earlier, skipped", flush=True)
        return done
    work = mode_dir / "runs" / run.run_id
    _reset_if_config_changed(work, run.config)
    cfg = config_from_dict(run.config, source=run.run_id)
    teacher_cache = mode_dir / "teachers" / f"seed{run.seed}" / "teacher.pt"
    _reuse_teacher(teacher_cache, work)
    print(f"[accuracy] {run.run_id}: training", flush=True)
    started = time.monotonic()
    ckpt = train(cfg, work, resume=True)
    train_s = time.monotonic() - started
    _keep_teacher(work, teacher_cache)
    ir_path = work / "model.ir.json"
    lower_checkpoint(ckpt).save(ir_path)
    evaluation = evaluate_model(cfg, ckpt, ir_path, work)
    shutil.rmtree(work / "data", ignore_errors=True)  # the cached dataset: 55 MB a run
    record = {"run": run.run_id, **run.key(), "seed": run.seed, "date": today(),
              "train_seconds": round(train_s, 1),
              "total_seconds": round(time.monotonic() - started, 1),
              "evaluation": evaluation, "config": run.config}
    write_json(record_path, record)
    print(f"[accuracy] {run.run_id}: oracle accuracy {evaluation['oracle_accuracy']:.4f}, "
          f"{evaluation['model_bits']:,} bits", flush=True)
    return record


def _reset_if_config_changed(work: Path, config: dict) -> None:
    """A run folder holds one config's checkpoints; another config starts it afresh."""
    marker = work / "bench_config.json"
    if read_json(marker) != {"config": config}:
        shutil.rmtree(work, ignore_errors=True)
        write_json(marker, {"config": config})


def _reuse_teacher(cache: Path, work: Path) -> None:
    """The float teacher depends only on seed, data and teacher settings: train it once per
    seed (train() retrains it anyway when its fingerprint differs)."""
    if cache.is_file() and not (work / "teacher.pt").exists():
        shutil.copyfile(cache, work / "teacher.pt")


def _keep_teacher(work: Path, cache: Path) -> None:
    if (work / "teacher.pt").is_file() and not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        shutil.copyfile(work / "teacher.pt", tmp)
        tmp.replace(cache)


# --- aggregation ---------------------------------------------------------------------------------

def _metrics(record: dict) -> dict:
    ev = record["evaluation"]
    out = {"accuracy": ev["oracle_accuracy"], "torch_accuracy": ev["torch_accuracy"],
           "model_bits": ev["model_bits"]}
    out.update({f"gamma_{g}": acc for g, acc in ev["gamma_accuracy"].items()})
    return out


def aggregate(records: list[dict]) -> list[dict]:
    """Mean and standard deviation (ddof=1; 0 for one seed) over seeds, per configuration."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["encoding"], r["planes"], r["compression"]), []).append(r)
    rows = []
    for (encoding, planes, compression), rs in groups.items():
        metrics = [_metrics(r) for r in rs]
        row = {"encoding": encoding, "planes": planes, "compression": compression,
               "seeds": sorted(r["seed"] for r in rs)}
        for name in metrics[0]:
            values = np.array([m[name] for m in metrics], dtype=np.float64)
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row[name] = {"mean": round(float(values.mean()), 5), "std": round(std, 5)}
        rows.append(row)
    return rows


def _finished(run: Run, mode_dir: Path) -> dict | None:
    record = read_json(mode_dir / f"{run.run_id}.json")
    return record if record is not None and record.get("config") == run.config else None


def run_accuracy(quick: bool = False, patterns: list[str] | None = None,
                 out: Path = RESULTS_DIR / "accuracy.json") -> dict:
    mode = "quick" if quick else "full"
    mode_dir = WORK_DIR / "accuracy" / mode
    planned = plan_runs(quick)
    chosen = select(planned, patterns)
    if not chosen:
        raise SystemExit(f"--runs {patterns} matches none of: "
                         + ", ".join(r.run_id for r in planned))
    failed = {}
    for i, run in enumerate(chosen, 1):
        print(f"[accuracy] run {i}/{len(chosen)}", flush=True)
        try:
            execute(run, mode_dir)
        except PipelineError as exc:  # recorded, retried next time; the sweep goes on
            print(f"[accuracy] {run.run_id} failed: {type(exc).__name__}: {exc}", flush=True)
            failed[run.run_id] = f"{type(exc).__name__}: {exc}"
    # The result file covers every finished run of this mode, not only this call's selection.
    records = [r for r in (_finished(p, mode_dir) for p in planned) if r is not None]
    doc = {
        "benchmark": "accuracy", "mode": mode, "date": today(), "machine": machine(),
        "dataset": "Fashion-MNIST", "base_config": str(BASE_CONFIG.relative_to(ROOT)),
        "quick_settings": QUICK if quick else None,
        "planned_runs": len(planned), "finished_runs": len(records), "failed_runs": failed,
        "metric": "accuracy of the integer model (the oracle; torch eval gives identical "
                  "logits, checked on every test image); gamma_<g>: the same model on "
                  "gamma-shifted test images",
        "aggregated": aggregate(records),
        "runs": [{k: v for k, v in r.items() if k != "config"} for r in records],
    }
    write_json(out, doc)
    return doc
