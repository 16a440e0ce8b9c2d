"""Kernel benchmark: binary MACs per executed instruction of bconv2d and bdense, reference and
optimized, on every emulated Cortex-M board (QEMU exact instruction counts, not cycles).

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
from pipeline import build, emulate, ir, reference
from pipeline import random_ir as R
from pipeline.render import c_array, c_ident, conv_scratch_bytes

from . import RESULTS_DIR, ROOT, WORK_DIR, BenchError, machine, today, write_json

BOARDS = ("microbit", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547")
VARIANTS = ("ref", "opt")
OPT_LEVEL = "-O2"  # what the deploy build uses
SEED = 2024
RUNTIME_DIR = ROOT / "firmware_templates" / "runtime"
HARNESS = (ROOT / "bench" / "kernels_main.c", ROOT / "bench" / "bench_cases.h")


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


def _conv_c(ident: str, layer: ir.BConv2d) -> str:
    h, w, c = layer.in_shape
    kh, kw = layer.kernel
    return (_array("uint32_t", f"{ident}_w", layer.weights, "x")
            + _array("int32_t", f"{ident}_th", layer.threshold)
            + _array("uint8_t", f"{ident}_flip", layer.flip)
            + f"static const bnn_bconv2d_params {ident}_p = {{{h}, {w}, {c}, "
              f"{layer.out_channels}, {kh}, {kw}, {layer.stride}, {layer.padding}, "
              f"{layer.groups}, 1, {ident}_w, {ident}_th, {ident}_flip}};\n")


def _dense_c(ident: str, layer: ir.BDense) -> str:
    h, w, c = layer.in_shape
    head = f"{h}, {w}, {c}, {layer.in_pack_groups}, {layer.out_features}"
    text = _array("uint32_t", f"{ident}_w", layer.weights, "x")
    if layer.output:
        return (text + _array("int32_t", f"{ident}_mult", layer.mult)
                + _array("int32_t", f"{ident}_bias", layer.bias)
                + f"static const bnn_bdense_output_params {ident}_p = {{{head}, {ident}_w, "
                  f"{ident}_mult, {ident}_bias}};\n")
    return (text + _array("int32_t", f"{ident}_th", layer.threshold)
            + _array("uint8_t", f"{ident}_flip", layer.flip)
            + f"static const bnn_bdense_hidden_params {ident}_p = {{{head}, 1, {ident}_w, "
              f"{ident}_th, {ident}_flip}};\n")


def _table_entry(case: Case, ident: str, n_words: int) -> str:
    kind = {"bconv2d": "BENCH_BCONV2D", "bdense_hidden": "BENCH_BDENSE_HIDDEN",
            "bdense_output": "BENCH_BDENSE_OUTPUT"}[case.kind]
    ptrs = [f"&{ident}_p" if case.kind == k else "0"
            for k in ("bconv2d", "bdense_hidden", "bdense_output")]
    return (f'    {{"{case.name}", {kind}, {", ".join(ptrs)}, {ident}_in, {ident}_out, '
            f"{n_words}}},")


def write_case_sources(work: Path, cases: list[tuple[Case, object, np.ndarray, np.ndarray]]) -> None:
    """bench_cases.c (layers, inputs, expected outputs, the case table) and bench_sizes.h."""
    body, table = ['/* generated by bench/kernels.py: do not edit */', '#include "bench_cases.h"'], []
    out_max, scratch_max = 1, 4
    for case, layer, x, want in cases:
        ident = c_ident(case.name)
        body.append(_conv_c(ident, layer) if isinstance(layer, ir.BConv2d) else _dense_c(ident, layer))
        body.append(_array("uint32_t", f"{ident}_in", x, "x"))
        body.append(_array("uint32_t", f"{ident}_out", want, "x"))
        table.append(_table_entry(case, ident, len(want)))
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

def run_board(board_name: str, cases: list, work: Path) -> dict:
    """Build and run the benchmark firmware on one board; returns its JSON record."""
    board = boards_mod.load_board(board_name)
    src = work / board_name / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for f in HARNESS:
        shutil.copyfile(f, src / f.name)
    write_case_sources(src, cases)
    sources = [src / "kernels_main.c", src / "bench_cases.c", *sorted(RUNTIME_DIR.glob("*.c"))]
    result = build.build_firmware(board, sources, [src, RUNTIME_DIR], work / board_name,
                                  opt=OPT_LEVEL)
    run = emulate.run_firmware(board, result.elf, timeout_s=600)
    (work / board_name / "qemu.log").write_text(run.output)
    return _board_record(board, result.size, run, cases)


def _board_record(board, size: dict, run, cases: list) -> dict:
    calls = {(r["case"], r["variant"]): r for r in run.find("kernel")}
    failed = [f"{c}/{v} (status {r['status']})" for (c, v), r in calls.items() if r["match"] != "1"]
    missing = [f"{c.name}/{v}" for c, *_ in cases for v in VARIANTS if (c.name, v) not in calls]
    if failed or missing or run.exit_code != 0:
        raise BenchError(f"{board.name}: kernel output differs from the oracle or the call "
                           f"failed for {failed + missing} (exit {run.exit_code}); no numbers "
                           "are reported for a wrong kernel")
    rows = {}
    for case, layer, _, _ in cases:
        counts = {v: int(calls[(case.name, v)]["instructions"]) for v in VARIANTS}
        rows[case.name] = {
            "instructions": counts,
            "macs_per_instruction": {v: round(layer.macs / n, 3) for v, n in counts.items()},
            "speedup_opt_over_ref": round(counts["ref"] / counts["opt"], 3),
        }
    stack = run.find("stack")[0]
    return {"board": board.name, "cpu": board.cpu, "fpu": board.fpu,
            "firmware": {"flash_bytes": size["flash_bytes"], "ram_bytes": size["ram_bytes"],
                         "budget": size["budget"], "stack_used_bytes": int(stack["used"])},
            "outputs_match_oracle": True, "cases": rows}


def run_kernels(boards: tuple[str, ...] = BOARDS, out: Path = RESULTS_DIR / "kernels.json") -> dict:
    cases = [(c, *case_data(c, i)) for i, c in enumerate(CASES)]
    work = WORK_DIR / "kernels"
    results = []
    for name in boards:
        print(f"[kernels] {name}: build and run {len(cases)} cases x {len(VARIANTS)} variants",
              flush=True)
        results.append(run_board(name, cases, work))
    doc = {
        "benchmark": "kernels", "date": today(), "machine": machine(),
        "measure": "binary MACs per executed instruction (QEMU -icount exact instruction counts, "
                   "not cycles), one call per kernel, outputs checked against the oracle",
        "compiler": f"arm-none-eabi-gcc {OPT_LEVEL} (the deploy build's flags)",
        "seed": SEED,
        "cases": [{"name": c.name, "kind": c.kind, "in_shape": list(c.in_shape), "out": c.out,
                   "kernel": c.kernel, "padding": c.padding, "groups": c.groups,
                   "binary_macs": layer.macs, "note": c.note} for c, layer, _, _ in cases],
        "boards": results,
    }
    write_json(out, doc)
    return doc
