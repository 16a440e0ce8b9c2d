"""The paper's two claims, measured: ``python -m bench paper [--quick] [--data KIND=PATH]``.

Claim 1, a learned thermometer (GLT) beats the ADC's binary code (base-2 bit-planes), is tested by
the *encoding arm*: encodings {glt, uniform, base2, quantile} x planes M {1, 2, 3, 4, 8} x seeds
{0, 1, 2} x data {processed, raw}. ``raw`` is the same images through the raw-sensor simulation
(``data.sensor`` with its defaults: linear ADC codes, exposure 1/32..1/2, shot and read noise);
``quantile`` is a thermometer fixed at the training data's quantiles, the GLT's initialisation
frozen, so GLT - quantile is what learning end to end adds to adapting to the histogram. These
runs train without distillation and without pruning.

Claim 2, block pruning + knowledge distillation reach small bit budgets with limited loss, is
tested by the *pruning arm* on raw data with a GLT at the best small M (the M in {1, 2, 3, 4}
with the highest mean GLT accuracy on raw data, chosen once those encoding runs have finished;
``--prune-planes`` fixes it): budgets {1M, 500k, 250k, 125k, 64k} bits x seeds, each pruned with
and without KD, and the same final architecture (the pruned+KD run's widths) trained from
scratch with and without KD. One float teacher per seed serves every KD run of that seed.

Every run uses the same topology (the Fashion-MNIST one of ``configs/fashion_glt_dense.yaml``,
the default as of 9a40851, or the 96x96x3 one of ``configs/{stl10,vww}_glt.yaml`` with
``--data``) and the same schedule (:data:`FULL` or :data:`QUICK`: training subset, epochs, test
images). Pruned runs prune after student epochs ``prune_at`` within the same number of epochs,
so they train no longer than the others.

Runs go to a pool of worker processes (``--workers``, default 2, one torch thread each; on a GPU
when torch sees one). Resumable: a finished run leaves ``build/bench/paper/<mode>/<run>.json``
(config, integer-model accuracy from :func:`pipeline.evaluate.evaluate_model` on the test images,
bits and bits per layer, wall times, thermometer thresholds) and is skipped while its config is
unchanged; an interrupted run resumes from its training checkpoint. The aggregate (mean and
standard deviation over seeds) goes to ``bench/results/paper[_<dataset>][_quick].json``;
``python -m bench paper --report`` turns it into ``docs/paper.md`` and its plots
(:mod:`bench.paper_report`).
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import dataclasses
import fnmatch
import functools
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import numpy as np
import yaml

from pipeline.errors import PipelineError

from . import RESULTS_DIR, ROOT, WORK_DIR, machine, read_json, today, write_json
from .accuracy import _reset_if_config_changed

ENCODINGS = ("glt", "uniform", "base2", "quantile")
DATA_KINDS = ("processed", "raw")
PRUNE_DATA = "raw"            # the paper's setting: in-sensor inference on raw pixel data
SMALL_PLANES = (1, 2, 3, 4)   # the pruning arm's M is the best of these (GLT, PRUNE_DATA)
VARIANTS = ("pruned-kd", "pruned", "scratch-kd", "scratch")
DATASETS = {  # --data KIND: base config (topology, teacher and optimiser settings)
    "fashion_mnist": ROOT / "configs" / "fashion_glt_dense.yaml",  # the default as of 9a40851
    "stl10": ROOT / "configs" / "stl10_glt.yaml",
    "vww": ROOT / "configs" / "vww_glt.yaml",
}
# The schedule every run shares, sized so that the full study (183 runs) fits about 2 hours on
# 2 CPU cores: 4000 training images (a seeded subset, other images per seed), 3 epochs, the first
# 2000 test images (the oracle costs ~5 ms an image); pruning after epochs 1 and 2, the third
# epoch fine-tuning; float teachers 10 epochs (~1 min each; 1 epoch left them near chance on raw
# data). Measured on 2026-11-30 (CPU seconds of one worker process, 1 thread): an unpruned
# encoding run ~50 s, a pruned run ~36 s, a teacher ~40 s. Estimate: 120 x 50 + 60 x 36 + 3 x 40
# = 8,280 CPU s, over 2 workers ~69 min on 2 idle cores (~75 min with I/O); the same runs took
# 1.85x their CPU time in wall time while other jobs shared the cores (~2.1 h).
FULL = {"seeds": (0, 1, 2), "planes": (1, 2, 3, 4, 8), "encodings": ENCODINGS,
        "budgets": (1_000_000, 500_000, 250_000, 125_000, 64_000),
        "train_limit": 4000, "test_limit": 2000, "epochs": 3, "teacher_epochs": 10,
        "prune_at": (1, 2), "min_keep": 0.1}
# --quick: every arm type once on a few hundred images; its numbers are not results.
QUICK = {"seeds": (0,), "planes": (2, 4), "encodings": ("glt", "base2"),
         "budgets": (250_000, 64_000),
         "train_limit": 256, "test_limit": 200, "epochs": 2, "teacher_epochs": 1,
         "prune_at": (1,), "min_keep": 0.1}


class PaperArgumentError(PipelineError, ValueError):
    """A bad argument of ``python -m bench paper`` (``--data``, ``--prune-planes``, ...)."""


@dataclasses.dataclass(frozen=True)
class Study:
    """What one invocation studies: the dataset (and its files), quick or full, the M of the
    pruning arm when fixed by the user (None: chosen from the encoding arm)."""
    dataset: str = "fashion_mnist"
    path: str | None = None        # None: the base config's data.path
    quick: bool = False
    prune_planes: int | None = None
    schedule: dict | None = None   # overrides QUICK/FULL (tests)
    work_root: Path | None = None  # default build/bench/paper (tests: a temporary folder)
    results_dir: Path | None = None  # default bench/results

    @property
    def grid(self) -> dict:
        return self.schedule or (QUICK if self.quick else FULL)

    @property
    def mode(self) -> str:
        return ("quick" if self.quick else "full") + \
            ("" if self.dataset == "fashion_mnist" else f"-{self.dataset}")

    @property
    def mode_dir(self) -> Path:
        return (self.work_root or WORK_DIR / "paper") / self.mode

    @property
    def results_path(self) -> Path:
        suffix = ("" if self.dataset == "fashion_mnist" else f"_{self.dataset}") + \
            ("_quick" if self.quick else "")
        return (self.results_dir or RESULTS_DIR) / f"paper{suffix}.json"


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run (or, arm ``teacher``, one float teacher) of the study."""
    run_id: str
    arm: str                  # encoding | teacher | prune
    data: str                 # processed | raw
    encoding: str
    planes: int
    seed: int
    config: dict              # the whole config document it trains
    variant: str | None = None   # prune arm: one of VARIANTS
    budget: int | None = None    # prune arm: prune.budget_bits (scratch: the pruned run's)
    teacher: str | None = None   # run id of the teacher a KD run distils from

    def labels(self) -> dict:
        return {"run": self.run_id, "arm": self.arm, "data": self.data,
                "encoding": self.encoding, "planes": self.planes, "seed": self.seed,
                "variant": self.variant, "budget": self.budget}


