"""Kernel benchmark: binary MACs per executed instruction of bconv2d and bdense, reference and
optimized, on every emulated Cortex-M board (QEMU exact instruction counts, not cycles), and the
default model's own layers (:data:`MODEL`), each layer and the whole model, measured with this
runtime and with the runtime of :data:`BASELINE_REV` (before the fast paths of issue "Faster
whole-model inference on Cortex-M"), so every run shows before and after.

One firmware per board holds every case of :data:`CASES` (random layer, random input and the
oracle's output for it, all seeded) and ``bench/kernels_main.c``; it calls each kernel once
between ``bnn_icount_start``/``bnn_icount_stop`` and compares the output with the oracle's word for
word. A call whose output or status is wrong makes the benchmark fail: it reports no number.
The build goes through :func:`pipeline.build.build_firmware`, so each firmware must fit its
board's flash and RAM budget (micro:bit: 16 KiB RAM); one output buffer is reused by all cases.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import boards as boards_mod
from pipeline import build, emulate, ir, reference, targets
from pipeline.ops.bdense import dense_path, sliced_blocks
from pipeline import random_ir as R
from pipeline.render import c_array, c_ident, conv_scratch_bytes
import subprocess

from . import RESULTS_DIR, ROOT, WORK_DIR, BenchError, machine, today, write_json

BOARDS = ("microbit", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547")
VARIANTS = ("ref", "opt")
OPT_LEVEL = "-O2"  # what the deploy build uses
SEED = 2024
RUNTIME_DIR = ROOT / "firmware_templates" / "runtime"
HARNESS = (ROOT / "bench" / "kernels_main.c", ROOT / "bench" / "bench_cases.h")
# The runtime before the per-geometry fast paths: the model's layers are measured with it too.
BASELINE_REV = "9a40851"


@dataclass(frozen=True)
class Case:
    """A layer geometry. kind: bconv2d | bdense_hidden | bdense_output."""
    name: str
    kind: str
    in_shape: tuple[int, int, int]
    out: int  # output channels / features
    kernel: int = 1
    padding: int = 0
    groups: int = 1
    note: str = ""


CASES = (
    Case("conv3x3_64to64_16x16", "bconv2d", (16, 16, 64), 64, 3, 1, note="mid network"),
    Case("conv3x3_32to32_g2_14x14", "bconv2d", (14, 14, 32), 32, 3, 1, 2, note="grouped"),
    Case("conv3x3_8to64_28x28", "bconv2d", (28, 28, 8), 64, 3, 1,
         note="first layer, 8 thermometer planes of a 28x28 image"),
    Case("conv1x1_128to128_7x7", "bconv2d", (7, 7, 128), 128, 1, 0, note="pointwise"),
    Case("dense_1152to10", "bdense_output", (3, 3, 128), 10, note="output layer, int32 logits"),
    Case("dense_4096to256", "bdense_hidden", (4, 4, 256), 256, note="hidden layer"),
)


# The default model geometry (the previous default, configs/fashion_glt_dense.yaml, after
# pruning to < 1 Mbit, as `make deploy` lowered it; the targets are set on it): name, layer maker, output packing groups (those the next layer reads).
# Weights and thresholds are random: the kernels' instruction counts do not depend on them.
MODEL_SEED = 7
MODEL_IMAGE = (28, 28, 1)


def model_layers(rng: np.random.Generator) -> list[tuple[object, int]]:
    """(layer, out_pack_groups) of the default model topology, in order."""
    return [
        (R.random_thermometer(rng, MODEL_IMAGE, 8, "thresholds", name="thermometer"), 1),
        (R.random_bconv2d(rng, (28, 28, 8), 32, 3, 1, 1, 1, name="conv0"), 1),
        (R.random_bmaxpool2d((28, 28, 32), 2, 2, 1, name="pool1"), 1),
        (R.random_bconv2d(rng, (14, 14, 32), 64, 3, 1, 1, 1, name="conv2"), 2),
        (R.random_bmaxpool2d((14, 14, 64), 2, 2, 2, name="pool3"), 2),
        (R.random_bconv2d(rng, (7, 7, 64), 192, 3, 1, 1, 2, name="conv4"), 1),
        (R.random_bmaxpool2d((7, 7, 192), 2, 2, 1, name="pool5"), 1),
        (R.random_bdense(rng, (3, 3, 192), 512, output=False, name="dense6"), 1),
        (R.random_bdense(rng, (1, 1, 512), 10, output=True, name="output"), 1),
    ]


def model_cases() -> list[tuple["Case", object, np.ndarray, np.ndarray, int]]:
    """One case per layer, chained: each layer's input is the oracle's output of the one before
    on a random image. Items: (case, layer, input, expected words, out_pack_groups)."""
    rng = np.random.default_rng(MODEL_SEED)
    x = R.random_images(MODEL_SEED, 1, MODEL_IMAGE)
    cases = []
    for layer, groups in model_layers(rng):
        kind = {"thermometer": "thermometer", "bconv2d": "bconv2d", "bmaxpool2d": "bmaxpool2d",
                "bdense": "bdense_output" if getattr(layer, "output", False) else "bdense_hidden"
                }[layer.kind]
        y = reference.apply_layer(layer, x, groups)
        want = np.ascontiguousarray(y[0], dtype=y.dtype)
        want = want.view(np.uint32).reshape(-1) if want.dtype == np.int32 else want.reshape(-1)
        case = Case(layer.name, kind, tuple(layer.in_shape), 0, note="default model")
        cases.append((case, layer, x[0], want.astype(np.uint32), groups))
        x = y
    return cases


# --- cases: layer, input and the oracle's output ------------------------------------------------

def make_layer(case: Case, rng: np.random.Generator) -> ir.BConv2d | ir.BDense:
    if case.kind == "bconv2d":
        return R.random_bconv2d(rng, case.in_shape, case.out, case.kernel, 1, case.padding,
                                case.groups, name=case.name)
    return R.random_bdense(rng, case.in_shape, case.out, output=case.kind == "bdense_output",
                           name=case.name)


def expected_words(layer, x: np.ndarray) -> np.ndarray:
    """The oracle's output for one input, as uint32 words (logits: their int32 bit patterns)."""
    if isinstance(layer, ir.BConv2d):
        return reference.bconv2d(layer, x, 1)[0].reshape(-1)
    out = reference.bdense(layer, x, 1)[0]
    return np.ascontiguousarray(out, dtype=np.int32).view(np.uint32).reshape(-1)


