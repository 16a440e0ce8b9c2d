"""Our first layer against CMSIS-NN's int8 first layer, on Cortex-M4 and Cortex-M55 (issue 13).

The issue's Cortex-M55 target: "the first layer beats the int8 figure": an int8 CNN of the same
topology built with CMSIS-NN. This benchmark measures both sides in QEMU with the same
instruction counter (``firmware_templates/platform/icount.c``, exact executed instructions):

* **int8**: one call of CMSIS-NN's ``arm_convolve_wrapper_s8`` (what TFLite Micro's CMSIS-NN
  kernels run for an int8 Conv2D) on a 28 x 28 x 1 int8 image, C 3 x 3 filters, stride 1, "same"
  padding, per-channel requantisation with the ReLU clamp (``bench/int8_conv_main.c``), built
  from a CMSIS-NN checkout the user passes (``--cmsis-nn PATH``: ``git clone
  https://github.com/ARM-software/CMSIS-NN``; nothing of it is committed here) at ``-O2`` (the
  deploy's level) and ``-O3``. Its output CRC must be the same on both boards and levels
  (CMSIS-NN's DSP path on the M4 and Helium path on the M55 are bit-exact to each other), else
  :class:`bench.BenchError`. One bare call: TFLite Micro's per-operator overhead is not in it.
* **ours**: the thermometer and the first binary convolution (the same C output channels,
  3 x 3, stride 1, one-padding, threshold compare) of each zoo model, from its deploy on the
  board (``python -m pipeline deploy --ir zoo/<model>/model.ir.json``; the firmware's outputs
  checked against the oracle), built at -O2 only; the harness's per-layer counts include the
  model's layer dispatch. Both asymmetries favour the int8 side.

``python -m bench int8 --cmsis-nn PATH`` writes ``bench/results/int8_first_layer.json``.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline import boards as boards_mod
from pipeline import build, emulate, ir
from pipeline.errors import PipelineError

from . import (RESULTS_DIR, ROOT, WORK_DIR, BenchError, deploy_ir, machine, read_json,
               today, write_json)

RESULT = RESULTS_DIR / "int8_first_layer.json"
WORK = WORK_DIR / "int8"
ZOO_DIR = ROOT / "zoo"
HARNESS = Path(__file__).with_name("int8_conv_main.c")
BOARDS = ("mps2-an386", "mps3-an547")
OPT_LEVELS = ("-O2", "-O3")
IMAGE = (28, 28)
#: CMSIS-NN folders the int8 convolution needs (the linker drops the rest).
CMSIS_SOURCES = ("ConvolutionFunctions", "NNSupportFunctions")
#: Their float kernels (file names ending so) need more of CMSIS than the int8 path: left out.
FLOAT_SUFFIXES = ("_f16", "_f32", "_flt")


class CmsisNnMissing(BenchError):
    """--cmsis-nn does not point at a CMSIS-NN checkout."""


def check_cmsis(path: Path | None) -> Path:
    """``path`` if it is a CMSIS-NN checkout (``Include/arm_nnfunctions.h`` and the source
    folders), else :class:`CmsisNnMissing` naming what to pass."""
    if path is None:
        raise CmsisNnMissing("--cmsis-nn PATH is required: a checkout of "
                             "https://github.com/ARM-software/CMSIS-NN")
    path = Path(path)
    need = [path / "Include" / "arm_nnfunctions.h",
            *[path / "Source" / d for d in CMSIS_SOURCES]]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        raise CmsisNnMissing(f"--cmsis-nn {path}: not a CMSIS-NN checkout (missing "
                             f"{', '.join(missing)})")
    return path


def cmsis_version(path: Path) -> str:
    """The checkout's commit (git) or "unknown"."""
    proc = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %cs"],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def check_zoo(zoo_dir: Path) -> list[Path]:
    """The zoo's IR files whose first layers this benchmark compares (a thermometer on a 28x28
    image, then a 3x3 conv, stride 1, one-padding, one group), or :class:`BenchError` when no
    model has them."""
    models = [p for p in sorted(Path(zoo_dir).glob("*/model.ir.json"))
              if comparable(ir.Model.load(p))]
    if not models:
        raise BenchError(f"--zoo {zoo_dir}: no model there starts with a thermometer on a 28x28 "
                         "image and a 3x3 conv (stride 1, padding 1, one group)")
    return models


def comparable(model: ir.Model) -> bool:
    """Whether ``model`` starts as the int8 harness's layer does (see :func:`check_zoo`)."""
    if len(model.layers) < 2 or model.layers[0].kind != "thermometer":
        return False
    conv = model.layers[1]
    return (tuple(model.input_shape[:2]) == IMAGE and conv.kind == "bconv2d" and
            tuple(conv.kernel) == (3, 3) and conv.groups == 1 and conv.stride == 1 and
            conv.padding == 1)