# --- the grid -------------------------------------------------------------------------------------

def parse_data(value: str | None) -> tuple[str, str | None]:
    """``--data KIND=PATH`` -> (kind, path); None -> Fashion-MNIST at its configured path.

    Raises :class:`PaperArgumentError` for another form or kind, and
    :class:`pipeline.data.DatasetMissingError` when PATH is not a directory."""
    from pipeline.data import DatasetMissingError
    if value is None:
        return "fashion_mnist", None
    kind, sep, path = value.partition("=")
    if not sep or not path:
        raise PaperArgumentError(f"--data {value!r}: use KIND=PATH, e.g. stl10=/data/stl10_binary "
                                 "or vww=/data/vww")
    if kind not in DATASETS:
        raise PaperArgumentError(f"--data {value!r}: unknown kind {kind!r}; one of "
                                 f"{', '.join(DATASETS)}")
    if not Path(path).is_dir():
        raise DatasetMissingError(f"--data {value!r}: {path} is not a directory; point it at the "
                                  f"{kind} files")
    return kind, path


@functools.lru_cache(maxsize=8)
def _base_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _base_doc(study: Study) -> dict:
    """A fresh copy of the study's base config document."""
    doc = copy.deepcopy(_base_yaml(DATASETS[study.dataset]))
    if study.path is not None:
        doc["data"]["path"] = study.path
    return doc