def case_data(case: Case, index: int):
    rng = np.random.default_rng([SEED, index])
    layer = make_layer(case, rng)
    x = R.random_activations(rng, 1, layer.in_shape, getattr(layer, "in_pack_groups", 1))
    return layer, x, expected_words(layer, x)


# --- C data of the cases ------------------------------------------------------------------------

def _array(ctype: str, name: str, values: np.ndarray, fmt: str = "d") -> str:
    values = np.asarray(values).reshape(-1)
    return f"static const {ctype} {name}[{len(values)}] = {{\n{c_array(values, fmt)}\n}};\n"


def _conv_c(ident: str, layer: ir.BConv2d, out_groups: int = 1) -> str:
    h, w, c = layer.in_shape
    kh, kw = layer.kernel
    return (_array("uint32_t", f"{ident}_w", layer.weights, "x")
            + _array("int32_t", f"{ident}_th", layer.threshold)
            + _array("uint8_t", f"{ident}_flip", layer.flip)
            + f"static const bnn_bconv2d_params {ident}_p = {{{h}, {w}, {c}, "
              f"{layer.out_channels}, {kh}, {kw}, {layer.stride}, {layer.padding}, "
              f"{layer.groups}, {out_groups}, {ident}_w, {ident}_th, {ident}_flip}};\n")


