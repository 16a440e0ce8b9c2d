"""Firmware agreement benchmark: the trained default model's firmware on the whole Fashion-MNIST
test set (10,000 images) in QEMU on mps2-an386, checked image by image against the oracle.

The images go through the deploy path in batches: :func:`pipeline.render.render` embeds a batch
as test vectors, :func:`pipeline.build.build_firmware` builds it (a batch too large for the
board's flash budget is halved), :func:`pipeline.emulate.run_firmware` runs it and
:func:`pipeline.verify.verify` recomputes every vector with the oracle and compares classes,
logits and the CRC of every layer's output. Finished batches are kept under
``build/bench/agreement/<IR sha256>/`` so an interrupted run resumes.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline import boards, build, emulate, ir, reference, render, verify
from pipeline.config import load_config
from pipeline.data import load_dataset

from . import RESULTS_DIR, ROOT, WORK_DIR, BenchError, BenchSkipped, machine, read_json, today, \
    write_json

BOARD = "mps2-an386"
CONFIG = ROOT / "configs" / "fashion_glt.yaml"
DEFAULT_IR = ROOT / "build" / "fashion_glt" / "model.ir.json"  # what `make deploy` writes
# The e2e benchmark's cold deploy trains the same config the same seeded way.
E2E_IR = WORK_DIR / "e2e" / "build" / "fashion_glt" / "model.ir.json"
BATCH = 500
QUICK_IMAGES = 1000
QEMU_TIMEOUT_S = 600


def default_ir() -> Path:
    """The trained default model: `make deploy`'s, else the e2e benchmark's cold deploy's."""
    return DEFAULT_IR if DEFAULT_IR.is_file() or not E2E_IR.is_file() else E2E_IR


def _test_split() -> tuple[np.ndarray, np.ndarray]:
    cfg = load_config(CONFIG)
    ds = load_dataset(cfg.data, cfg.seed)
    return ds.test_images, ds.test_labels


def _build_batch(model: ir.Model, board, images: np.ndarray, work: Path):
    logits = reference.run(model, images).logits
    out = render.render(model, board, work, images, logits, "opt", name="fashion_glt")
    return build.build_firmware(board, out.firmware_sources(), out.include_dirs(), work)


def run_batch(model: ir.Model, board, images: np.ndarray, labels: np.ndarray,
              work: Path) -> dict:
    """One firmware with these images as vectors: build, run, verify against the oracle."""
    t0 = time.monotonic()
    built = _build_batch(model, board, images, work)
    t1 = time.monotonic()
    result = emulate.run_firmware(board, built.elf, timeout_s=QEMU_TIMEOUT_S)
    t2 = time.monotonic()
    (work / "qemu.log").write_text(result.output)
    checked = verify.verify(result.records, model, images)
    classes = np.asarray(checked.classes)
    return {"images": len(images), "mismatches": checked.mismatches,
            "logit_mismatches": checked.logit_mismatches,
            "layer_mismatches": [list(v) for v in checked.layer_mismatches],
            "exit_code": result.exit_code, "correct": int(np.sum(classes == labels)),
            "inference_instructions": checked.inference_count,
            "stack_used_bytes": checked.stack_used,
            "flash_bytes": built.size["flash_bytes"],
            "ram_static_bytes": sum(sec["ram"] for sec in built.size["sections"]
                                    if sec["name"] != ".stack"),
            "arena_bytes": int(result.find("model")[0]["arena_bytes"]),
            "build_seconds": round(t1 - t0, 1), "qemu_seconds": round(t2 - t1, 1)}


def _fitting_batch(model: ir.Model, board, images: np.ndarray, batch: int, work: Path) -> int:
    """The largest batch (halving from ``batch``) whose firmware fits the board's budget."""
    while True:
        try:
            _build_batch(model, board, images[:batch], work / "probe")
            return batch
        except build.BudgetExceededError:
            if batch == 1:
                raise
            print(f"[agreement] {batch} vectors exceed the flash budget of {board.name}; "
                  f"trying {batch // 2}", flush=True)
            batch //= 2


def run_agreement(ir_path: Path = DEFAULT_IR, quick: bool = False, batch: int = BATCH,
                  out: Path = RESULTS_DIR / "agreement.json") -> dict:
    if not ir_path.is_file():
        raise BenchSkipped(f"no trained default model at {ir_path}: run `make deploy "
                           f"BOARD={BOARD}` first (or pass --ir <model.ir.json>)")
    model = ir.Model.load(ir_path)
    board = boards.load_board(BOARD)
    images, labels = _test_split()
    if quick:
        images, labels = images[:QUICK_IMAGES], labels[:QUICK_IMAGES]
    work = WORK_DIR / "agreement" / model.sha256()[:16]
    batch = _fitting_batch(model, board, images, min(batch, len(images)), work)
    batches = []
    for start in range(0, len(images), batch):
        stop = min(start + batch, len(images))
        record_path = work / f"batch-{start:05d}-{stop:05d}.json"
        record = read_json(record_path)
        if record is None:
            print(f"[agreement] images {start}..{stop - 1} on {board.name}", flush=True)
            record = run_batch(model, board, images[start:stop], labels[start:stop],
                               work / "fw")
            write_json(record_path, record)
        batches.append({"first": start, **record})
    doc = _summary(ir_path, model, board, batches, batch)
    write_json(out, doc)
    if doc["mismatches"] or any(b["exit_code"] != 0 for b in batches):
        raise BenchError(f"{doc['mismatches']} of {doc['images']} images differ between the "
                         f"firmware and the oracle; see {work}")
    return doc


def _firmware(board, batches: list[dict]) -> dict:
    """Memory of the batch firmwares (they differ only in the vectors, which lie in flash).
    RAM in use is static data (the activation arena included) plus the stack high-water mark,
    as the deploy report counts it."""
    static = max(b["ram_static_bytes"] for b in batches)
    stack = max(b["stack_used_bytes"] for b in batches)
    return {"flash_bytes_largest_batch": max(b["flash_bytes"] for b in batches),
            "arena_bytes": batches[0]["arena_bytes"], "ram_static_bytes": static,
            "stack_used_bytes": stack, "ram_used_bytes": static + stack,
            "budget": {"flash": board.budget.flash, "ram": board.budget.ram}}


def _summary(ir_path: Path, model: ir.Model, board, batches: list[dict], batch: int) -> dict:
    n = sum(b["images"] for b in batches)
    correct = sum(b["correct"] for b in batches)
    bad = [b["first"] + i for b in batches for i in sorted(
        set(b["logit_mismatches"]) | {v for v, _ in b["layer_mismatches"]})]
    return {
        "benchmark": "agreement", "date": today(), "machine": machine(),
        "board": board.name, "ir": str(ir_path.relative_to(ROOT) if ir_path.is_relative_to(ROOT)
                                       else ir_path),
        "ir_sha256": model.sha256(), "model_bits": model.bits(),
        "dataset": "Fashion-MNIST test split", "images": n, "batch": batch,
        "firmware_builds": len(batches), "mismatches": len(bad), "mismatched_images": bad[:100],
        "accuracy": round(correct / n, 5),
        "checked": "class, int32 logits and CRC-32 of every layer output, per image, against "
                   "pipeline.reference",
        "inference_instructions": batches[0]["inference_instructions"],
        "firmware": _firmware(board, batches),
        "seconds": {"build": round(sum(b["build_seconds"] for b in batches), 1),
                    "qemu": round(sum(b["qemu_seconds"] for b in batches), 1)},
    }