def _encoding_block(base: dict, kind: str, planes: int) -> dict:
    if kind == "glt":  # the base config's GLT settings, started at the data's quantiles
        return {**base["model"]["encoding"], "kind": "glt", "planes": planes, "init": "quantile"}
    return {"kind": kind, "planes": planes}


def run_config(study: Study, name: str, data: str, encoding: str, planes: int, seed: int, *,
               kd: bool = False, budget: int | None = None,
               layers: list | None = None) -> dict:
    """The config document of one run: the base config with the study's schedule, this run's
    data kind, encoding, seed and (prune arm) KD, budget or fixed layers."""
    g = study.grid
    doc = _base_doc(study)
    doc["name"] = name
    doc["seed"] = seed
    doc["data"].update(train_limit=g["train_limit"], test_limit=g["test_limit"],
                       sensor={"enabled": data == "raw"})
    doc["model"]["encoding"] = _encoding_block(doc, encoding, planes)
    if layers is not None:
        doc["model"]["layers"] = layers
    doc.setdefault("teacher", {})["epochs"] = g["teacher_epochs"]
    doc.setdefault("train", {}).update(epochs=g["epochs"], threads=1)
    doc.setdefault("distill", {})["enabled"] = kd
    prune = doc.setdefault("prune", {})
    prune.update(enabled=budget is not None and layers is None, min_keep=g["min_keep"],
                 steps=len(g["prune_at"]), at_epochs=list(g["prune_at"]), finetune_epochs=0)
    if budget is not None:
        prune["budget_bits"] = budget
    doc.setdefault("deploy", {})
    return doc


def encoding_runs(study: Study) -> list[Run]:
    g, out = study.grid, []
    for data in DATA_KINDS:
        for encoding in g["encodings"]:
            for planes in g["planes"]:
                if encoding == "base2" and planes > 8:
                    continue
                for seed in g["seeds"]:
                    rid = f"enc-{data}-{encoding}-m{planes}-s{seed}"
                    out.append(Run(rid, "encoding", data, encoding, planes, seed,
                                   run_config(study, rid, data, encoding, planes, seed)))
    return out


def teacher_runs(study: Study) -> list[Run]:
    """One float teacher per seed on PRUNE_DATA (the student fields of its config do not matter:
    a teacher depends on the seed, the data and the teacher settings only)."""
    g = study.grid
    return [Run(f"teacher-{PRUNE_DATA}-s{seed}", "teacher", PRUNE_DATA, "glt", max(g["planes"]),
                seed, run_config(study, f"teacher-{PRUNE_DATA}-s{seed}", PRUNE_DATA, "glt",
                                 max(g["planes"]), seed, kd=True))
            for seed in g["seeds"]]


def _kb(budget: int) -> str:
    return f"{budget // 1000}k"


def pruned_run_id(planes: int, variant: str, budget: int, seed: int) -> str:
    return f"prune-{PRUNE_DATA}-glt-m{planes}-{variant}-{_kb(budget)}-s{seed}"