def _thermometer_c(ident: str, layer: ir.Thermometer, out_groups: int) -> str:
    h, w, c = layer.in_shape
    mode = {"thresholds": "BNN_THERMO_THRESHOLDS", "base2": "BNN_THERMO_BASE2"}[layer.mode]
    th = np.asarray(layer.thresholds).reshape(-1)
    text = _array("uint16_t", f"{ident}_t", th) if th.size else ""
    return text + (f"static const bnn_thermometer_params {ident}_p = {{{h}, {w}, {c}, "
                   f"{layer.planes}, {mode}, {f'{ident}_t' if th.size else '0'}, "
                   f"{out_groups}}};\n")


def _pool_c(ident: str, layer: ir.BMaxPool2d) -> str:
    h, w, c = layer.in_shape
    return (f"static const bnn_bmaxpool2d_params {ident}_p = {{{h}, {w}, {c}, {layer.kernel}, "
            f"{layer.stride}, {layer.in_pack_groups}}};\n")


def _layer_c(ident: str, layer, out_groups: int, target=None) -> str:
    if isinstance(layer, ir.BConv2d):
        return _conv_c(ident, layer, out_groups)
    if isinstance(layer, ir.Thermometer):
        return _thermometer_c(ident, layer, out_groups)
    if isinstance(layer, ir.BMaxPool2d):
        return _pool_c(ident, layer)
    return _dense_c(ident, layer, out_groups, target)


def _dense_c(ident: str, layer: ir.BDense, out_groups: int = 1, target=None) -> str:
    """The dense layer's C data, with the sliced layout as well where ``target`` (None: the
    baseline runtime, which has none) takes the sliced path for it, as the renderer decides."""
    h, w, c = layer.in_shape
    head = f"{h}, {w}, {c}, {layer.in_pack_groups}, {layer.out_features}"
    sliced = (target is not None and not layer.output
              and dense_path(layer, out_groups, target) == "sliced")
    text = _array("uint32_t", f"{ident}_w", layer.weights, "x")
    if sliced:  # both layouts: the reference kernel reads the rows, the optimized the sliced
        text += _array("uint32_t", f"{ident}_s", sliced_blocks(layer, out_groups), "x")
    if layer.output:
        return (text + _array("int32_t", f"{ident}_mult", layer.mult)
                + _array("int32_t", f"{ident}_bias", layer.bias)
                + f"static const bnn_bdense_output_params {ident}_p = {{{head}, {ident}_w, "
                  f"{ident}_mult, {ident}_bias}};\n")
    return (text + _array("int32_t", f"{ident}_th", layer.threshold)
            + _array("uint8_t", f"{ident}_flip", layer.flip)
            + f"static const bnn_bdense_hidden_params {ident}_p = {{{head}, {out_groups}, "
              f"{ident}_w, {ident}_th, {ident}_flip{', ' + ident + '_s' if sliced else ''}}};\n")


KINDS = ("bconv2d", "bdense_hidden", "bdense_output", "thermometer", "bmaxpool2d")


def _table_entry(case: Case, ident: str, n_words: int, variants: tuple[str, ...]) -> str:
    kind = "BENCH_" + case.kind.upper()
    ptrs = [f"&{ident}_p" if case.kind == k else "0" for k in KINDS]
    image = case.kind == "thermometer"
    mask = " | ".join(f"BENCH_{v.upper()}" for v in variants)
    return (f'    {{"{case.name}", {kind}, {", ".join(ptrs)}, {"0" if image else ident + "_in"}, '
            f'{ident + "_in" if image else "0"}, {ident}_out, {n_words}, {mask}}},')


