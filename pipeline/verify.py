"""Check a firmware's structured output against the oracle, in Python.

The firmware checks its logits against the expected ones it embeds; this module does not trust
that: it recomputes everything with :mod:`pipeline.reference` and compares every vector's class
and logits, and the CRC-32 of every layer's output, exactly.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ir, reference
from .errors import PipelineError


class FirmwareMismatchError(PipelineError):
    """The firmware's outputs differ from the oracle's."""


class FirmwareOutputError(PipelineError):
    """The firmware's output is incomplete or malformed (it stopped early, or printed garbage)."""


@dataclass
class Verification:
    vectors: int
    mismatches: int  # vectors whose class, logits or any layer output differ from the oracle
    logit_mismatches: list[int] = field(default_factory=list)
    layer_mismatches: list[tuple[int, int]] = field(default_factory=list)  # (vector, layer)
    classes: list[int] = field(default_factory=list)
    layer_counts: list[dict] = field(default_factory=list)  # name, kind, instructions
    inference_count: int | None = None
    count_unit: str = "instructions"
    stack_used: int | None = None
    stack_size: int | None = None

    def to_json(self) -> dict:
        return {
            "vectors": self.vectors, "mismatches": self.mismatches,
            "logit_mismatches": self.logit_mismatches,
            "layer_mismatches": [list(v) for v in self.layer_mismatches],
            "classes": self.classes, "layers": self.layer_counts,
            "inference": self.inference_count, "count_unit": self.count_unit,
            "stack_used": self.stack_used, "stack_size": self.stack_size,
        }


def activation_crc(array: np.ndarray) -> int:
    """CRC-32 of an activation (uint32 words) or logits (int32) as little-endian bytes."""
    arr = np.asarray(array)
    dtype = "<u4" if arr.dtype == np.uint32 else "<i4"
    return zlib.crc32(np.ascontiguousarray(arr, dtype=dtype).tobytes())


def _int(rec: dict, key: str) -> int:
    try:
        return int(rec[key], 0)
    except (KeyError, ValueError) as exc:
        raise FirmwareOutputError(f"record {rec} lacks an integer {key!r}") from exc


def verify(records: list[tuple[str, dict]], model: ir.Model, images: np.ndarray) -> Verification:
    """Compare parsed ``BNN`` records with the oracle's run of ``images`` through ``model``."""
    oracle = reference.run(model, images, keep_activations=True)
    n, n_layers = len(images), len(model.layers)
    got_logits: dict[int, list[int]] = {}
    got_class: dict[int, int] = {}
    got_crc: dict[tuple[int, int], int] = {}
    result = Verification(vectors=n, mismatches=0)
    for tag, rec in records:
        if tag == "vec":
            i = _int(rec, "i")
            got_class[i] = _int(rec, "class")
            try:
                got_logits[i] = [int(v) for v in rec.get("logits", "").split(",") if v != ""]
            except ValueError:
                raise FirmwareOutputError(f"record {rec} has non-integer logits") from None
        elif tag == "act":
            got_crc[(_int(rec, "i"), _int(rec, "layer"))] = _int(rec, "crc")
        elif tag == "layer":
            unit = "cycles" if "cycles" in rec else "instructions"
            result.count_unit = unit
            result.layer_counts.append({"index": _int(rec, "index"), "name": rec.get("name"),
                                        "kind": rec.get("kind"), unit: _int(rec, unit)})
        elif tag == "inference":
            result.count_unit = "cycles" if "cycles" in rec else "instructions"
            result.inference_count = _int(rec, result.count_unit)
        elif tag == "stack":
            result.stack_used, result.stack_size = _int(rec, "used"), _int(rec, "size")
    missing = sorted(set(range(n)) - set(got_logits))
    if missing:
        raise FirmwareOutputError(f"the firmware printed no result for vectors {missing[:10]} "
                                  "(it stopped early; see qemu.log)")
    bad = set()
    for i in range(n):
        if (got_logits[i] != oracle.logits[i].tolist()
                or got_class[i] != int(oracle.classes[i])):
            result.logit_mismatches.append(i)
            bad.add(i)
        for layer in range(n_layers):
            want = activation_crc(oracle.activations[layer][i])
            if got_crc.get((i, layer)) != want:
                result.layer_mismatches.append((i, layer))
                bad.add(i)
        result.classes.append(got_class[i])
    result.mismatches = len(bad)
    return result


def emulate_and_verify(board, elf, model: ir.Model, images: np.ndarray, labels: np.ndarray,
                       log: Path, timeout_s: float) -> dict:
    """Run ``elf`` on ``board`` under QEMU, keep its console in ``log`` and check every record
    against the oracle. Returns the verification as JSON (plus ``exit_code`` and, when every
    label is known (>= 0), ``accuracy``); raises :class:`FirmwareMismatchError` naming the
    differing vectors and layers when any vector differs or the firmware exits non-zero."""
    from .atomic import write_text_atomic
    from .emulate import run_firmware

    result = run_firmware(board, elf, timeout_s=timeout_s)
    write_text_atomic(log, result.output)
    checked = verify(result.records, model, images)
    doc = checked.to_json()
    doc["exit_code"] = result.exit_code
    if (labels >= 0).all():
        doc["accuracy"] = float(np.mean(np.asarray(checked.classes) == labels))
    if checked.mismatches or result.exit_code != 0:
        raise FirmwareMismatchError(
            f"{board.name}: {checked.mismatches} of {checked.vectors} vectors differ from the "
            f"oracle (logits: {checked.logit_mismatches[:10]}, layer outputs (vector, layer): "
            f"{checked.layer_mismatches[:10]}), firmware exit code {result.exit_code}; see {log}")
    return doc