def prune_runs(study: Study, planes: int, records: dict[str, dict]) -> list[Run]:
    """Pruned runs (with and without KD) and, where the pruned+KD run of the same budget and seed
    has finished, the from-scratch runs of its final architecture."""
    g, out = study.grid, []
    for budget in g["budgets"]:
        for seed in g["seeds"]:
            teacher = f"teacher-{PRUNE_DATA}-s{seed}"
            source = records.get(pruned_run_id(planes, "pruned-kd", budget, seed))
            for variant in VARIANTS:
                kd = variant.endswith("-kd")
                rid = pruned_run_id(planes, variant, budget, seed)
                if variant.startswith("scratch"):
                    if source is None:
                        continue  # its size is known once the pruned+KD run has finished
                    cfg = run_config(study, rid, PRUNE_DATA, "glt", planes, seed, kd=kd,
                                     budget=budget, layers=source["arch_layers"])
                else:
                    cfg = run_config(study, rid, PRUNE_DATA, "glt", planes, seed, kd=kd,
                                     budget=budget)
                out.append(Run(rid, "prune", PRUNE_DATA, "glt", planes, seed, cfg, variant,
                               budget, teacher if kd else None))
    return out


def expected_counts(study: Study) -> dict[str, int]:
    """Runs per arm once the whole grid is known (the progress bar's total)."""
    g = study.grid
    enc = sum(1 for e in g["encodings"] for m in g["planes"] if not (e == "base2" and m > 8))
    per = len(g["budgets"]) * len(g["seeds"])
    return {"encoding": enc * len(DATA_KINDS) * len(g["seeds"]), "teacher": len(g["seeds"]),
            **{v: per for v in VARIANTS}}


def choose_prune_planes(study: Study, records: dict[str, dict]) -> int | None:
    """The pruning arm's M: ``--prune-planes`` when given, else the M in SMALL_PLANES (of the
    grid's planes) with the highest mean GLT accuracy on PRUNE_DATA over seeds, ties to the
    smaller M; None until all those encoding runs have finished."""
    if study.prune_planes is not None:
        return study.prune_planes
    g = study.grid
    candidates = [m for m in g["planes"] if m in SMALL_PLANES] or [min(g["planes"])]
    means = {}
    for m in candidates:
        recs = [records.get(f"enc-{PRUNE_DATA}-glt-m{m}-s{s}") for s in g["seeds"]]
        if any(r is None for r in recs):
            return None
        means[m] = float(np.mean([r["accuracy"] for r in recs]))
    return max(candidates, key=lambda m: (means[m], -m))


def plan(study: Study, records: dict[str, dict]) -> list[Run]:
    """Every run that is defined given the finished ``records`` (by run id), in a fixed order:
    the encoding arm and the teachers always; the pruned runs once the pruning arm's M is known;
    each from-scratch run once its pruned+KD run has finished."""
    runs = encoding_runs(study) + teacher_runs(study)
    planes = choose_prune_planes(study, records)
    if planes is not None:
        runs += prune_runs(study, planes, records)
    return runs


def finished(run: Run, mode_dir: Path) -> dict | None:
    """The run's record when it finished with this very config, else None."""
    record = read_json(mode_dir / f"{run.run_id}.json")
    return record if record is not None and record.get("config") == run.config else None


# --- one run (in a worker process) ----------------------------------------------------------------

def _worker_init() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


def data_dir(mode_dir: Path, data: str, seed: int) -> Path:
    return mode_dir / "data" / f"{data}-s{seed}"


def prepare_data(study: Study, mode_dir: Path, runs: list[Run]) -> None:
    """Read and simulate each (data kind, seed) once, into a shared cache that every run of it
    links into its own build folder (the data depends on the data config and seed only). A
    missing or corrupt dataset stops the study here, before any training."""
    from tqdm import tqdm

    from pipeline.config import config_from_dict
    from pipeline.data import prepare
    firsts = {}
    for run in runs:
        firsts.setdefault((run.data, run.seed), run)
    for (data, seed), run in tqdm(sorted(firsts.items()), desc="data", leave=False):
        prepare(config_from_dict(run.config, source=run.run_id), data_dir(mode_dir, data, seed))


def _link_data(shared: Path, work: Path) -> None:
    """Hard-link (else copy) the shared data cache into a run's folder."""
    dst = work / "data"
    dst.mkdir(parents=True, exist_ok=True)
    for f in (shared / "data").iterdir():
        target = dst / f.name
        if target.exists():
            continue
        try:
            os.link(f, target)
        except OSError:
            shutil.copyfile(f, target)