def write_case_sources(work: Path, cases: list, variants: tuple[str, ...] = VARIANTS,
                       target=None) -> None:
    """bench_cases.c (layers, inputs, expected outputs, the case table) and bench_sizes.h.
    cases: (case, layer, input, expected words[, out_pack_groups]); target: the build's
    :class:`pipeline.targets.KernelTarget` (None: the baseline runtime)."""
    body, table = ['/* generated by bench/kernels.py: do not edit */', '#include "bench_cases.h"'], []
    out_max, scratch_max = 1, 4
    for case, layer, x, want, *rest in cases:
        ident = c_ident(case.name)
        body.append(_layer_c(ident, layer, rest[0] if rest else 1, target))
        if case.kind == "thermometer":
            body.append(_array("uint8_t", f"{ident}_in", x))
        else:
            body.append(_array("uint32_t", f"{ident}_in", x, "x"))
        body.append(_array("uint32_t", f"{ident}_out", want, "x"))
        table.append(_table_entry(case, ident, len(want), variants))
        out_max = max(out_max, len(want))
        if isinstance(layer, ir.BConv2d):
            scratch_max = max(scratch_max, conv_scratch_bytes(layer))
    body.append("const bench_case bench_cases[] = {\n" + "\n".join(table) + "\n};")
    body.append(f"const int32_t bench_case_count = {len(cases)};\n")
    (work / "bench_cases.c").write_text("\n".join(body))
    (work / "bench_sizes.h").write_text(
        "/* generated by bench/kernels.py */\n"
        f"#define BENCH_OUT_WORDS_MAX {out_max}\n"
        f"#define BENCH_SCRATCH_WORDS_MAX {(scratch_max + 3) // 4}\n")


# --- build, run, collect ------------------------------------------------------------------------

def _build_and_run(board, cases: list, work: Path, runtime: Path, variants: tuple[str, ...],
                   paths: bool):
    """Build one benchmark firmware (cases + runtime) for board in work and run it in QEMU."""
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for f in HARNESS:
        shutil.copyfile(f, src / f.name)
    write_case_sources(src, cases, variants, targets.for_board(board) if paths else None)
    sources = [src / "kernels_main.c", src / "bench_cases.c", *sorted(runtime.glob("*.c"))]
    result = build.build_firmware(board, sources, [src, runtime], work, opt=OPT_LEVEL,
                                  defines={"BENCH_PATHS": "1"} if paths else {})
    run = emulate.run_firmware(board, result.elf, timeout_s=600)
    (work / "qemu.log").write_text(run.output)
    return result, run


def _check_run(board, run, cases: list, variants: tuple[str, ...]) -> dict:
    calls = {(r["case"], r["variant"]): r for r in run.find("kernel")}
    failed = [f"{c}/{v} (status {r['status']})" for (c, v), r in calls.items() if r["match"] != "1"]
    missing = [f"{c.name}/{v}" for c, *_ in cases for v in variants if (c.name, v) not in calls]
    if failed or missing or run.exit_code != 0:
        raise BenchError(f"{board.name}: kernel output differs from the oracle or the call "
                         f"failed for {failed + missing} (exit {run.exit_code}); no numbers "
                         "are reported for a wrong kernel")
    return calls


def baseline_runtime(work: Path) -> Path:
    """The runtime folder of BASELINE_REV, exported from git into work/baseline_runtime."""
    dest = work / "baseline_runtime"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    listing = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", BASELINE_REV,
                              "firmware_templates/runtime/"], check=True, capture_output=True,
                             text=True).stdout.split()
    for path in listing:
        if path.endswith((".c", ".h")):
            text = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE_REV}:{path}"],
                                  check=True, capture_output=True).stdout
            (dest / Path(path).name).write_bytes(text)
    return dest


