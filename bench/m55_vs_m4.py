"""Cortex-M55 (Helium) against Cortex-M4, layer by layer, on random IRs.

The issue target: "no layer slower on M55 than on M4 for any geometry in the random-IR tests".
Each case is a whole model: :func:`pipeline.random_ir.random_model` of seeds
``FIRST_SEED, FIRST_SEED + 1, ...`` (the seeds of ``tests/emulate/test_models_in_qemu.py``
first) and the :func:`fixed_cases`, which hold the geometries the issue named (a conv of 5
groups of 7 input channels with a 7x7 kernel; a dense reading 2 packing groups). Every case is
rendered, built and run under QEMU for :data:`M4_BOARD` and :data:`M55_BOARD` exactly as a
deploy would (optimized kernels, ``-O2``), its every layer checked against the oracle
(``pipeline.verify``: a disagreeing firmware fails the benchmark), and the harness's per-layer
instruction counts of vector 0 are compared: a layer with more instructions on M55 is *slower*.
QEMU counts instructions, not cycles; the comparison is of executed instructions.

``python -m bench m55 [--models N]`` writes ``bench/results/m55_vs_m4.json``:
one row per layer (case, index, name, kind, geometry, the kernel path on each board from
:func:`pipeline.render.kernel_choices`, instructions on each board, their ratio, ``slower``) and
a summary (layers compared, slower layers, by kind and path pair).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipeline import boards as boards_mod
from pipeline import build, emulate, ir, random_ir, reference, render, verify

from . import RESULTS_DIR, WORK_DIR, BenchError, machine, today, write_json

M4_BOARD = "mps2-an386"
M55_BOARD = "mps3-an547"
FIRST_SEED = 1000  # tests/emulate/test_models_in_qemu.py draws random_model(1000 + i)
DEFAULT_MODELS = 64
VECTORS = 1  # the harness counts each layer's instructions on vector 0 only
RESULT = RESULTS_DIR / "m55_vs_m4.json"


# --- cases -----------------------------------------------------------------------------------

def _model(layers: list[ir.Layer], name: str) -> ir.Model:
    return ir.Model(tuple(layers), {"generator": "bench.m55_vs_m4", "case": name}).validate()


def _append(layers: list[ir.Layer], layer: ir.Layer) -> None:
    # The writer of an activation must pack it as its reader reads it (settle_packing).
    layers.append(layer)
    layers[:] = ir.settle_packing(layers)


def issue_conv_model(size: int = 11, out_channels: int = 35, padding: int = 0,
                     seed: int = 1) -> ir.Model:
    """thermometer (8 planes) -> 1x1 conv to 35 channels -> the issue's conv (5 groups of 7
    input channels, 7x7 kernel) -> output dense. The 1x1 conv only widens the 8 planes to the
    35 channels the grouped conv reads (a thermometer alone gives at most 3 x 16)."""
    rng = np.random.default_rng([seed, 55])
    layers: list[ir.Layer] = [random_ir.random_thermometer(rng, (size, size, 1), 8)]
    _append(layers, random_ir.random_bconv2d(rng, layers[-1].out_shape, 35, 1, 1, 0, 1, "conv1"))
    _append(layers, random_ir.random_bconv2d(rng, layers[-1].out_shape, out_channels, 7, 1,
                                             padding, 5, "conv_g5x7_7x7"))
    _append(layers, random_ir.random_bdense(rng, layers[-1].out_shape, 10, output=True,
                                            name="logits"))
    return _model(layers, "issue_conv")


def issue_dense_model(size: int = 8, channels: int = 24, hidden: int = 32,
                      seed: int = 2) -> ir.Model:
    """thermometer -> 3x3 conv -> a hidden dense and the output dense, both reading their
    input in 2 packing groups (the issue's "dense reading 2 packing lanes")."""
    rng = np.random.default_rng([seed, 55])
    layers: list[ir.Layer] = [random_ir.random_thermometer(rng, (size, size, 1), 8)]
    _append(layers, random_ir.random_bconv2d(rng, layers[-1].out_shape, channels, 3, 1, 1, 1,
                                             "conv1"))
    _append(layers, random_ir.random_bdense(rng, layers[-1].out_shape, hidden, output=False,
                                            in_pack_groups=2, name="dense_pg2"))
    _append(layers, random_ir.random_bdense(rng, layers[-1].out_shape, 10, output=True,
                                            in_pack_groups=2, name="logits_pg2"))
    return _model(layers, "issue_dense")


def fixed_cases() -> list[tuple[str, ir.Model]]:
    """The issue's geometries as whole models: the grouped 7x7 conv (valid and one-padded, 35
    and 10 output channels) and the 2-packing-group dense layers."""
    return [
        ("issue_conv_g5x7_k7", issue_conv_model()),
        ("issue_conv_g5x7_k7_pad1_out10", issue_conv_model(size=9, out_channels=10, padding=1,
                                                           seed=3)),
        ("issue_dense_pg2", issue_dense_model()),
        ("issue_dense_pg2_wide", issue_dense_model(size=6, channels=48, hidden=20, seed=4)),
    ]


def random_cases(n: int, first_seed: int = FIRST_SEED) -> list[tuple[str, ir.Model]]:
    """``n`` random models of the random-IR firmware tests, named by their seed."""
    return [(f"random_{s}", random_ir.random_model(s)) for s in range(first_seed, first_seed + n)]


# --- one layer's description -----------------------------------------------------------------

def layer_geometry(layer: ir.Layer) -> dict:
    """The geometry of ``layer`` that the kernels' path choice and cost depend on (JSON)."""
    geo = {"in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
           "in_pack_groups": int(getattr(layer, "in_pack_groups", 1))}
    for key in ("kernel", "stride", "padding", "groups", "planes", "mode", "output"):
        if hasattr(layer, key):
            value = getattr(layer, key)
            geo[key] = list(value) if isinstance(value, tuple) else value
    if layer.kind == "bconv2d":
        geo["channels_per_group"] = layer.in_shape[2] // layer.groups
    return geo


def geometry_text(kind: str, geo: dict) -> str:
    """A short human reading of :func:`layer_geometry` (for the docs' table)."""
    h, w, c = geo["in_shape"]
    if kind == "bconv2d":
        kh, kw = geo["kernel"]
        return (f"{h}x{w}x{c} g{geo['groups']} (cg {geo['channels_per_group']}) {kh}x{kw} "
                f"s{geo['stride']} p{geo['padding']} -> {geo['out_shape'][2]}")
    if kind == "bdense":
        return (f"{h}x{w}x{c} pg{geo['in_pack_groups']} -> {geo['out_shape'][2]}"
                f"{' (logits)' if geo.get('output') else ''}")
    return f"{h}x{w}x{c} pg{geo['in_pack_groups']}"


# --- comparing the two boards ----------------------------------------------------------------

def compare_layers(case: str, model: ir.Model, counts: dict[str, list[dict]],
                   paths: dict[str, list[dict]]) -> list[dict]:
    """One row per layer of ``model`` from the two boards' runs.

    ``counts[board]``: the ``layer_counts`` of :class:`pipeline.verify.Verification` (dicts with
    ``index``, ``name``, ``kind``, ``instructions``); ``paths[board]``: the ``layers`` of
    :func:`pipeline.render.kernel_choices`. Raises :class:`BenchError` when a board reports a
    different set of layers than the model has (a broken harness must not give numbers)."""
    n = len(model.layers)
    by_board = {}
    for board in (M4_BOARD, M55_BOARD):
        rows = {int(r["index"]): r for r in counts[board]}
        if sorted(rows) != list(range(n)):
            raise BenchError(f"{case} on {board}: layer records {sorted(rows)}, the model has "
                             f"{n} layers")
        for i, r in rows.items():
            if "instructions" not in r or r.get("kind") != model.layers[i].kind:
                raise BenchError(f"{case} on {board}: layer {i} record {r} is not the "
                                 f"instruction count of a {model.layers[i].kind}")
        by_board[board] = rows
    out = []
    for i, layer in enumerate(model.layers):
        m4 = int(by_board[M4_BOARD][i]["instructions"])
        m55 = int(by_board[M55_BOARD][i]["instructions"])
        out.append({"case": case, "index": i, "name": layer.name, "kind": layer.kind,
                    "geometry": layer_geometry(layer),
                    "path_m4": paths[M4_BOARD][i]["path"], "path_m55": paths[M55_BOARD][i]["path"],
                    "m4": m4, "m55": m55, "ratio": round(m55 / m4, 4) if m4 else None,
                    "slower": m55 > m4})
    return out


def summarise(rows: list[dict]) -> dict:
    """Totals over ``rows`` of :func:`compare_layers`: layers compared, slower layers, and per
    (kind, M4 path, M55 path) the layers, slower layers and the worst M55/M4 ratio."""
    groups: dict[str, dict] = {}
    for r in rows:
        key = f"{r['kind']}: {r['path_m4']} -> {r['path_m55']}"
        g = groups.setdefault(key, {"layers": 0, "slower": 0, "worst_ratio": 0.0,
                                    "m4": 0, "m55": 0})
        g["layers"] += 1
        g["slower"] += int(r["slower"])
        g["m4"] += r["m4"]
        g["m55"] += r["m55"]
        if r["ratio"] is not None:
            g["worst_ratio"] = max(g["worst_ratio"], r["ratio"])
    slower = [r for r in rows if r["slower"]]
    return {"layers": len(rows), "slower": len(slower),
            "cases": len({r["case"] for r in rows}),
            "m4_total": sum(r["m4"] for r in rows), "m55_total": sum(r["m55"] for r in rows),
            "by_path": dict(sorted(groups.items())),
            "slower_layers": [{k: r[k] for k in ("case", "name", "kind", "path_m4", "path_m55",
                                                 "m4", "m55", "ratio")}
                              | {"geometry": geometry_text(r["kind"], r["geometry"])}
                              for r in sorted(slower, key=lambda r: -(r["ratio"] or 0))]}


# --- running ---------------------------------------------------------------------------------

def run_on_board(model: ir.Model, board_name: str, work: Path) -> tuple[list[dict], list[dict]]:
    """Render, build and run ``model`` on a board under QEMU as a deploy does; returns the
    per-layer instruction counts and kernel paths. Raises :class:`BenchError` when the firmware
    disagrees with the oracle (then its counts mean nothing)."""
    board = boards_mod.load_board(board_name)
    images = random_ir.random_images(0, VECTORS, model.input_shape)
    logits = reference.run(model, images).logits
    out = render.render(model, board, work, images, logits, "opt")
    result = build.build_firmware(board, out.firmware_sources(), out.include_dirs(), work,
                                  linker_script=out.linker_script)
    run = emulate.run_firmware(board, result.elf, timeout_s=300)
    checked = verify.verify(run.records, model, images)
    if run.exit_code != 0 or checked.mismatches:
        raise BenchError(f"{work}: the firmware on {board_name} disagrees with the oracle "
                         f"(exit {run.exit_code}, layers {checked.layer_mismatches[:5]})")
    return checked.layer_counts, render.kernel_choices(model, board)["layers"]


def run_case(case: str, model: ir.Model, work_root: Path) -> list[dict]:
    """Both boards for one case (one after the other; cases run in parallel)."""
    counts, paths = {}, {}
    for board in (M4_BOARD, M55_BOARD):
        counts[board], paths[board] = run_on_board(model, board, work_root / case / board)
    return compare_layers(case, model, counts, paths)


def run_m55(models: int = DEFAULT_MODELS, workers: int = 2, out: Path = RESULT,
            work_root: Path = WORK_DIR / "m55_vs_m4") -> dict:
    """Run the fixed cases and ``models`` random models on both boards, write ``out``."""
    cases = fixed_cases() + random_cases(models)
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [(case, pool.submit(run_case, case, model, work_root)) for case, model in cases]
        rows = []
        for case, fut in futures:
            case_rows = fut.result()
            rows += case_rows
            worst = max(case_rows, key=lambda r: r["ratio"] or 0)
            print(f"[m55] {case}: {len(case_rows)} layers, "
                  f"{sum(r['slower'] for r in case_rows)} slower on M55 "
                  f"(worst M55/M4 {worst['ratio']} {worst['name']})", flush=True)
    summary = summarise(rows)
    doc = {"date": today(), "machine": machine(), "boards": {"m4": M4_BOARD, "m55": M55_BOARD},
           "unit": "instructions (QEMU -icount, vector 0)", "random_models": models,
           "first_seed": FIRST_SEED, "fixed_cases": [c for c, _ in fixed_cases()],
           "seconds": round(time.time() - t0, 1), "summary": summary, "layers": rows}
    write_json(out, doc)
    print(f"[m55] {summary['slower']} of {summary['layers']} layers run more instructions on "
          f"M55 than on M4; wrote {out}", flush=True)
    return doc