def int8_conv(board_name: str, cmsis: Path, out_channels: int, opt: str) -> dict:
    """Build and run the int8 first layer (28x28x1 -> ``out_channels``) for ``board_name`` at
    ``opt``; returns ``instructions`` (QEMU, one call), ``crc`` (CRC-32 of the int8 output,
    hex) and ``scratch_bytes`` (CMSIS-NN's buffer query). :class:`BenchError` when the build,
    the run or the call fails."""
    board = boards_mod.load_board(board_name)
    sources = [HARNESS] + sorted(p for d in CMSIS_SOURCES
                                 for p in (cmsis / "Source" / d).glob("*.c")
                                 if not p.stem.endswith(FLOAT_SUFFIXES))
    work = WORK / f"int8-c{out_channels}{opt}-{board_name}"
    try:
        result = build.build_firmware(
            board, sources, [cmsis / "Include", cmsis / "Include" / "Internal"], work, opt=opt,
            defines={"INT8_H": str(IMAGE[0]), "INT8_W": str(IMAGE[1]),
                     "INT8_COUT": str(out_channels)},
            extra_cflags=["-std=gnu11", "-Wno-unused-parameter", "-Wno-sign-compare"])
        run = emulate.run_firmware(board, result.elf, timeout_s=300)
    except PipelineError as exc:
        raise BenchError(f"int8 conv on {board_name} ({work}): {exc}") from None
    recs = run.find("int8")
    if run.exit_code != 0 or not recs or recs[0].get("status") != "0":
        raise BenchError(f"int8 conv on {board_name}: exit {run.exit_code}, records {recs}")
    r = recs[0]
    return {"instructions": int(r["instructions"]), "crc": r["crc"],
            "scratch_bytes": int(r["buffer"])}


def ours(ir_path: Path, board_name: str, log=print) -> dict:
    """The thermometer and first conv of a zoo model on ``board_name``, from its deploy:
    ``thermometer``, ``conv`` and their sum ``instructions`` (QEMU, vector 0) and the conv's
    ``conv_path``. :class:`BenchError` when the deploy fails or disagrees with the oracle."""
    report = deploy_ir(ir_path, board_name, WORK, "int8", log)
    first = report["layers"][:2]
    if [l["kind"] for l in first] != ["thermometer", "bconv2d"]:
        raise BenchError(f"{ir_path}: the first layers are {[l['kind'] for l in first]}, not "
                         "a thermometer and a conv")
    return {"thermometer": first[0]["instructions"], "conv": first[1]["instructions"],
            "conv_path": first[1].get("path"),
            "instructions": first[0]["instructions"] + first[1]["instructions"]}


def run_int8(cmsis: Path | None, zoo_dir: Path = ZOO_DIR, out: Path = RESULT,
             log=print) -> dict:
    """Every zoo model's first layer against the int8 one of the same width, on BOARDS."""
    cmsis = check_cmsis(cmsis)
    rows = []
    for ir_path in check_zoo(zoo_dir):  # BenchError before anything is written
        model = ir.Model.load(ir_path)
        conv = model.layers[1]
        cout = conv.out_channels
        row = {"model": ir_path.parent.name, "out_channels": cout,
               "planes": model.layers[0].planes, "binary_macs": conv.macs,
               "int8_macs": IMAGE[0] * IMAGE[1] * cout * 9, "boards": {}}
        crcs = set()
        for b in BOARDS:
            cell = {"ours": ours(ir_path, b, log)}
            for opt in OPT_LEVELS:
                log(f"[int8] CMSIS-NN conv 28x28x1 -> {cout} on {b} at {opt}")
                r = int8_conv(b, cmsis, cout, opt)
                crcs.add(r["crc"])
                cell[f"int8{opt}"] = r
            best = min(cell[f"int8{o}"]["instructions"] for o in OPT_LEVELS)
            cell["ours_over_best_int8"] = round(cell["ours"]["instructions"] / best, 3)
            row["boards"][b] = cell
        if len(crcs) != 1:
            raise BenchError(f"int8 conv -> {cout}: output CRCs differ between boards / "
                             f"levels {sorted(crcs)}: a broken build gives no numbers")
        rows.append(row)
    doc = {"benchmark": "int8_first_layer", "date": today(), "machine": machine(),
           "cmsis_nn": cmsis_version(cmsis), "boards": list(BOARDS),
           "measure": "instructions of one first-layer call (QEMU -icount exact counts, not "
                      "cycles); ours = thermometer + first binary conv of the deployed zoo "
                      "model, int8 = CMSIS-NN arm_convolve_wrapper_s8 on a 28x28x1 int8 image",
           "results": rows}
    write_json(out, doc)
    return doc