def execute(run: Run, mode_dir: Path) -> dict:
    """Train (resuming), lower and evaluate one run; write and return its record. Its log (the
    training progress) goes to ``runs/<run>/log.txt``."""
    work = mode_dir / "runs" / run.run_id
    _reset_if_config_changed(work, run.config)
    _link_data(data_dir(mode_dir, run.data, run.seed), work)
    with open(work / "log.txt", "a") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        record = _execute(run, work)
    write_json(mode_dir / f"{run.run_id}.json", record)
    # the record is the result: drop the data copy and the training checkpoint (~8 MB each);
    # the IR, the metrics and the log stay (a teacher run keeps its teacher.pt)
    shutil.rmtree(work / "data", ignore_errors=True)
    (work / "checkpoint.pt").unlink(missing_ok=True)
    return record


def _execute(run: Run, work: Path) -> dict:
    import torch

    from pipeline import ir
    from pipeline.config import config_from_dict
    from pipeline.evaluate import evaluate_model
    from pipeline.lower import lower_checkpoint
    from pipeline.train import TEACHER, train, train_teacher

    cfg = config_from_dict(run.config, source=run.run_id)
    started, cpu0 = time.monotonic(), time.process_time()
    if run.arm == "teacher":
        path = train_teacher(cfg, work)
        state = torch.load(path, map_location="cpu", weights_only=False)
        return {**run.labels(), "date": today(), "teacher_accuracy": state["test_accuracy"],
                "seconds": {"total": round(time.monotonic() - started, 1),
                            "cpu": round(time.process_time() - cpu0, 1)},
                "config": run.config}
    if run.teacher is not None and not (work / TEACHER).exists():
        shutil.copyfile(work.parent / run.teacher / TEACHER, work / TEACHER)
    ckpt = train(cfg, work, resume=True)
    trained = time.monotonic()
    ir_path = work / "model.ir.json"
    model_ir = lower_checkpoint(ckpt)
    model_ir.save(ir_path)
    evaluation = evaluate_model(cfg, ckpt, ir_path, work, gammas=())
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    thermo = model_ir.layers[0]
    images = evaluation["test_images"]
    units = [r for r in state["metrics"] if "train_loss" in r]
    return {
        **run.labels(), "date": today(),
        "accuracy": evaluation["oracle_accuracy"], "torch_accuracy": evaluation["torch_accuracy"],
        "test_images": images, "bits": evaluation["model_bits"],
        "layer_bits": {layer.name: ir.layer_bits(layer) for layer in model_ir.layers},
        "arch_layers": state["arch"]["layers"],
        "thresholds": np.asarray(thermo.thresholds).tolist(), "thermometer_mode": thermo.mode,
        "teacher_accuracy": _teacher_accuracy(work) if run.teacher else None,
        "train_units": len(units),
        "seconds": {"train": round(trained - started, 1),
                    "evaluate": round(time.monotonic() - trained, 1),
                    "total": round(time.monotonic() - started, 1),
                    # CPU time of this process (all its threads): what the run costs on an
                    # otherwise idle core, whatever else shared the machine
                    "cpu": round(time.process_time() - cpu0, 1),
                    "units": round(sum(r["seconds"] for r in units), 1)},
        "evaluation": evaluation, "config": run.config,
    }


def _teacher_accuracy(work: Path) -> float | None:
    import torch
    path = work / "teacher.pt"
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False).get("test_accuracy")


# --- the study ----------------------------------------------------------------------------------

def load_records(study: Study) -> dict[str, dict]:
    """Finished records of this study, resolving the plan until it stops growing (a from-scratch
    run's config depends on its pruned run's record)."""
    records: dict[str, dict] = {}
    while True:
        found = {r.run_id: rec for r in plan(study, records)
                 if (rec := finished(r, study.mode_dir)) is not None}
        if found.keys() == records.keys():
            return found
        records = found