def weight_words_streamed(layer, path: str, out_pack_groups: int = 1) -> int:
    """Weight words a layer call reads from flash (model of the kernels' access pattern; on the
    M0 and M4 builds of random IRs it equals the reads measured in Unicorn by
    ``bench/flash_reads.py``, which tests/emulate/test_flash_reads.py checks): the word-per-tap conv paths read every output channel's field weights once per
    output pixel (Helium: once per block of 4 pixels); lanes and bitsliced copy each weight word
    into the RAM scratch once per call; dense layers read every row once (the sliced layout:
    each output word's block once, ``out_pack_groups`` shapes it); the thermometer its
    thresholds once (as uint16, counted in words); pools have none."""
    if isinstance(layer, ir.BConv2d):
        oh, ow, oc = layer.out_shape
        kh, kw = layer.kernel
        n = kh * kw * ((layer.in_shape[2] // layer.groups + 31) // 32)
        if path in ("lanes", "bitsliced", "bitsliced_mve"):
            return oc * n
        if path == "mve":
            return -(-oh * ow // 4) * oc * n
        return oh * ow * oc * n
    if isinstance(layer, ir.BDense):
        if path == "sliced":  # each output word's block once: its weights, limits and invert
            return int(sliced_blocks(layer, out_pack_groups).size)
        return int(np.asarray(layer.weights).size)
    if isinstance(layer, ir.Thermometer):
        return -(-int(np.asarray(layer.thresholds).size) // 2)
    return 0


def _model_record(board, run_now, run_before, cases: list) -> dict:
    now = _check_run(board, run_now, cases, ("opt",))
    before = _check_run(board, run_before, cases, ("opt",))
    layers = {}
    for case, layer, _, want, groups in cases:
        n, b = (int(c[(case.name, "opt")]["instructions"]) for c in (now, before))
        row = {"kind": case.kind, "instructions": n, "instructions_before": b,
               "path": now[(case.name, "opt")].get("path", "-")}
        row["weight_words_streamed"] = weight_words_streamed(layer, row["path"], groups)
        if getattr(layer, "macs", 0):
            row["macs"] = layer.macs
            row["macs_per_instruction"] = round(layer.macs / n, 3)
            row["macs_per_instruction_before"] = round(layer.macs / b, 3)
        if case.kind == "thermometer":
            pixels = layer.in_shape[0] * layer.in_shape[1]
            row["instructions_per_pixel"] = round(n / pixels, 2)
            row["instructions_per_pixel_before"] = round(b / pixels, 2)
        layers[case.name] = row
    total = sum(r["instructions"] for r in layers.values())
    total_before = sum(r["instructions_before"] for r in layers.values())
    macs = sum(getattr(layer, "macs", 0) for _, layer, *_ in cases)
    return {"layers": layers, "instructions": total, "instructions_before": total_before,
            "weight_words_streamed": sum(r["weight_words_streamed"] for r in layers.values()),
            "macs": macs, "macs_per_instruction": round(macs / total, 3),
            "macs_per_instruction_before": round(macs / total_before, 3)}


def run_board(board_name: str, cases: list, work: Path, model: list | None = None,
              baseline: Path | None = None, cycle_model: bool = True) -> dict:
    """Build and run the benchmark firmware(s) on one board; returns its JSON record."""
    board = boards_mod.load_board(board_name)
    result, run = _build_and_run(board, cases, work / board_name, RUNTIME_DIR, VARIANTS, True)
    record = _board_record(board, result.size, run, cases)
    if model:
        built, now = _build_and_run(board, model, work / board_name / "model", RUNTIME_DIR,
                                    ("opt",), True)
        _, before = _build_and_run(board, model, work / board_name / "model_before",
                                   baseline, ("opt",), False)
        record["model"] = _model_record(board, now, before, model)
        if cycle_model and board_name in CYCLE_MODEL_BOARDS:
            add_cycle_model(board, built.elf, now, record["model"])
    return record


# --- cycle model (bench/cycles.py) of the model's layers, Cortex-M4 only -----------------------

# The cycle model's timings are the Cortex-M4's (bench/cycles.py); other cores are not modelled.
CYCLE_MODEL_BOARDS = ("mps2-an386",)


def add_cycle_model(board, elf: Path, run, record: dict) -> None:
    """Re-run the model firmware with QEMU's instruction trace and add the modelled Cortex-M4
    cycles (a model: bench/cycles.py) to ``record`` (the board's "model" record): per layer
    ``cycles_model``, ``cpi_model`` and the cycle breakdown, and the whole model's sum. The
    trace's instruction count of every layer must equal the counter's, else BenchError."""
    from . import cycles
    traced = cycles.trace_firmware(board, elf)
    calls = traced.find("kernel")
    counted = [int(r["instructions"]) for r in run.find("kernel")]
    if traced.exit_code != 0 or [int(r["instructions"]) for r in calls] != counted:
        raise BenchError(f"{board.name}: the traced run differs from the plain one "
                         f"(exit {traced.exit_code}); no cycle model is reported")
    try:
        cycles.check_regions(traced.regions, counted, board.name)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    names = [r["case"] for r in run.find("kernel")]
    for name, region in zip(names, traced.regions):
        row = record["layers"][name]
        info = region.as_dict()
        row["cycles_model"] = info["cycles_model"]
        row["cpi_model"] = info["cpi_model"]
        row["cycle_model_detail"] = {k: info[k] for k in ("taken_branches", "pipelined_loads",
                                                          "cycles_by_class")}
    total = sum(r.cycles for r in traced.regions)
    record["cycles_model"] = total
    record["cpi_model"] = round(total / record["instructions"], 3)
    record["cycle_model_note"] = cycles.MODEL_NOTE


def _board_record(board, size: dict, run, cases: list) -> dict:
    calls = _check_run(board, run, cases, VARIANTS)
    rows = {}
    for case, layer, _, _ in cases:
        counts = {v: int(calls[(case.name, v)]["instructions"]) for v in VARIANTS}
        rows[case.name] = {
            "instructions": counts,
            "macs_per_instruction": {v: round(layer.macs / n, 3) for v, n in counts.items()},
            "speedup_opt_over_ref": round(counts["ref"] / counts["opt"], 3),
            "path": calls[(case.name, "opt")].get("path", "-"),
        }
    stack = run.find("stack")[0]
    return {"board": board.name, "cpu": board.cpu, "fpu": board.fpu,
            "firmware": {"flash_bytes": size["flash_bytes"], "ram_bytes": size["ram_bytes"],
                         "budget": size["budget"], "stack_used_bytes": int(stack["used"])},
            "outputs_match_oracle": True, "cases": rows}


def run_kernels(boards: tuple[str, ...] = BOARDS, out: Path = RESULTS_DIR / "kernels.json",
                cycle_model: bool = True) -> dict:
    """Run every board; ``cycle_model``: also trace the model firmware on
    :data:`CYCLE_MODEL_BOARDS` for the modelled cycles (about 30 s more per board)."""
    cases = [(c, *case_data(c, i)) for i, c in enumerate(CASES)]
    model = model_cases()
    work = WORK_DIR / "kernels"
    baseline = baseline_runtime(work)
    results = []
    for name in boards:
        print(f"[kernels] {name}: build and run {len(cases)} cases x {len(VARIANTS)} variants, "
              f"the default model's {len(model)} layers now and at {BASELINE_REV}", flush=True)
        results.append(run_board(name, cases, work, model, baseline, cycle_model))
    doc = {
        "benchmark": "kernels", "date": today(), "machine": machine(),
        "measure": "binary MACs per executed instruction (QEMU -icount exact instruction counts, "
                   "not cycles), one call per kernel, outputs checked against the oracle",
        "compiler": f"arm-none-eabi-gcc {OPT_LEVEL} (the deploy build's flags)",
        "seed": SEED,
        "baseline_runtime": BASELINE_REV,
        "model": {"note": "the issue's default model's layers (configs/fashion_glt_dense.yaml "
                          f"topology after pruning, the default until 2026-11-30; random weights, seed {MODEL_SEED}), one call each, chained "
                          "inputs; whole model = sum of the layer calls",
                  "layers": [{"name": c.name, "kind": c.kind, "in_shape": list(c.in_shape),
                              "binary_macs": getattr(layer, "macs", 0)}
                             for c, layer, *_ in model]},
        "cases": [{"name": c.name, "kind": c.kind, "in_shape": list(c.in_shape), "out": c.out,
                   "kernel": c.kernel, "padding": c.padding, "groups": c.groups,
                   "binary_macs": layer.macs, "note": c.note} for c, layer, _, _ in cases],
        "boards": results,
    }
    write_json(out, doc)
    return doc
