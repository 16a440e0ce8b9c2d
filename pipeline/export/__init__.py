"""`python -m pipeline export`: IR -> ``model.onnx`` + ``model.tflite`` (LCE ops), each checked
exactly against the oracle (:mod:`pipeline.reference`), and ``export.json`` describing both.

The IR is the contract: exports are built from it, so they work for trained and random models
alike. ``export.json`` is written only after both files agree with the oracle on every image
(logits equal as int32, classes equal); otherwise :class:`ExportMismatchError` is raised, the
rejected files are not installed and any older ``export.json`` is removed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from .. import ir
from ..atomic import writable_dir
from ..errors import PipelineError
from . import onnx as onnx_export
from . import tflite as tflite_export
from .onnx import export_onnx, run_onnx
from .tflite import TFLiteOpsError, export_tflite, run_tflite

__all__ = ["ExportMismatchError", "ExportInputError", "TFLiteOpsError", "export_all",
           "export_onnx", "export_tflite", "run_onnx", "run_tflite", "add_arguments", "run"]

ONNX_FILE, TFLITE_FILE, REPORT_FILE = "model.onnx", "model.tflite", "export.json"
DEFAULT_IMAGES, DEFAULT_SEED = 1000, 0


class ExportMismatchError(PipelineError):
    """An exported model disagrees with the oracle on some image."""


class ExportInputError(PipelineError, ValueError):
    """The images given to the export check do not fit the model."""


# --- checking ------------------------------------------------------------------------------------
def agreement(logits: np.ndarray, classes: np.ndarray, oracle,
              labels: np.ndarray | None = None) -> dict:
    """Per-image agreement counts of one runtime's outputs with the oracle's (exact), and the
    runtime's own accuracy when the images' labels are known."""
    n = len(oracle.classes)
    logits_ok = (logits.dtype == np.int32 and logits.shape == oracle.logits.shape)
    rows = np.all(logits == oracle.logits, axis=1) if logits_ok else np.zeros(n, bool)
    cls = (classes.reshape(-1) == oracle.classes) if classes.size == n else np.zeros(n, bool)
    bad = np.flatnonzero(~(rows & cls))
    out = {"images": n, "logits_equal": int(rows.sum()), "classes_equal": int(cls.sum()),
           "logits_dtype": str(logits.dtype), "first_mismatch": int(bad[0]) if bad.size else None}
    if labels is not None and classes.size == n:
        out["accuracy"] = float(np.mean(classes.reshape(-1) == labels))
    return out


def _check_images(model: ir.Model, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    shape = tuple(model.input_shape)
    if images.ndim == 3 and shape[2] == 1:
        images = images[..., None]
    if images.dtype != np.uint8 or images.shape[1:] != shape or len(images) == 0:
        dims = ", ".join(map(str, shape))
        raise ExportInputError(f"images must be uint8[N, {dims}] with N >= 1, "
                               f"got {images.dtype}{list(images.shape)}; pass images of the "
                               "model's input shape")
    return images


def _file_entry(path: Path, histogram: dict[str, int]) -> dict:
    data = path.read_bytes()
    return {"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "op_histogram": histogram}


def _versions() -> dict[str, str]:
    names = ("onnx", "onnxruntime", "tensorflow-cpu", "tf-keras", "larq", "larq-compute-engine")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def export_all(model: ir.Model, out_dir: str | os.PathLike, images: np.ndarray,
               images_source: str = "given array", labels: np.ndarray | None = None) -> dict:
    """Export ``model`` to ``out_dir``/model.onnx and model.tflite, check both against the oracle
    on ``images`` (uint8 NHWC; with ``labels``, also each runtime's accuracy), write export.json
    and return its content.

    Raises :class:`ExportMismatchError` (and installs nothing, removing any old export.json) when
    either runtime disagrees with the oracle on any image."""
    from .. import reference

    model.validate()
    images = _check_images(model, images)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / REPORT_FILE
    report_path.unlink(missing_ok=True)  # no export.json may outlive a failed check
    oracle = reference.run(model, images)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export.") as tmp:
        onnx_tmp = export_onnx(model, Path(tmp) / ONNX_FILE)
        tflite_tmp = export_tflite(model, Path(tmp) / TFLITE_FILE)
        checks = {"onnx": agreement(*run_onnx(onnx_tmp, images), oracle, labels),
                  "tflite": agreement(*run_tflite(tflite_tmp, images), oracle, labels)}
        failed = {k: v for k, v in checks.items()
                  if v["logits_equal"] != v["images"] or v["classes_equal"] != v["images"]}
        if failed:
            raise ExportMismatchError(
                "exports disagree with the oracle: " + "; ".join(
                    f"{k}: logits equal on {v['logits_equal']}/{v['images']}, classes on "
                    f"{v['classes_equal']}/{v['images']}, first bad image {v['first_mismatch']}"
                    for k, v in failed.items())
                + "; nothing was installed. This is a bug in pipeline/export: report it with "
                "the IR")
        files = {"onnx": _file_entry(onnx_tmp, onnx_export.op_histogram(onnx_tmp)),
                 "tflite": _file_entry(tflite_tmp,
                                       tflite_export.op_histogram(tflite_tmp.read_bytes()))}
        os.replace(onnx_tmp, out_dir / ONNX_FILE)
        os.replace(tflite_tmp, out_dir / TFLITE_FILE)
    report = {
        "ir_sha256": model.sha256(),
        "files": files,
        "agreement": {"images": len(images), "images_source": images_source, **checks},
        "layers": tflite_export.layer_report(model),
        "onnx": {"opset": onnx_export.OPSET,
                 "checker": "onnx.checker.check_model(full_check=True)"},
        "tflite": {"lce_bconv2d_expected": tflite_export.expected_bconv_ops(model),
                   "interpreter": "larq_compute_engine Interpreter(use_indirect_bgemm=True)"},
        "versions": _versions(),
    }
    fd, tmp_json = tempfile.mkstemp(dir=out_dir, prefix=REPORT_FILE + ".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp_json, report_path)
    return report


# --- the verb ------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ir", type=Path, required=True, metavar="model.ir.json",
                        help="the IR to export (its .npz lies beside it)")
    parser.add_argument("--images", type=_positive_int, default=DEFAULT_IMAGES, metavar="N",
                        help=f"number of seeded random uint8 images to check on "
                             f"(default {DEFAULT_IMAGES})")
    parser.add_argument("--images-npz", type=Path, default=None, metavar="PATH",
                        help="check on these images instead (array 'images', or the only array, "
                             "uint8 [N, H, W(, C)]); --images N takes the first N")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the random images")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: the IR's folder)")


def load_images(args: argparse.Namespace, model: ir.Model) -> tuple[np.ndarray, str]:
    """The check images the CLI arguments name, and a description of where they came from."""
    if args.images_npz is None:
        from ..random_ir import random_images

        return (random_images(args.seed, args.images, model.input_shape),
                f"{args.images} random uint8 images, seed {args.seed}")
    try:
        with np.load(args.images_npz) as npz:
            key = "images" if "images" in npz.files else (npz.files[0] if len(npz.files) == 1
                                                          else None)
            if key is None:
                raise ExportInputError(f"{args.images_npz}: holds {npz.files}; name the image "
                                       "array 'images'")
            images = npz[key][:args.images]
    except (OSError, ValueError) as exc:
        if isinstance(exc, PipelineError):
            raise
        raise ExportInputError(f"{args.images_npz}: cannot read an npz of images ({exc})") from exc
    return images, f"first {len(images)} images of {args.images_npz}"


def run(args: argparse.Namespace) -> int:
    from ..ir_cli import load

    model = load(args.ir)
    out_dir = writable_dir(args.out or args.ir.parent)
    images, source = load_images(args, model)
    report = export_all(model, out_dir, images, source)
    for kind in ("onnx", "tflite"):
        f, a = report["files"][kind], report["agreement"][kind]
        ops = ", ".join(f"{k} {v}" for k, v in f["op_histogram"].items())
        print(f"{out_dir / f['file']}: {f['bytes']:,} bytes; agrees with the oracle on "
              f"{a['classes_equal']}/{a['images']} classes, {a['logits_equal']}/{a['images']} "
              f"logits; ops: {ops}")
    print(f"{out_dir / REPORT_FILE}: written")
    return 0