def select(runs: list[Run], patterns: list[str] | None) -> list[Run]:
    """The runs whose id matches a shell pattern (all when there are none), plus the teachers
    the chosen KD runs need."""
    if not patterns:
        return runs
    chosen = {r.run_id for r in runs if any(fnmatch.fnmatch(r.run_id, p) for p in patterns)}
    needed = {r.teacher for r in runs if r.run_id in chosen and r.teacher is not None}
    return [r for r in runs if r.run_id in chosen or r.run_id in needed]


def check_plan(study: Study, runs: list[Run]) -> None:
    """Every config of the plan passes the full config check (schema, architecture, reachable
    bit budget) before any work starts: a bad one is a ConfigError here, not a failure later."""
    from pipeline.config import config_from_dict
    for run in runs:
        config_from_dict(run.config, source=f"bench paper {run.run_id}")


def run_study(study: Study, workers: int = 2, patterns: list[str] | None = None) -> dict:
    """Run every unfinished run of ``study`` (those matching ``patterns`` when given) on
    ``workers`` processes, then aggregate all finished runs into ``study.results_path``."""
    from tqdm import tqdm

    from pipeline.data import DatasetError
    mode_dir = study.mode_dir
    mode_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    records = load_records(study)
    initial = plan(study, records)
    check_plan(study, initial)
    prepare_data(study, mode_dir, initial)
    total = sum(expected_counts(study).values())
    failed: dict[str, str] = {}
    in_flight: dict[cf.Future, Run] = {}
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool, \
            tqdm(total=total, initial=len(records), desc=f"paper {study.mode}",
                 unit="run") as bar:
        while True:
            busy = {r.run_id for r in in_flight.values()}
            for run in select(plan(study, records), patterns):
                if run.run_id in records or run.run_id in busy or run.run_id in failed:
                    continue
                if run.teacher is not None and run.teacher not in records:
                    continue  # waits for its teacher
                check_plan(study, [run])
                in_flight[pool.submit(execute, run, mode_dir)] = run
                busy.add(run.run_id)
            if not in_flight:
                break
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                run = in_flight.pop(fut)
                try:
                    records[run.run_id] = rec = fut.result()
                except DatasetError:
                    for f in in_flight:
                        f.cancel()
                    raise  # the data is unusable for every run: stop, exit 2
                except PipelineError as exc:  # recorded, retried next time; the study goes on
                    failed[run.run_id] = f"{type(exc).__name__}: {exc}"
                    bar.write(f"[paper] {run.run_id} FAILED: {failed[run.run_id]}")
                    continue
                bar.update(1)
                what = (f"teacher accuracy {rec['teacher_accuracy']:.4f}" if run.arm == "teacher"
                        else f"accuracy {rec['accuracy']:.4f}, {rec['bits']:,} bits")
                bar.write(f"[paper] {run.run_id}: {what}, {rec['seconds']['total']:.0f} s")
    calls = log_call(mode_dir, time.monotonic() - t0, workers, len(records))
    doc = results_doc(study, records, failed, time.monotonic() - t0, workers, calls)
    write_json(study.results_path, doc)
    return doc


def log_call(mode_dir: Path, seconds: float, workers: int, finished_runs: int) -> list[dict]:
    """Append this call's wall time to ``calls.json`` of the mode (a study resumed over several
    calls adds up their times); returns every call so far."""
    path = mode_dir / "calls.json"
    calls = (read_json(path) or {"calls": []})["calls"]
    calls.append({"date": today(), "seconds": round(seconds, 1), "workers": workers,
                  "finished_runs": finished_runs})
    write_json(path, {"calls": calls})
    return calls


# --- aggregation --------------------------------------------------------------------------------

def _stats(values: list[float]) -> dict:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value) and the values."""
    v = np.asarray(values, dtype=np.float64)
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": round(float(v.mean()), 6), "std": round(std, 6), "n": int(len(v)),
            "values": [round(float(x), 6) for x in v]}


def aggregate(records: list[dict]) -> dict:
    """Rows of the encoding arm (per data, encoding, planes) and of the pruning arm (per
    variant, budget): accuracy and bits as mean/std over seeds."""
    enc: dict[tuple, list[dict]] = {}
    prn: dict[tuple, list[dict]] = {}
    for r in records:
        if r["arm"] == "encoding":
            enc.setdefault((r["data"], r["encoding"], r["planes"]), []).append(r)
        elif r["arm"] == "prune":
            prn.setdefault((r["variant"], r["budget"]), []).append(r)
    order = {e: i for i, e in enumerate(ENCODINGS)}
    encoding_rows = [
        {"data": d, "encoding": e, "planes": m, "seeds": sorted(r["seed"] for r in rs),
         "accuracy": _stats([r["accuracy"] for r in sorted(rs, key=lambda r: r["seed"])]),
         "bits": _stats([r["bits"] for r in rs])}
        for (d, e, m), rs in sorted(enc.items(), key=lambda kv: (
            DATA_KINDS.index(kv[0][0]), order.get(kv[0][1], 99), kv[0][2]))]
    prune_rows = [
        {"variant": v, "budget": b, "planes": rs[0]["planes"], "data": rs[0]["data"],
         "seeds": sorted(r["seed"] for r in rs),
         "accuracy": _stats([r["accuracy"] for r in sorted(rs, key=lambda r: r["seed"])]),
         "bits": _stats([r["bits"] for r in sorted(rs, key=lambda r: r["seed"])])}
        for (v, b), rs in sorted(prn.items(), key=lambda kv: (VARIANTS.index(kv[0][0]),
                                                              -kv[0][1]))]
    return {"encoding": encoding_rows, "pruning": prune_rows}


def results_doc(study: Study, records: dict[str, dict], failed: dict[str, str],
                wall_seconds: float, workers: int, calls: list[dict] | None = None) -> dict:
    from pipeline.data.sensor import SensorConfig
    recs = sorted(records.values(), key=lambda r: r["run"])
    trained = [r for r in recs if r["arm"] != "teacher"]
    planes = choose_prune_planes(study, records)
    g = study.grid
    return {
        "benchmark": "paper", "mode": study.mode, "quick": study.quick, "date": today(),
        "machine": machine(), "dataset": study.dataset,
        "base_config": str(DATASETS[study.dataset].relative_to(ROOT)),
        "schedule": {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()},
        "prune_data": PRUNE_DATA,
        "prune_planes": planes,
        "prune_planes_rule": ("fixed by --prune-planes" if study.prune_planes is not None else
                              f"best mean GLT accuracy on {PRUNE_DATA} data among M in "
                              f"{[m for m in g['planes'] if m in SMALL_PLANES]}"),
        "sensor": dataclasses.asdict(SensorConfig(enabled=True)),
        "expected_runs": expected_counts(study),
        "finished_runs": len(recs), "failed_runs": failed,
        "wall_seconds": {"this_call": round(wall_seconds, 1), "workers": workers,
                         "all_calls": round(sum(c["seconds"] for c in calls or []), 1),
                         "calls": len(calls or []),
                         "sum_of_runs": round(sum(r["seconds"]["total"] for r in recs), 1),
                         "cpu_sum_of_runs": round(sum(r["seconds"].get("cpu", 0.0)
                                                      for r in recs), 1)},
        "metric": "accuracy of the integer model (the oracle; torch eval gives identical logits, "
                  "checked on every test image) on the first schedule.test_limit test images",
        **aggregate(recs),
        "teachers": [{"seed": r["seed"], "accuracy": r["teacher_accuracy"]}
                     for r in recs if r["arm"] == "teacher"],
        "runs": [{k: r.get(k) for k in ("run", "arm", "data", "encoding", "planes", "seed",
                                        "variant", "budget", "accuracy", "bits", "thresholds",
                                        "teacher_accuracy")}
                 | {"seconds": r["seconds"]["total"]} for r in trained],
    }
